// Package night retells an election night from the archive: the snapshots
// of one election in the order they were archived, each with its precincts
// reporting, who leads the chosen offices and by how much, and what changed
// since the snapshot before it. It can pace the telling on the recorded
// fetch times, and renders each step as text or as JSON.
//
// A candidate endorsed by several parties appears once per office, with the
// votes of all their party lines added up (as the API's candidateGrouping
// adds them); shares and margins are computed from those sums.
package night

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"ctrunner/diff"
	"ctrunner/snapshot"
	"ctrunner/store"
)

// Source is where a night's snapshots are read from; a store.Store is one.
type Source interface {
	// Log lists an election's snapshots, newest first.
	Log(id snapshot.ElectionID) ([]store.Entry, error)
	// Load reads a snapshot's documents.
	Load(e store.Entry) (*snapshot.Snapshot, error)
}

// Options choose what a Night tells and how fast.
type Options struct {
	// Offices are the offices followed: each an office ID, an office's
	// full name, or a part of names (any case; every office whose name
	// holds it). Empty means the top of the ballot: the office with statewide
	// votes that has the lowest display order in the lookup data's
	// officeList (its OO), the first listed among equals.
	Offices []string
	// From and To bound the snapshots told by fetch time, both included;
	// a zero time does not bound. The first snapshot told is still
	// compared with the one archived before it, if there is one.
	From, To time.Time
	// Speed paces Play: it waits the recorded gap between two snapshots'
	// fetch times divided by Speed before emitting the second. Zero (or
	// less) does not wait.
	Speed float64
	// Now and Sleep are the clock Play paces on; nil means the real one.
	// Sleep must return early with ctx's error when ctx is done.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Night is one election's archived night, ready to be told.
type Night struct {
	election snapshot.ElectionID
	src      Source
	opts     Options
	entries  []store.Entry // oldest first: the predecessor, if any, then those told
	told     int           // index in entries of the first snapshot told
	offices  []snapshot.OfficeID
	first    *decoded // entries[0], decoded to choose the offices
}

// Open reads the log of election from src, keeps the snapshots within
// opts.From and opts.To, and chooses the offices to follow. An office
// that matches nothing is an *OfficeError; a time range that holds no
// snapshot is an error naming the election's first and last fetch times.
func Open(src Source, election snapshot.ElectionID, opts Options) (*Night, error) {
	log, err := src.Log(election)
	if err != nil {
		return nil, err
	}
	if len(log) == 0 {
		return nil, fmt.Errorf("election %s has no snapshots", election)
	}
	all := slices.Clone(log)
	slices.Reverse(all)

	lo, hi := 0, len(all)
	for lo < hi && !opts.From.IsZero() && all[lo].FetchedAt.Before(opts.From) {
		lo++
	}
	for hi > lo && !opts.To.IsZero() && all[hi-1].FetchedAt.After(opts.To) {
		hi--
	}
	if lo == hi {
		return nil, fmt.Errorf("no snapshot of election %s was fetched %s "+
			"(the first was fetched at %s, the last at %s)", election, rangeText(opts),
			all[0].FetchedAt.UTC().Format(time.RFC3339),
			all[len(all)-1].FetchedAt.UTC().Format(time.RFC3339))
	}

	n := &Night{election: election, src: src, opts: opts, told: 0}
	if lo > 0 {
		n.entries = all[lo-1 : hi]
		n.told = 1
	} else {
		n.entries = all[lo:hi]
	}
	n.first, err = n.decode(n.entries[0], nil)
	if err != nil {
		return nil, err
	}
	// Offices are chosen in the last snapshot, the fullest: the first of a
	// night may have no votes yet.
	last := n.first
	if len(n.entries) > 1 {
		if last, err = n.decode(n.entries[len(n.entries)-1], n.first); err != nil {
			return nil, err
		}
	}
	n.offices, err = chooseOffices(election, last, opts.Offices)
	if err != nil {
		return nil, err
	}
	return n, nil
}

func rangeText(opts Options) string {
	const layout = time.RFC3339
	from, to := opts.From.UTC().Format(layout), opts.To.UTC().Format(layout)
	switch {
	case opts.From.IsZero():
		return "by " + to
	case opts.To.IsZero():
		return "from " + from
	}
	return "from " + from + " to " + to
}

// Snapshots is the number of snapshots Play emits.
func (n *Night) Snapshots() int { return len(n.entries) - n.told }

// Offices are the IDs of the offices followed, in the order chosen.
func (n *Night) Offices() []snapshot.OfficeID { return slices.Clone(n.offices) }

// Play emits one Step per snapshot, oldest first. With Options.Speed set,
// it waits before each Step after the first until the recorded gap since
// the first, divided by Speed, has passed on its clock (a fetch time that
// goes backwards is not waited for). It stops when emit fails, returning
// that error, or when ctx is done, returning ctx's error; the Steps
// emitted until then stay emitted.
func (n *Night) Play(ctx context.Context, emit func(*Step) error) error {
	now, sleep := n.opts.Now, n.opts.Sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}

	prev := n.first
	var start time.Time
	for i := n.told; i < len(n.entries); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := n.entries[i]
		cur := prev
		if i > 0 {
			var err error
			if cur, err = n.decode(e, prev); err != nil {
				return err
			}
		}
		step, err := n.step(e, cur, prev, i)
		if err != nil {
			return err
		}

		if n.opts.Speed > 0 {
			if i == n.told {
				start = now()
			} else {
				gap := e.FetchedAt.Sub(n.entries[n.told].FetchedAt)
				due := start.Add(scaled(gap, n.opts.Speed))
				if wait := due.Sub(now()); wait > 0 {
					if err := sleep(ctx, wait); err != nil {
						return err
					}
				}
			}
		}
		if err := emit(step); err != nil {
			return err
		}
		prev = cur
	}
	return nil
}

// scaled is gap divided by speed, the longest time.Duration when that is
// longer (a very slow speed), so that it never overflows into no wait.
func scaled(gap time.Duration, speed float64) time.Duration {
	d := float64(gap) / speed
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// step tells the snapshot cur (the entry at index i) against prev, which
// is cur itself for the oldest snapshot archived.
func (n *Night) step(e store.Entry, cur, prev *decoded, i int) (*Step, error) {
	s := &Step{
		Election:           n.election,
		Snapshot:           e.ID,
		Version:            e.Version,
		FetchedAt:          e.FetchedAt,
		TimeSource:         e.TimeSource,
		Source:             e.Source,
		Suspect:            e.Suspect,
		PrecinctsReporting: cur.ed.Election.PrecinctsReporting,
		FirstTold:          i == n.told,
	}
	for _, id := range n.offices {
		s.Races = append(s.Races, cur.race(id, prev, i > 0))
	}

	if i == 0 {
		s.Changes = Changes{First: true}
		return s, nil
	}
	s.Changes.Since = prev.entry.Version
	if cur.sameDocuments(prev) {
		s.Changes.Identical = true
		return s, nil
	}
	report, err := diff.Compare(prev.input(), cur.input())
	if err != nil {
		return nil, fmt.Errorf("comparing snapshot %s with %s: %w", e.ID.Short(),
			prev.entry.ID.Short(), err)
	}
	s.Changes = summarize(report, cur.leadChanges(prev))
	s.Changes.Since = prev.entry.Version
	return s, nil
}

// decoded is one snapshot's documents, decoded, with what the steps read
// from them.
type decoded struct {
	entry    store.Entry
	edSHA    string
	ldSHA    string
	ed       *snapshot.ElectionData
	ld       *snapshot.LookupData
	order    map[snapshot.OfficeID]int // ballot order, see ballotOrder
	standing map[snapshot.OfficeID]*race
}

// decode reads the snapshot of e. Documents identical to prev's (by their
// recorded SHA-256) are not read again but shared with prev.
func (n *Night) decode(e store.Entry, prev *decoded) (*decoded, error) {
	d := &decoded{entry: e, edSHA: e.Documents[snapshot.ElectionDataFile],
		ldSHA: e.Documents[snapshot.LookupDataFile]}
	if prev != nil && d.edSHA != "" && d.edSHA == prev.edSHA && d.ldSHA == prev.ldSHA {
		d.ed, d.ld, d.order, d.standing = prev.ed, prev.ld, prev.order, prev.standing
		return d, nil
	}

	snap, err := n.src.Load(e)
	if err != nil {
		return nil, fmt.Errorf("reading snapshot %s of election %s: %w", e.ID.Short(),
			e.Election, err)
	}
	edRaw, _ := snap.File(snapshot.ElectionDataFile)
	ldRaw, _ := snap.File(snapshot.LookupDataFile)
	if d.ed, err = snapshot.DecodeElectionData(edRaw); err != nil {
		return nil, fmt.Errorf("snapshot %s of election %s: %w", e.ID.Short(), e.Election, err)
	}
	if prev != nil && d.ldSHA != "" && d.ldSHA == prev.ldSHA {
		d.ld, d.order = prev.ld, prev.order
	} else {
		if d.ld, err = snapshot.DecodeLookupData(ldRaw); err != nil {
			return nil, fmt.Errorf("snapshot %s of election %s: %w", e.ID.Short(), e.Election, err)
		}
		d.order = ballotOrder(d.ld)
	}
	d.standing = map[snapshot.OfficeID]*race{}
	return d, nil
}

// sameDocuments reports whether d and o hold byte-identical documents.
func (d *decoded) sameDocuments(o *decoded) bool {
	return d.ed == o.ed && d.ld == o.ld
}

func (d *decoded) input() diff.Input {
	e := d.entry
	return diff.Input{Label: fmt.Sprintf("%s@%s", e.Election, e.Version), Version: e.Version,
		Election: d.ed, Lookup: d.ld}
}
