package snapshot

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseWrapper reads the legacy wrapper that the old Python tool saved as
// raw.json and read on stdin: {"version": N, "ElectionData": {...},
// "LookupData": {...}}. The version may be a number or a numeric string;
// it is 0 when absent. Both documents are required. A UTF-8 byte order mark
// is skipped; anything after the JSON value is an error.
func ParseWrapper(raw []byte) (version Version, ed *ElectionData, ld *LookupData, err error) {
	d := newDecoder(raw)
	err = d.objectNotNull(func(key string) error {
		var err error
		switch key {
		case "version":
			version, err = decodeVersion(d)
		case "ElectionData":
			ed, err = decodeElectionData(d)
		case "LookupData":
			ld, err = decodeLookupData(d)
		default:
			err = d.skip(0)
		}
		return err
	})
	switch {
	case err != nil:
	case ed == nil:
		err = missing("ElectionData")
	case ld == nil:
		err = missing("LookupData")
	default:
		err = d.end()
	}
	if err != nil {
		return 0, nil, nil, fmt.Errorf("decoding legacy wrapper: %w", err)
	}
	return version, ed, ld, nil
}

// decodeVersion reads a version written as a number or a numeric string.
func decodeVersion(d *decoder) (Version, error) {
	s, err := d.scalar()
	if err != nil {
		return 0, err
	}
	n, perr := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if perr != nil || n < 0 {
		return 0, &decodeError{msg: fmt.Sprintf("%q is not a version number", s)}
	}
	return Version(n), nil
}
