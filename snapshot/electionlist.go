package snapshot

import "fmt"

// ElectionListEntry is one election in Elections.json.
type ElectionListEntry struct {
	ID   ElectionID
	Name string // "08/13/2024 -- August 2024 Democratic Primary"
	// Default says whether the site shows this election first;
	// DefaultRaw is the DefaultElection value as written, normally "Y" or
	// "N".
	Default    bool
	DefaultRaw string
	Extra      Extra
}

// DecodeElectionList decodes an Elections.json document, an array of
// {ID, Name, DefaultElection} objects. IDs written as numbers are taken as
// their decimal text. An entry without an ID is an error; an ID that is not
// a number is kept for the caller to judge.
func DecodeElectionList(raw []byte) ([]ElectionListEntry, error) {
	d := newDecoder(raw)
	list := []ElectionListEntry{}
	err := d.array(func() error {
		var e ElectionListEntry
		seen := map[string]bool{}
		err := stringFields(d, &e.Extra, func(key string) *string {
			seen[key] = true
			switch key {
			case "ID":
				return (*string)(&e.ID)
			case "Name":
				return &e.Name
			case "DefaultElection":
				return &e.DefaultRaw
			}
			return nil
		})
		e.Default, _ = Flag{e.DefaultRaw}.Bool()
		if err == nil && !seen["ID"] {
			return fmt.Errorf("entry %d has no ID", len(list)+1)
		}
		list = append(list, e)
		return err
	})
	if err == nil {
		err = d.end()
	}
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", ElectionListFile, err)
	}
	return list, nil
}
