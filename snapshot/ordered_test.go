package snapshot

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestOrderedKeepsKeyOrder(t *testing.T) {
	var o Ordered[TownID, int]
	if err := json.Unmarshal([]byte(`{"10": 1, "2": 2, "1": 3}`), &o); err != nil {
		t.Fatal(err)
	}
	if got, want := o.Keys(), []TownID{"10", "2", "1"}; !slices.Equal(got, want) {
		t.Errorf("Keys() = %q, want %q", got, want)
	}
	if v, ok := o.Get("2"); v != 2 || !ok {
		t.Errorf("Get(2) = %d, %v, want 2, true", v, ok)
	}
	if _, ok := o.Get("3"); ok {
		t.Errorf("Get(3) found a value, want none")
	}
	if k, v := o.At(2); k != "1" || v != 3 {
		t.Errorf("At(2) = %q, %d, want 1, 3", k, v)
	}
}

func TestOrderedDuplicateKeys(t *testing.T) {
	// Like the Python dictionaries of the old tool: first position, last value.
	var o Ordered[string, string]
	if err := json.Unmarshal([]byte(`{"a":"1","b":"2","a":"3"}`), &o); err != nil {
		t.Fatal(err)
	}
	got, _ := o.MarshalJSON()
	if want := `{"a":"3","b":"2"}`; string(got) != want {
		t.Errorf("after duplicate keys, object = %s, want %s", got, want)
	}
}

func TestOrderedManyKeys(t *testing.T) {
	// Past linearSearchMax keys Get goes through an index; both paths must
	// agree, including when keys repeat.
	var o Ordered[string, int]
	for round := 0; round < 2; round++ {
		for i := 0; i < 40; i++ {
			o.Set(fmt.Sprint(i), i+100*round)
		}
	}
	if o.Len() != 40 {
		t.Fatalf("Len() = %d, want 40", o.Len())
	}
	for i := 0; i < 40; i++ {
		k, v := o.At(i)
		if k != fmt.Sprint(i) || v != i+100 {
			t.Errorf("At(%d) = %q, %d, want %d, %d", i, k, v, i, i+100)
		}
		if got, ok := o.Get(k); got != i+100 || !ok {
			t.Errorf("Get(%q) = %d, %v, want %d, true", k, got, ok, i+100)
		}
	}
	if o.Has("40") {
		t.Errorf("Has(40) = true, want false")
	}
}

func TestOrderedRoundTrip(t *testing.T) {
	in := `{"z":{"b":[1,2],"a":null},"y":{}}`
	var o Ordered[string, Ordered[string, json.RawMessage]]
	if err := json.Unmarshal([]byte(in), &o); err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != in {
		t.Errorf("round trip = %s, want %s", got, in)
	}
}

func TestOrderedAllStopsEarly(t *testing.T) {
	var o Ordered[string, int]
	for i := 0; i < 5; i++ {
		o.Set(fmt.Sprint(i), i)
	}
	var seen []string
	for k := range o.All() {
		seen = append(seen, k)
		if k == "2" {
			break
		}
	}
	if want := []string{"0", "1", "2"}; !slices.Equal(seen, want) {
		t.Errorf("All() until break = %q, want %q", seen, want)
	}
}

func TestOrderedUnmarshalJSONErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`[1]`, "expected an object, found an array"},
		{`{"a": "x"}`, "a: json: cannot unmarshal"},
		{`{"a": 1,}`, "invalid JSON"},
		{`{"a": 1} {}`, "unexpected data after the JSON value"},
	}
	for _, tt := range tests {
		var o Ordered[string, int]
		err := o.UnmarshalJSON([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("UnmarshalJSON(%s) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
	var o Ordered[string, int]
	if err := o.UnmarshalJSON([]byte("null")); err != nil || o.Len() != 0 {
		t.Errorf("UnmarshalJSON(null) = %v with %d keys, want no error and 0 keys", err, o.Len())
	}
}
