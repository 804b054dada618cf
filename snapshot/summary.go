package snapshot

import (
	"errors"
	"fmt"
)

// Summarize returns the election-wide precincts reporting line of an
// Electiondata.json document, "760 of 763 (99.61%)" (election.PR). It reads
// only as far as that value, so it is cheap on large documents, and it does
// not check the rest of the document.
func Summarize(electionData []byte) (precinctsReporting string, err error) {
	d := newDecoder(electionData)
	var found bool
	err = d.objectNotNull(func(key string) error {
		if key != "election" || found {
			return d.skip(0)
		}
		return d.object(func(key string) error {
			if key != "PR" || found {
				return d.skip(0)
			}
			var err error
			precinctsReporting, err = d.scalar()
			found = true
			if err == nil {
				err = errStop
			}
			return err
		})
	})
	switch {
	case err == errStop:
		return precinctsReporting, nil
	case err != nil:
		return "", fmt.Errorf("summarizing %s: %w", ElectionDataFile, err)
	}
	return "", fmt.Errorf("summarizing %s: %w", ElectionDataFile, missing("election.PR"))
}

// errStop ends a scan early once the value sought is found.
var errStop = errors.New("stop")
