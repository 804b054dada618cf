// Package rehearsal makes up an election night from the final results of
// an election: a series of versions of Electiondata.json in which towns
// report their precincts in a plausible order and every count grows to the
// final one. Newsrooms rehearse their live pages on such a night; the
// benchmarks use one to load stores.
//
// The night is deterministic for a seed. It keeps every invariant a reader
// of the real feed may rely on: counts and precincts reporting never go
// down, a town that has reported never disappears, a town's results never
// go from official back to unofficial, statewide totals are the sums of
// the towns whenever the final document has that property, and the last
// version is the final document itself, byte for byte. Lookupdata.json is
// the same in every version. The package does no I/O.
//
// # Model
//
// Each town with results gets a start time and a span in the night (0, 1]
// (larger towns report over a longer span), and each of its precincts a
// report time within that span. At a version with progress f, a town has
// reported the precincts whose time is at most f. A candidate's count in a
// town is floor(final × x^a), where x is the share of the town's precincts
// in and a is drawn for the candidate in [0.75, 1.35], so that leads can
// change during the night. Shares, statewide totals, turnout, precincts
// reporting and status lines are computed from those counts and written
// in the final document's own formats.
package rehearsal

import (
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"sync"
	"time"

	"ctrunner/snapshot"
)

// Options shape a rehearsal night.
type Options struct {
	// Versions is the number of versions in the night, at least 1; the
	// last one holds the final results.
	Versions int
	// Seed makes the night: the same seed gives the same bytes.
	Seed int64
	// Start is the simulated fetch time of the first version.
	Start time.Time
	// Interval is the mean gap between the fetch times of two versions;
	// each gap is drawn between half and one and a half times it, rounded
	// to the second.
	Interval time.Duration
	// FirstVersion is the API version of the first version.
	FirstVersion snapshot.Version
	// VersionStep is the mean step between API versions, at least 1.
	// Versions are sparse like the real ones: version i is FirstVersion +
	// i × VersionStep plus, after the first, a jitter of at most
	// VersionStep/2, so they strictly increase.
	VersionStep int64
}

// Step is one version of the night.
type Step struct {
	// Index counts the versions from 0.
	Index int
	// Version is the API version the step is published as.
	Version snapshot.Version
	// FetchedAt is the simulated time the version was fetched.
	FetchedAt time.Time
	// Progress is the share of the night elapsed, in (0, 1]; 1 for the
	// last step.
	Progress float64
	// ElectionData is the step's Electiondata.json.
	ElectionData []byte
	// LookupData is Lookupdata.json, the same bytes in every step.
	LookupData []byte
}

// Night is a prepared rehearsal night. Steps may be generated in any order
// and any number of times; each is a function of the options and its index
// only. A Night is safe for concurrent use (steps are generated one at a
// time).
type Night struct {
	opts         Options
	electionData []byte // the final document, returned as the last step
	lookupData   []byte
	versions     []snapshot.Version
	times        []time.Time

	mu    sync.Mutex // guards the model, whose tree each step rewrites
	model *model
}

// New prepares a night that ends with the given final documents. The
// documents must decode with snapshot.DecodeElectionData and
// snapshot.DecodeLookupData.
func New(electionData, lookupData []byte, opts Options) (*Night, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if _, err := snapshot.DecodeElectionData(electionData); err != nil {
		return nil, err
	}
	ld, err := snapshot.DecodeLookupData(lookupData)
	if err != nil {
		return nil, err
	}

	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed_0f_e1ec7))
	n := &Night{
		opts:         opts,
		electionData: append([]byte(nil), electionData...),
		lookupData:   append([]byte(nil), lookupData...),
	}
	n.schedule(rng)
	n.model, err = newModel(n.electionData, ld, rng)
	if err != nil {
		return nil, fmt.Errorf("preparing the night: %w", err)
	}
	return n, nil
}

func (o Options) check() error {
	switch {
	case o.Versions < 1:
		return fmt.Errorf("a night needs at least 1 version, not %d", o.Versions)
	case o.VersionStep < 1:
		return fmt.Errorf("the version step must be at least 1, not %d", o.VersionStep)
	case o.Interval < 0:
		return errors.New("the interval between versions must not be negative")
	case o.FirstVersion < 0:
		return fmt.Errorf("the first version must not be negative, not %d", o.FirstVersion)
	}
	return nil
}

// schedule draws the API version and fetch time of every step.
func (n *Night) schedule(rng *rand.Rand) {
	o := n.opts
	n.versions = make([]snapshot.Version, o.Versions)
	n.times = make([]time.Time, o.Versions)
	at := o.Start
	for i := range o.Versions {
		var jitter int64
		if i > 0 {
			jitter = rng.Int64N(o.VersionStep/2 + 1)
		}
		n.versions[i] = o.FirstVersion + snapshot.Version(int64(i)*o.VersionStep+jitter)
		if i > 0 {
			gap := time.Duration(float64(o.Interval) * (0.5 + rng.Float64()))
			at = at.Add(gap.Round(time.Second))
		}
		n.times[i] = at
	}
}

// Len returns the number of steps.
func (n *Night) Len() int { return n.opts.Versions }

// Step returns step i, counting from 0. It panics if i is out of range.
// The last step's ElectionData is the final document as given to New.
func (n *Night) Step(i int) Step {
	if i < 0 || i >= n.opts.Versions {
		panic(fmt.Sprintf("rehearsal: step %d of a night of %d", i, n.opts.Versions))
	}
	s := Step{
		Index:      i,
		Version:    n.versions[i],
		FetchedAt:  n.times[i],
		Progress:   float64(i+1) / float64(n.opts.Versions),
		LookupData: n.lookupData,
	}
	if i == n.opts.Versions-1 {
		s.ElectionData = n.electionData
		return s
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	s.ElectionData = n.model.render(s.Progress)
	return s
}

// Steps iterates over the steps in order, generating each when asked.
func (n *Night) Steps() iter.Seq[Step] {
	return func(yield func(Step) bool) {
		for i := range n.opts.Versions {
			if !yield(n.Step(i)) {
				return
			}
		}
	}
}
