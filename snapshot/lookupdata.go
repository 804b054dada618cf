package snapshot

import "fmt"

// LookupData is the decoded Lookupdata.json: the names and codes that the
// counts in ElectionData refer to.
type LookupData struct {
	// Election describes the election ("election").
	Election ElectionInfo
	// TownIDs maps each town to its name ("townIds").
	TownIDs Ordered[TownID, string]
	// Counties maps each county to its name.
	Counties Ordered[CountyID, string]
	// CountyTowns places each town in a county.
	CountyTowns []CountyTown
	// PollingPlaceIDs maps each polling place to "Town-N-Place".
	PollingPlaceIDs Ordered[PollingPlaceID, string]
	// TownPollingPlaces lists each town's polling places.
	TownPollingPlaces Ordered[TownID, []PollingPlaceID]
	// Offices is "officeList" unwrapped, in document order.
	Offices []Office
	// PartyIDs maps each party to its code and name ("partyIds").
	PartyIDs Ordered[PartyID, Party]
	// TownParties lists the parties on each town's ballot.
	TownParties Ordered[TownID, PartyList]
	// CandidateIDs maps each candidacy to its names and party.
	CandidateIDs Ordered[CandidateID, Candidate]
	// Extra holds top-level members the decoder does not know.
	Extra Extra
}

// ElectionInfo describes an election in LookupData ("election").
type ElectionInfo struct {
	ID          ElectionID
	Name        string // NM: "11/08/2022 -- November 2022 State Election"
	Date        string // DT: MM/DD/YYYY
	Type        string // ET: G general, P primary, S special
	Category    string // EC: SE, ME, MP, SP, PPP
	Party       string // P: the party of a primary
	DisplayName string // DNM
	Extra       Extra
}

// CountyTown places one town in a county.
type CountyTown struct {
	TownID   TownID
	CountyID CountyID
	TownName string
	Extra    Extra
}

// Office is one item of officeList. The API wraps each item in a one-key
// object whose key is normally the office's own ID.
type Office struct {
	// Key is the wrapping key.
	Key OfficeID
	// ID is the item's ID, or Key when the item has none.
	ID           OfficeID
	Name         string // NM
	Type         string // OT: SW statewide, C congress, S senate, ...
	Order        string // OO: display order
	DistrictText string // DT
	District     string // D: district number
	Extra        Extra
}

// Party is one entry of partyIds.
type Party struct {
	Code  string // CD: "D", "R", "WF"
	Name  string // NM
	Order string // P (a guess: display order)
	Extra Extra
}

// Candidate is one entry of candidateIds: one person on one party line.
type Candidate struct {
	Name    string  // NM: full name as shown
	Last    string  // LN
	First   string  // FN
	Middle  string  // MN
	Party   PartyID // P
	Address string  // AD
	CO      string  // meaning unknown
	Extra   Extra
}

// Office returns the first office in officeList whose ID is id.
func (ld *LookupData) Office(id OfficeID) (Office, bool) {
	for _, o := range ld.Offices {
		if o.ID == id {
			return o, true
		}
	}
	return Office{}, false
}

// DecodeLookupData decodes a Lookupdata.json document. Unknown members are
// kept in Extra fields; only a document of the wrong shape, or one without
// townIds, officeList, partyIds or candidateIds, is an error.
func DecodeLookupData(raw []byte) (*LookupData, error) {
	d := newDecoder(raw)
	ld, err := decodeLookupData(d)
	if err == nil {
		err = d.end()
	}
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", LookupDataFile, err)
	}
	return ld, nil
}

func decodeLookupData(d *decoder) (*LookupData, error) {
	ld := new(LookupData)
	seen := make(map[string]bool, 4)
	err := d.objectNotNull(func(key string) error {
		switch key {
		case "election":
			return decodeElectionInfo(d, &ld.Election)
		case "townIds":
			seen[key] = true
			return decodeOrdered(d, &ld.TownIDs, (*decoder).scalar)
		case "counties":
			return decodeOrdered(d, &ld.Counties, (*decoder).scalar)
		case "countyTowns":
			return d.array(func() error {
				ct, err := decodeCountyTown(d)
				ld.CountyTowns = append(ld.CountyTowns, ct)
				return err
			})
		case "pollingplaceIds":
			return decodeOrdered(d, &ld.PollingPlaceIDs, (*decoder).scalar)
		case "townPollingPlaces":
			return decodeOrdered(d, &ld.TownPollingPlaces, decodePlaceList)
		case "officeList":
			seen[key] = true
			return d.array(func() error { return decodeOffices(d, &ld.Offices) })
		case "partyIds":
			seen[key] = true
			return decodeOrdered(d, &ld.PartyIDs, decodeParty)
		case "townParties":
			return decodeOrdered(d, &ld.TownParties, decodePartyList)
		case "candidateIds":
			seen[key] = true
			return decodeOrdered(d, &ld.CandidateIDs, decodeCandidate)
		}
		return d.extra(&ld.Extra, key)
	})
	if err != nil {
		return nil, err
	}
	for _, key := range []string{"townIds", "officeList", "partyIds", "candidateIds"} {
		if !seen[key] {
			return nil, missing(key)
		}
	}
	return ld, nil
}

// stringFields reads an object whose known members are all text, storing
// each in the field fields returns for its key, and unknown ones in extra.
func stringFields(d *decoder, extra *Extra, field func(key string) *string) error {
	return d.object(func(key string) error {
		dst := field(key)
		if dst == nil {
			return d.extra(extra, key)
		}
		var err error
		*dst, err = d.scalar()
		return err
	})
}

func decodeElectionInfo(d *decoder, e *ElectionInfo) error {
	return stringFields(d, &e.Extra, func(key string) *string {
		switch key {
		case "ID":
			return (*string)(&e.ID)
		case "NM":
			return &e.Name
		case "DT":
			return &e.Date
		case "ET":
			return &e.Type
		case "EC":
			return &e.Category
		case "P":
			return &e.Party
		case "DNM":
			return &e.DisplayName
		}
		return nil
	})
}

func decodeCountyTown(d *decoder) (CountyTown, error) {
	var ct CountyTown
	err := stringFields(d, &ct.Extra, func(key string) *string {
		switch key {
		case "TownID":
			return (*string)(&ct.TownID)
		case "CountyID":
			return (*string)(&ct.CountyID)
		case "TownName":
			return &ct.TownName
		}
		return nil
	})
	return ct, err
}

// decodePlaceList reads a townPollingPlaces list, whose IDs are numbers.
func decodePlaceList(d *decoder) ([]PollingPlaceID, error) {
	var ids []PollingPlaceID
	err := d.array(func() error {
		s, err := d.scalar()
		ids = append(ids, PollingPlaceID(s))
		return err
	})
	return ids, err
}

// decodeOffices reads one officeList item, appending an Office per key of
// the wrapping object.
func decodeOffices(d *decoder, offices *[]Office) error {
	return d.object(func(key string) error {
		o := Office{Key: OfficeID(key)}
		err := stringFields(d, &o.Extra, func(key string) *string {
			switch key {
			case "ID":
				return (*string)(&o.ID)
			case "NM":
				return &o.Name
			case "OT":
				return &o.Type
			case "OO":
				return &o.Order
			case "DT":
				return &o.DistrictText
			case "D":
				return &o.District
			}
			return nil
		})
		if o.ID == "" {
			o.ID = o.Key
		}
		*offices = append(*offices, o)
		return err
	})
}

func decodeParty(d *decoder) (Party, error) {
	var p Party
	err := stringFields(d, &p.Extra, func(key string) *string {
		switch key {
		case "CD":
			return &p.Code
		case "NM":
			return &p.Name
		case "P":
			return &p.Order
		}
		return nil
	})
	return p, err
}

// decodePartyList reads a townParties value: normally a string holding a
// JSON array, but a plain array is taken too and kept as its JSON text.
func decodePartyList(d *decoder) (PartyList, error) {
	if d.skipSpace() == '[' {
		raw, err := d.raw()
		return PartyList(raw), err
	}
	s, err := d.scalar()
	return PartyList(s), err
}

func decodeCandidate(d *decoder) (Candidate, error) {
	var c Candidate
	err := stringFields(d, &c.Extra, func(key string) *string {
		switch key {
		case "NM":
			return &c.Name
		case "LN":
			return &c.Last
		case "FN":
			return &c.First
		case "MN":
			return &c.Middle
		case "P":
			return (*string)(&c.Party)
		case "AD":
			return &c.Address
		case "CO":
			return &c.CO
		}
		return nil
	})
	return c, err
}
