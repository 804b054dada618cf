package legacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
// keys, rejecting any other key, a duplicate, a missing one and trailing
// data.
func wrapperMembers(raw []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("raw.json wrapper: %w", jsonErr(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("raw.json wrapper is not a JSON object")
	}
	members := make(map[string]json.RawMessage, 3)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("raw.json wrapper: %w", jsonErr(err))
		}
		key := tok.(string) // object keys are always strings
		switch key {
		case keyVersion, keyElectionData, keyLookupData:
		default:
			return nil, fmt.Errorf("raw.json wrapper: unexpected key %q", key)
		}
		if _, dup := members[key]; dup {
			return nil, fmt.Errorf("raw.json wrapper: key %q appears twice", key)
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("raw.json wrapper: reading %q: %w", key, jsonErr(err))
		}
		members[key] = value
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("raw.json wrapper: %w", jsonErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("raw.json wrapper: data after the closing brace")
	}
	for _, key := range []string{keyVersion, keyElectionData, keyLookupData} {
		if members[key] == nil {
			return nil, fmt.Errorf("raw.json wrapper: missing key %q", key)
		}
	}
	return members, nil
}

func jsonErr(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func parseVersion(value json.RawMessage) (snapshot.Version, error) {
	v, err := strconv.ParseInt(string(value), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("raw.json wrapper: %q is %s, not a non-negative integer",
			keyVersion, value)
	}
	return snapshot.Version(v), nil
}

func compactObject(key string, value json.RawMessage) ([]byte, error) {
	if len(value) == 0 || value[0] != '{' {
		return nil, fmt.Errorf("raw.json wrapper: %q is not a JSON object", key)
	}
	var buf bytes.Buffer
	buf.Grow(len(value))
	if err := json.Compact(&buf, value); err != nil {
		return nil, fmt.Errorf("raw.json wrapper: compacting %q: %w", key, err)
	}
	return buf.Bytes(), nil
}
