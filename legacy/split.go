package legacy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"ctrunner/snapshot"
)

// Keys of the raw.json wrapper, in the order the legacy tool wrote them.
const (
	keyVersion      = "version"
	keyElectionData = "ElectionData"
	keyLookupData   = "LookupData"
)

// Split takes a raw.json wrapper apart. It returns the version and the
// ElectionData and LookupData documents as compact JSON: json.Compact of
// the exact bytes found, so key order and string escapes are kept. These
// are the bodies the API serves as Electiondata.json and Lookupdata.json.
//
// The wrapper must be an object with exactly the three keys, "version" an
// integer and the two documents objects; anything else is an error naming
// the key, since Wrap could not render such a file again.
func Split(raw []byte) (version snapshot.Version, electionData, lookupData []byte, err error) {
	members, err := wrapperMembers(raw)
	if err != nil {
		return 0, nil, nil, err
	}
	version, err = parseVersion(members[keyVersion])
	if err != nil {
		return 0, nil, nil, err
	}
	electionData, err = compactObject(keyElectionData, members[keyElectionData])
	if err != nil {
		return 0, nil, nil, err
	}
	lookupData, err = compactObject(keyLookupData, members[keyLookupData])
	if err != nil {
		return 0, nil, nil, err
	}
	return version, electionData, lookupData, nil
}

// wrapperVersion returns the "version" field of a raw.json wrapper.
func wrapperVersion(raw []byte) (snapshot.Version, error) {
	members, err := wrapperMembers(raw)
	if err != nil {
		return 0, err
	}
	return parseVersion(members[keyVersion])
}

// wrapperMembers returns the raw value of each of the wrapper's three
// keys, rejecting any other key, a duplicate, a missing one, invalid JSON
// and trailing data.
func wrapperMembers(raw []byte) (map[string][]byte, error) {
	w := &pyWriter{in: raw, out: sink{discard: true}}
	w.skipSpace()
	if w.pos >= len(raw) || raw[w.pos] != '{' {
		return nil, errors.New("raw.json wrapper is not a JSON object")
	}
	w.pos++
	members := make(map[string][]byte, 3)
	for {
		w.skipSpace()
		if len(members) == 0 && w.pos < len(raw) && raw[w.pos] == '}' {
			w.pos++
			break
		}
		key, err := w.key()
		if err != nil {
			return nil, fmt.Errorf("raw.json wrapper: %w", err)
		}
		switch key {
		case keyVersion, keyElectionData, keyLookupData:
		default:
			return nil, fmt.Errorf("raw.json wrapper: unexpected key %q", key)
		}
		if _, dup := members[key]; dup {
			return nil, fmt.Errorf("raw.json wrapper: key %q appears twice", key)
		}
		w.skipSpace()
		start := w.pos
		if err := w.value(1); err != nil {
			return nil, fmt.Errorf("raw.json wrapper: reading %q: %w", key, err)
		}
		members[key] = raw[start:w.pos]
		w.skipSpace()
		if w.pos >= len(raw) {
			return nil, errors.New("raw.json wrapper: unexpected end of input")
		}
		if raw[w.pos] == '}' {
			w.pos++
			break
		}
		if raw[w.pos] != ',' {
			return nil, fmt.Errorf("raw.json wrapper: %w", w.errorf("expected ',' or '}'"))
		}
		w.pos++
	}
	w.skipSpace()
	if w.pos != len(raw) {
		return nil, errors.New("raw.json wrapper: data after the closing brace")
	}
	for _, key := range []string{keyVersion, keyElectionData, keyLookupData} {
		if members[key] == nil {
			return nil, fmt.Errorf("raw.json wrapper: missing key %q", key)
		}
	}
	return members, nil
}

// key reads an object key and the colon after it.
func (w *pyWriter) key() (string, error) {
	start := w.pos
	if w.pos >= len(w.in) || w.in[w.pos] != '"' {
		return "", w.errorf("expected an object key")
	}
	if err := w.str(); err != nil {
		return "", err
	}
	var key string
	if err := json.Unmarshal(w.in[start:w.pos], &key); err != nil {
		return "", w.errorf("bad object key: %v", err)
	}
	w.skipSpace()
	if w.pos >= len(w.in) || w.in[w.pos] != ':' {
		return "", w.errorf("expected ':' after an object key")
	}
	w.pos++
	return key, nil
}

func parseVersion(value []byte) (snapshot.Version, error) {
	v, err := strconv.ParseInt(string(value), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("raw.json wrapper: %q is %s, not a non-negative integer",
			keyVersion, value)
	}
	return snapshot.Version(v), nil
}

// compactObject returns value, already checked to be valid JSON, without
// the white space between tokens: what json.Compact returns, faster.
func compactObject(key string, value []byte) ([]byte, error) {
	if len(value) == 0 || value[0] != '{' {
		return nil, fmt.Errorf("raw.json wrapper: %q is not a JSON object", key)
	}
	out := make([]byte, 0, len(value))
	inString := false
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case inString:
			out = append(out, c)
			if c == '\\' {
				i++
				out = append(out, value[i])
			} else if c == '"' {
				inString = false
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		default:
			out = append(out, c)
			inString = c == '"'
		}
	}
	return out, nil
}
