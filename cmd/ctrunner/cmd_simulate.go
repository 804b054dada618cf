package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ctrunner/export"
	"ctrunner/legacy"
	"ctrunner/rehearsal"
	"ctrunner/snapshot"
	"ctrunner/store"
)

func simulateCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:      "simulate",
		Usage:     "make up an election night that ends with an election's final results",
		ArgsUsage: "REF | --from-file raw.json",
		Description: "Takes the results of one snapshot (REF in --store, as for 'show') or of\n" +
			"a raw.json wrapper of the old tool (--from-file, maybe gzipped) and writes\n" +
			"--versions versions of a night in which towns report their precincts in a\n" +
			"plausible order and every count grows to the final one; the last version\n" +
			"is the source itself. The same --seed gives the same night.\n" +
			"\n" +
			"The night goes into --store as snapshots of the election fetched at the\n" +
			"simulated times (source URL simulate:seed=N;from=SOURCE, time source\n" +
			"\"simulated\"). So that a rehearsal never mixes with real data, the\n" +
			"election it is stored as (--election, by default the source's) must have\n" +
			"no snapshots in the store yet. With --legacy-dir the night is written\n" +
			"instead as a folder of the old tool, which 'go run ./cmd/fakect DIR'\n" +
			"serves and 'ctrunner import' reads; the folder must be new or empty, and\n" +
			"the election keeps the source's ID (the documents name it).\n" +
			"\n" +
			"--start defaults to 8 pm New York time on the election's date. Prints one\n" +
			"line per version written on stdout.",
		Flags: []cli.Flag{
			storeFlag(),
			backendFlag(),
			&cli.StringFlag{Name: "from-file", Usage: "read the final results from a raw.json wrapper"},
			&cli.StringFlag{Name: "legacy-dir", Usage: "write the night as an old tool's folder"},
			&cli.StringFlag{Name: "election", Usage: "election ID to write the night as"},
			&cli.IntFlag{Name: "versions", Usage: "versions in the night", Value: 300},
			&cli.Int64Flag{Name: "seed", Usage: "seed of the night", Value: 1},
			&cli.StringFlag{Name: "start", Usage: "fetch time of the first version (RFC 3339)"},
			&cli.DurationFlag{
				Name:  "interval",
				Usage: "mean time between versions",
				Value: 2 * time.Minute,
			},
			&cli.Int64Flag{Name: "first-version", Usage: "API version of the first version", Value: 1000},
			&cli.Int64Flag{Name: "version-step", Usage: "mean step between API versions", Value: 3},
		},
		Action: func(c *cli.Context) error {
			return runSimulate(c, io)
		},
	}
}

// simulationSource is the final results a night is made from.
type simulationSource struct {
	election     snapshot.ElectionID
	name         string // how SourceURL names it: a snapshot ID or a path
	describe     string // how messages name it
	electionData []byte
	lookupData   []byte
}

func runSimulate(c *cli.Context, io streams) error {
	src, err := simulationInput(c)
	if err != nil {
		return err
	}
	target, err := simulationTarget(c, src)
	if err != nil {
		return err
	}
	ld, err := snapshot.DecodeLookupData(src.lookupData)
	if err != nil {
		return fmt.Errorf("%s: %w", src.describe, err)
	}
	ed, err := snapshot.DecodeElectionData(src.electionData)
	if err != nil {
		return fmt.Errorf("%s: %w", src.describe, err)
	}
	if ed.TownVotes.Len() == 0 && ed.StateVotes.Len() == 0 {
		return fmt.Errorf("%s has no results (townVotes and stateVotes are empty) "+
			"for a night to build up to", src.describe)
	}
	opts, err := simulationOptions(c, ld, len(src.electionData)+len(src.lookupData))
	if err != nil {
		return err
	}
	night, err := rehearsal.New(src.electionData, src.lookupData, opts)
	if err != nil {
		return fmt.Errorf("simulating %s: %w", src.describe, err)
	}

	announce := func() {
		io.warnf("simulating %s as election %s: %d %s from %s, seed %d",
			src.describe, target, opts.Versions, plural(opts.Versions, "version"), opts.Start.Format(time.RFC3339), opts.Seed)
	}
	if dir := c.String("legacy-dir"); dir != "" {
		return writeLegacyNight(io, night, dir, target, ld, announce)
	}
	return storeNight(c, io, night, src, target, announce)
}

// simulationTarget returns the election the night is written as.
func simulationTarget(c *cli.Context, src *simulationSource) (snapshot.ElectionID, error) {
	target := src.election
	if id := c.String("election"); id != "" {
		var err error
		if target, err = snapshot.ParseElectionID(id); err != nil {
			return "", usagef("simulate: --election: %v", err)
		}
	}
	switch {
	case target == "":
		return "", usagef("simulate: %s names no election; give --election", src.describe)
	case c.String("legacy-dir") != "" && target != src.election:
		return "", usagef("simulate: --legacy-dir writes the night as election %s, the "+
			"source's; --election %s works only with --store", src.election, target)
	}
	return target, nil
}

// simulationInput reads the final results named on the command line.
func simulationInput(c *cli.Context) (*simulationSource, error) {
	file := c.String("from-file")
	switch {
	case file != "" && c.Args().Len() > 0:
		return nil, usagef("simulate: give either REF or --from-file, not both")
	case file != "":
		return simulationFile(file)
	}
	ref, err := oneArg(c, "the snapshot to simulate (REF, e.g. 80) or --from-file")
	if err != nil {
		return nil, err
	}
	st, err := openStore(c)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	e, snap, err := loadRef(st, ref)
	if err != nil {
		return nil, err
	}
	ed, okED := snap.File(snapshot.ElectionDataFile)
	ld, okLD := snap.File(snapshot.LookupDataFile)
	if !okED || !okLD {
		return nil, fmt.Errorf("snapshot %s has no %s and %s to simulate",
			e.ID.Short(), snapshot.ElectionDataFile, snapshot.LookupDataFile)
	}
	return &simulationSource{
		election: e.Election,
		name:     e.ID.Short(),
		describe: fmt.Sprintf("election %s version %s (snapshot %s)",
			e.Election, e.Version, e.ID.Short()),
		electionData: ed,
		lookupData:   ld,
	}, nil
}

// simulationFile reads a raw.json wrapper, gzipped or not.
func simulationFile(path string) (*simulationSource, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	version, ed, ld, err := legacy.Split(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	decoded, err := snapshot.DecodeElectionData(ed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return &simulationSource{
		election:     decoded.Election.ID,
		name:         abs,
		describe:     fmt.Sprintf("election %s version %s (%s)", decoded.Election.ID, version, path),
		electionData: ed,
		lookupData:   ld,
	}, nil
}

// A night is stored as one transaction, held in memory until it commits
// (about 0.5 MB a version for a statewide election): maxNightVersions
// bounds --versions, and maxNightBytes the versions times the size of the
// source's documents.
const (
	maxNightVersions = 20000
	maxNightBytes    = 1 << 30
)

// simulationOptions reads the shape of the night from the flags. docBytes
// is the size of the source's documents.
func simulationOptions(c *cli.Context, ld *snapshot.LookupData, docBytes int) (rehearsal.Options, error) {
	opts := rehearsal.Options{
		Versions:     c.Int("versions"),
		Seed:         c.Int64("seed"),
		Interval:     c.Duration("interval"),
		FirstVersion: snapshot.Version(c.Int64("first-version")),
		VersionStep:  c.Int64("version-step"),
	}
	switch {
	case opts.Versions < 1 || opts.Versions > maxNightVersions:
		return opts, usagef("simulate: --versions must be from 1 to %d, not %d",
			maxNightVersions, opts.Versions)
	case int64(opts.Versions)*int64(docBytes) > maxNightBytes:
		return opts, usagef("simulate: --versions %d of documents of %d bytes would hold more "+
			"than 1 GiB in memory: at most %d versions of this election", opts.Versions, docBytes,
			maxNightBytes/max(docBytes, 1))
	case opts.VersionStep < 1:
		return opts, usagef("simulate: --version-step must be at least 1, not %d", opts.VersionStep)
	case opts.FirstVersion < 0:
		return opts, usagef("simulate: --first-version must not be negative")
	case opts.Interval <= 0:
		return opts, usagef("simulate: --interval must be positive, not %v", opts.Interval)
	}
	if s := c.String("start"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return opts, usagef("simulate: --start %q is not a time like 2024-11-05T20:00:00-05:00", s)
		}
		if t.Unix() < 0 {
			return opts, usagef("simulate: --start %q is before 1970", s)
		}
		opts.Start = t
		return opts, nil
	}
	t, err := pollsClose(ld.Election.Date)
	if err != nil {
		return opts, usagef("simulate: %v; give --start", err)
	}
	opts.Start = t
	return opts, nil
}

// pollsClose returns 8 pm in Connecticut on a LookupData date, MM/DD/YYYY.
// Without the time zone database it takes Eastern Standard Time.
func pollsClose(date string) (time.Time, error) {
	zone, err := time.LoadLocation("America/New_York")
	if err != nil {
		zone = time.FixedZone("EST", -5*60*60)
	}
	day, err := time.ParseInLocation("01/02/2006", date, zone)
	if err != nil {
		return time.Time{}, fmt.Errorf("the election's date %q is not MM/DD/YYYY", date)
	}
	return day.Add(20 * time.Hour), nil
}

// storeNight writes the night into the store as snapshots of target, as
// one transaction: a night is stored whole or not at all, and two nights
// (or a night and real fetches) can never interleave in one election.
func storeNight(c *cli.Context, io streams, night *rehearsal.Night,
	src *simulationSource, target snapshot.ElectionID, announce func()) error {
	dir := c.String("store")
	sourceURL := fmt.Sprintf("simulate:seed=%d;from=%s", c.Int64("seed"), src.name)
	var report strings.Builder
	err := updateStore(c, io, func(st store.Store, b store.Batch) error {
		// The store lock is held: nobody can add to the election meanwhile.
		if err := checkNewElection(st, dir, target, c.String("election") != ""); err != nil {
			return err
		}
		announce()
		for step := range night.Steps() {
			s := snapshot.New(snapshot.Meta{
				Election:   target,
				Version:    step.Version,
				FetchedAt:  step.FetchedAt,
				Source:     snapshot.Simulated,
				SourceURL:  sourceURL,
				TimeSource: "simulated",
			}, []snapshot.File{
				{Name: snapshot.VersionFile, Data: versionDocument(step.Version)},
				{Name: snapshot.ElectionDataFile, Data: step.ElectionData},
				{Name: snapshot.LookupDataFile, Data: step.LookupData},
			})
			if err := checkDocuments(s); err != nil {
				return fmt.Errorf("simulated version %s: %w", step.Version, err)
			}
			e, _, err := b.Put(s)
			if err != nil {
				return err
			}
			fmt.Fprintf(&report, "election %s version %s at %s: new snapshot %s\n",
				target, step.Version, step.FetchedAt.Format(time.RFC3339), e.ID.Short())
		}
		return nil
	})
	if err != nil {
		return err
	}
	io.stdout.Write([]byte(report.String()))
	io.warnf("wrote %d %s of election %s to %s", night.Len(), plural(night.Len(), "version"),
		target, dir)
	return nil
}

// checkNewElection refuses to write a night into an election that already
// has snapshots, so that a rehearsal never mixes with real data.
func checkNewElection(st store.Store, dir string, id snapshot.ElectionID, chosen bool) error {
	log, err := st.Log(id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	case !chosen:
		return usagef("simulate: %s already holds election %s; give --election with an unused "+
			"ID (e.g. --election 9%s%s) so that the rehearsal does not mix with it",
			dir, id, strings.Repeat("0", max(0, 3-len(id))), id)
	}
	return fmt.Errorf("election %s already has %d snapshots in %s; choose an unused --election "+
		"or another store", id, len(log), dir)
}

// versionDocument is a Version.json as the API serves it.
func versionDocument(v snapshot.Version) []byte {
	return []byte(`{"Version":` + strconv.FormatInt(int64(v), 10) + `}`)
}

// writeLegacyNight writes the night as the old tool's folder: index.json,
// {id}/{version}/raw.json and results.csv per version, and the last one
// again as {id}/raw.json and results.csv. Each raw.json is dated with its
// simulated fetch time, which 'ctrunner import' then reads back.
func writeLegacyNight(io streams, night *rehearsal.Night, dir string,
	target snapshot.ElectionID, ld *snapshot.LookupData, announce func()) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("legacy folder %s is not empty; give a new or empty folder", dir)
	}
	announce()
	electionDir := filepath.Join(dir, string(target))
	if err := os.MkdirAll(electionDir, 0o755); err != nil {
		return err
	}
	if err := writeLegacyIndex(dir, target, ld); err != nil {
		return err
	}

	warned := map[string]bool{}
	warn := func(msg string) {
		if !warned[msg] {
			warned[msg] = true
			io.warnf("warning: %s", msg)
		}
	}
	for step := range night.Steps() {
		folder := filepath.Join(electionDir, step.Version.String())
		if err := writeLegacyVersion(folder, step, ld, warn); err != nil {
			return err
		}
		fmt.Fprintf(io.stdout, "election %s version %s at %s: %s\n", target, step.Version,
			step.FetchedAt.Format(time.RFC3339), filepath.Join(folder, legacy.RawFile))
		if step.Index == night.Len()-1 {
			if err := writeLegacyVersion(electionDir, step, ld, warn); err != nil {
				return err
			}
		}
	}
	io.warnf("wrote %d %s of election %s to %s", night.Len(), plural(night.Len(), "version"),
		target, dir)
	return nil
}

// writeLegacyIndex writes index.json, pretty-printed as the old tool did,
// listing the one election.
func writeLegacyIndex(dir string, id snapshot.ElectionID, ld *snapshot.LookupData) error {
	list := []struct {
		ID              string
		Name            string
		DefaultElection string
	}{{string(id), ld.Election.Name, "Y"}}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(list); err != nil {
		return err
	}
	data := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	return os.WriteFile(filepath.Join(dir, legacy.IndexFile), data, 0o644)
}

// writeLegacyVersion writes raw.json and results.csv of one step into
// folder.
func writeLegacyVersion(folder string, step rehearsal.Step, ld *snapshot.LookupData,
	warn func(string)) error {
	raw, err := legacy.Wrap(step.Version, step.ElectionData, step.LookupData)
	if err != nil {
		return fmt.Errorf("simulated version %s: %w", step.Version, err)
	}
	ed, err := snapshot.DecodeElectionData(step.ElectionData)
	if err != nil {
		return fmt.Errorf("simulated version %s: %w", step.Version, err)
	}
	var csv bytes.Buffer
	if err := export.ResultsCSV(&csv, ed, ld, warn); err != nil {
		return err
	}

	if err := os.MkdirAll(folder, 0o755); err != nil {
		return err
	}
	rawPath := filepath.Join(folder, legacy.RawFile)
	if err := os.WriteFile(rawPath, raw, 0o644); err != nil {
		return err
	}
	csvPath := filepath.Join(folder, legacy.ResultsFile)
	if err := os.WriteFile(csvPath, csv.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Chtimes(rawPath, step.FetchedAt, step.FetchedAt)
}
