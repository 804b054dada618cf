package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"ctrunner/feed"
	"ctrunner/snapshot"
)

// fetchElection fetches one election as a consistent set of documents and
// checks that they decode, so that nothing unreadable is ever archived as
// if it were good.
func fetchElection(ctx context.Context, client *feed.Client, id snapshot.ElectionID) (*snapshot.Snapshot, error) {
	r := fetchAll(ctx, client, []snapshot.ElectionID{id}, 1, nil)[0]
	return r.snapshot, r.err
}

// checkDocuments decodes a snapshot's election and lookup documents and
// records its precincts-reporting line in the metadata (left empty when
// the document has none, as before an election).
func checkDocuments(s *snapshot.Snapshot) error {
	ed, _ := s.File(snapshot.ElectionDataFile)
	ld, _ := s.File(snapshot.LookupDataFile)
	if _, err := snapshot.DecodeElectionData(ed); err != nil {
		return err
	}
	if _, err := snapshot.DecodeLookupData(ld); err != nil {
		return err
	}
	s.PrecinctsReporting, _ = snapshot.Summarize(ed)
	return nil
}

// fetchResult is the outcome of fetching one election.
type fetchResult struct {
	id       snapshot.ElectionID
	snapshot *snapshot.Snapshot
	err      error
	skipped  bool // not an error: see unpublished
}

// fetchAll fetches the elections with at most jobs requests in flight,
// checks their documents, and returns the results in the order of ids.
// progress, if not nil, is called after each election completes.
func fetchAll(ctx context.Context, client *feed.Client, ids []snapshot.ElectionID, jobs int,
	progress func(done, total int)) []fetchResult {
	index := make(map[snapshot.ElectionID]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	results := make([]fetchResult, len(ids))
	done := 0
	client.Elections(ctx, ids, jobs, func(id snapshot.ElectionID, s *snapshot.Snapshot, err error) {
		if err == nil {
			if err = checkDocuments(s); err != nil {
				err = fmt.Errorf("%s: %w", s.SourceURL, err)
			}
		}
		results[index[id]] = fetchResult{id: id, snapshot: s, err: err}
		done++
		if progress != nil {
			progress(done, len(ids))
		}
	})
	return results
}

// sortElectionIDs sorts IDs numerically.
func sortElectionIDs(ids []snapshot.ElectionID) {
	sort.Slice(ids, func(i, j int) bool {
		a, errA := strconv.ParseInt(string(ids[i]), 10, 64)
		b, errB := strconv.ParseInt(string(ids[j]), 10, 64)
		if errA != nil || errB != nil {
			return ids[i] < ids[j]
		}
		return a < b
	})
}
