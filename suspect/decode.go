package suspect

import (
	"bytes"

	"ctrunner/snapshot"
)

// decoded is a version with its documents decoded. The decoded documents
// are shared with the version it was decoded next to when their bytes are
// the same, which they are for Lookupdata.json all night long.
type decoded struct {
	number snapshot.Version
	ed     *electionDoc
	ld     *lookupDoc
	errs   []error // decoding failures, in document order
}

// electionDoc is a decoded Electiondata.json and what the checks work out
// from it once.
type electionDoc struct {
	raw  []byte
	data *snapshot.ElectionData
	sums *stateSums // filled by totals on first use
}

// lookupDoc is a decoded Lookupdata.json.
type lookupDoc struct {
	raw  []byte
	data *snapshot.LookupData
}

// decode decodes v, reusing the documents of near when they hold the same
// bytes. near may be nil.
func decode(v Version, near *decoded) *decoded {
	d := &decoded{number: v.Number}
	if near != nil && near.ed != nil && bytes.Equal(near.ed.raw, v.ElectionData) {
		d.ed = near.ed
	} else if ed, err := snapshot.DecodeElectionData(v.ElectionData); err != nil {
		d.errs = append(d.errs, err)
	} else {
		d.ed = &electionDoc{raw: v.ElectionData, data: ed}
	}
	if near != nil && near.ld != nil && bytes.Equal(near.ld.raw, v.LookupData) {
		d.ld = near.ld
	} else if ld, err := snapshot.DecodeLookupData(v.LookupData); err != nil {
		d.errs = append(d.errs, err)
	} else {
		d.ld = &lookupDoc{raw: v.LookupData, data: ld}
	}
	return d
}

// is reports whether d was decoded from v.
func (d *decoded) is(v Version) bool {
	return d.number == v.Number && d.ed != nil && d.ld != nil &&
		bytes.Equal(d.ed.raw, v.ElectionData) && bytes.Equal(d.ld.raw, v.LookupData)
}
