package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"ctrunner/feed"
	"ctrunner/snapshot"
)

// fetchElection fetches one election as a consistent set of documents and
// checks that they decode, so that nothing unreadable is ever archived as
// if it were good. It fills in the precincts-reporting summary.
func fetchElection(ctx context.Context, client *feed.Client, id snapshot.ElectionID) (*snapshot.Snapshot, error) {
	s, err := client.Election(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := checkDocuments(s); err != nil {
		return nil, fmt.Errorf("%s: %w", s.SourceURL, err)
	}
	return s, nil
}

// checkDocuments decodes a snapshot's election and lookup documents and
// records its precincts-reporting line in the metadata.
func checkDocuments(s *snapshot.Snapshot) error {
	ed, _ := s.File(snapshot.ElectionDataFile)
	ld, _ := s.File(snapshot.LookupDataFile)
	if _, err := snapshot.DecodeElectionData(ed); err != nil {
		return err
	}
	if _, err := snapshot.DecodeLookupData(ld); err != nil {
		return err
	}
	pr, err := snapshot.Summarize(ed)
	if err != nil {
		return err
	}
	s.PrecinctsReporting = pr
	return nil
}

// fetchResult is the outcome of fetching one election.
type fetchResult struct {
	id       snapshot.ElectionID
	snapshot *snapshot.Snapshot
	err      error
	skipped  bool // not an error: see unpublished
}

// fetchAll fetches the elections with at most jobs requests in flight and
// returns the results in the order of ids. progress, if not nil, is called
// after each election completes.
func fetchAll(ctx context.Context, client *feed.Client, ids []snapshot.ElectionID, jobs int,
	progress func(done, total int)) []fetchResult {
	if jobs < 1 {
		jobs = 1
	}
	results := make([]fetchResult, len(ids))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
		sem  = make(chan struct{}, jobs)
	)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()

			s, err := fetchElection(ctx, client, id)
			results[i] = fetchResult{id: id, snapshot: s, err: err}

			mu.Lock()
			done++
			if progress != nil {
				progress(done, len(ids))
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
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
