package snapshot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
)

// pair is one member of an Ordered object.
type pair[K ~string, V any] struct {
	Key   K
	Value V
}

// Ordered is a JSON object that remembers the order of its keys, which
// encoding/json's maps forget. The legacy CSV's row order follows key order,
// so every object the exporters iterate is decoded into one.
//
// When a key appears twice, the pair keeps the position of the first and
// the value of the last, as the old Python tool's dictionaries did. The zero
// value is an empty object ready to use. Like a map, an Ordered shares its
// storage when copied.
type Ordered[K ~string, V any] struct {
	pairs []pair[K, V]
	index map[K]int // built once the object outgrows a linear search
}

// linearSearchMax is the size up to which Get scans the pairs instead of
// keeping an index; most objects in the documents are this small.
const linearSearchMax = 8

// Len returns the number of keys.
func (o *Ordered[K, V]) Len() int { return len(o.pairs) }

// At returns the i-th key and value in document order.
func (o *Ordered[K, V]) At(i int) (K, V) {
	p := o.pairs[i]
	return p.Key, p.Value
}

// Get returns the value stored under key.
func (o *Ordered[K, V]) Get(key K) (V, bool) {
	if i, ok := o.find(key); ok {
		return o.pairs[i].Value, true
	}
	var zero V
	return zero, false
}

// Has reports whether key is present.
func (o *Ordered[K, V]) Has(key K) bool {
	_, ok := o.find(key)
	return ok
}

// Set stores value under key: in place when the key is present, at the end
// otherwise.
func (o *Ordered[K, V]) Set(key K, value V) {
	if i, ok := o.find(key); ok {
		o.pairs[i].Value = value
		return
	}
	o.pairs = append(o.pairs, pair[K, V]{key, value})
	switch {
	case o.index != nil:
		o.index[key] = len(o.pairs) - 1
	case len(o.pairs) > linearSearchMax:
		o.index = make(map[K]int, 2*len(o.pairs))
		for i, p := range o.pairs {
			o.index[p.Key] = i
		}
	}
}

func (o *Ordered[K, V]) find(key K) (int, bool) {
	if o.index != nil {
		i, ok := o.index[key]
		return i, ok
	}
	for i := range o.pairs {
		if o.pairs[i].Key == key {
			return i, true
		}
	}
	return -1, false
}

// Keys returns the keys in document order.
func (o *Ordered[K, V]) Keys() []K {
	keys := make([]K, len(o.pairs))
	for i, p := range o.pairs {
		keys[i] = p.Key
	}
	return keys
}

// All iterates over the keys and values in document order.
func (o *Ordered[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for _, p := range o.pairs {
			if !yield(p.Key, p.Value) {
				return
			}
		}
	}
}

// MarshalJSON writes the object with its keys in order.
func (o Ordered[K, V]) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range o.pairs {
		if i > 0 {
			b.WriteByte(',')
		}
		key, err := json.Marshal(string(p.Key))
		if err != nil {
			return nil, err
		}
		b.Write(key)
		b.WriteByte(':')
		value, err := json.Marshal(p.Value)
		if err != nil {
			return nil, fmt.Errorf("encoding %q: %w", p.Key, err)
		}
		b.Write(value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object (or null, for an empty one), keeping
// its key order, and decodes each value with encoding/json. It replaces
// any previous contents.
func (o *Ordered[K, V]) UnmarshalJSON(data []byte) error {
	*o = Ordered[K, V]{}
	d := newDecoder(data)
	err := d.object(func(key string) error {
		raw, err := d.raw()
		if err != nil {
			return err
		}
		var v V
		if err := json.Unmarshal(raw, &v); err != nil {
			return &decodeError{msg: err.Error()}
		}
		o.Set(K(key), v)
		return nil
	})
	if err == nil {
		err = d.end()
	}
	return err
}

// decodeOrdered reads the object at the decoder's position into o, reading
// each value with value.
func decodeOrdered[K ~string, V any](d *decoder, o *Ordered[K, V],
	value func(*decoder) (V, error)) error {
	return d.object(func(key string) error {
		v, err := value(d)
		if err != nil {
			return err
		}
		o.Set(K(key), v)
		return nil
	})
}
