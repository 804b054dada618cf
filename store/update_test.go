package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"ctrunner/snapshot"
)

// setFault makes the writes of s call fault before each step; with die, a
// failed write leaves everything as a killed process would. A zstd store
// then keeps even small documents as objects, whose writes have steps.
func setFault(t *testing.T, s Store, fault func(step string) error, die bool) {
	t.Helper()
	switch s := s.(type) {
	case *gitStore:
		s.fault, s.dieOnFault = fault, die
	case *zstdStore:
		s.fault, s.dieOnFault = fault, die
		s.smallDocument = -1
	default:
		t.Fatalf("no faults for a %T", s)
	}
}

// batchList is the election list that batchOp archives.
var batchList = []byte(`[{"ID":"80"},{"ID":"81"}]`)

// batchBase archives the store's state before batchOp: an election list
// and no election, so that batchOp moves one branch and makes two.
func batchBase(t *testing.T, s Store) {
	t.Helper()
	if _, err := s.PutElectionList(context.Background(), []byte("[]"), t0, ""); err != nil {
		t.Fatalf("PutElectionList = %v", err)
	}
}

// batchOp archives batchPuts in one Update.
func batchOp(ctx context.Context, s Store) ([]Entry, error) {
	var entries []Entry
	err := s.Update(ctx, func(b Batch) error {
		var err error
		entries, err = batchPuts(b)
		return err
	})
	return entries, err
}

// batchPuts archives three versions of election 80, one of election 81
// and a new election list, and returns the snapshots' entries.
func batchPuts(b Batch) ([]Entry, error) {
	var entries []Entry
	for v := int64(1); v <= 3; v++ {
		at := t0.Add(time.Duration(v) * time.Minute)
		e, _, err := b.Put(snap("80", v, at, docs(v, fmt.Sprint("v", v))...))
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	e, _, err := b.Put(snap("81", 1, t0, docs(1, "v1")...))
	if err != nil {
		return nil, err
	}
	entries = append(entries, e)
	_, err = b.PutElectionList(batchList, t0.Add(time.Hour), "")
	return entries, err
}

// checkBatchOp checks that the store holds all of batchOp or none of it.
func checkBatchOp(t *testing.T, what string, s Store, all bool) {
	t.Helper()
	list, _, err := s.ElectionList()
	if err != nil {
		t.Fatalf("%s: ElectionList() = %v", what, err)
	}
	got80, _ := s.Log("80")
	got81, _ := s.Log("81")
	got := fmt.Sprintf("%d snapshots of 80, %d of 81, list %s", len(got80), len(got81), list)
	want := "0 snapshots of 80, 0 of 81, list []"
	if all {
		want = fmt.Sprintf("3 snapshots of 80, 1 of 81, list %s", batchList)
	}
	if got != want {
		t.Fatalf("%s: the store holds %s, want %s", what, got, want)
	}
}

func testUpdateAllOrNothing(t *testing.T, open opener) {
	s, dir := newStore(t, open)
	ctx := context.Background()
	batchBase(t, s)
	before := treeState(t, dir)

	errStop := errors.New("stop")
	err := s.Update(ctx, func(b Batch) error {
		if _, err := batchPuts(b); err != nil {
			return err
		}
		return errStop
	})
	if err != errStop {
		t.Errorf("Update(fn failing) = %v, want fn's error unchanged", err)
	}
	checkUnchanged(t, "an Update whose fn failed", before, treeState(t, dir))
	checkBatchOp(t, "after an Update whose fn failed", s, false)

	if err := s.Update(ctx, func(b Batch) error { return nil }); err != nil {
		t.Errorf("Update(nothing) = %v", err)
	}
	checkUnchanged(t, "an empty Update", before, treeState(t, dir))

	entries, err := batchOp(ctx, s)
	if err != nil {
		t.Fatalf("Update = %v", err)
	}
	checkBatchOp(t, "after the Update", s, true)
	got := append(mustLog(t, s, "80"), mustLog(t, s, "81")...)
	want := []Entry{entries[2], entries[1], entries[0], entries[3]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Log after Update = %+v, want the entries Put returned %+v", got, want)
	}
	for _, e := range got {
		if _, err := s.Load(e); err != nil {
			t.Errorf("Load(%s@%s) = %v", e.Election, e.Version, err)
		}
	}
}

func testUpdateInsideBatch(t *testing.T, open opener) {
	s, _ := newStore(t, open)
	ctx := context.Background()
	s1 := snap("80", 1, t0, docs(1, "a")...)
	s2 := snap("80", 2, t0.Add(time.Minute), docs(2, "b")...)
	s3 := snap("80", 3, t0.Add(2*time.Minute), s1.Files...)
	e1 := mustPut(t, s, s1)
	list := []byte(`[{"ID":"80"}]`)

	var e2, e3 Entry
	var batch Batch
	err := s.Update(ctx, func(b Batch) error {
		batch = b
		steps := []struct {
			sn        *snapshot.Snapshot
			wantAdded bool
			want      *Entry // the entry to expect, or nil to keep it
			keep      *Entry
		}{
			{s1, false, &e1, nil}, // the stored tip
			{s2, true, nil, &e2},
			{s2, false, &e2, nil}, // the batch's tip
			{s3, true, nil, &e3},  // only the tip counts
		}
		for i, st := range steps {
			e, added, err := b.Put(st.sn)
			if err != nil || added != st.wantAdded {
				return fmt.Errorf("step %d: Put = %v, %v; want %v, nil",
					i, added, err, st.wantAdded)
			}
			if st.want != nil && !reflect.DeepEqual(e, *st.want) {
				t.Errorf("step %d: Put = %+v, want %+v", i, e, *st.want)
			}
			if st.keep != nil {
				*st.keep = e
			}
		}
		for i, want := range []bool{true, false} {
			added, err := b.PutElectionList(list, t0, "")
			if err != nil || added != want {
				t.Errorf("PutElectionList #%d = %v, %v; want %v, nil", i+1, added, err, want)
			}
		}

		containsTests := []struct {
			id   snapshot.ElectionID
			h    snapshot.Hash
			want bool
		}{
			{"80", s1.ID(), true},
			{"80", s2.ID(), true},
			{"81", s2.ID(), false},
			{"80", snapshot.TreeHash(docs(9, "z")), false},
		}
		for _, tt := range containsTests {
			if got, err := b.Contains(tt.id, tt.h); err != nil || got != tt.want {
				t.Errorf("Batch.Contains(%s, %s) = %v, %v; want %v, nil",
					tt.id, tt.h.Short(), got, err, tt.want)
			}
		}
		// The store does not show the batch before Update returns.
		if got, err := s.Contains("80", s2.ID()); err != nil || got {
			t.Errorf("Store.Contains(batch's snapshot) in fn = %v, %v; want false, nil", got, err)
		}
		if got := len(mustLog(t, s, "80")); got != 1 {
			t.Errorf("len(Log(80)) in fn = %d, want 1", got)
		}
		if _, _, err := s.ElectionList(); !errors.Is(err, ErrNotFound) {
			t.Errorf("ElectionList() in fn = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update = %v", err)
	}
	if got, want := mustLog(t, s, "80"), []Entry{e3, e2, e1}; !reflect.DeepEqual(got, want) {
		t.Errorf("Log after Update = %+v, want %+v", got, want)
	}
	if got, _, err := s.ElectionList(); err != nil || string(got) != string(list) {
		t.Errorf("ElectionList() after Update = %q, %v; want %q", got, err, list)
	}
	if _, _, err := batch.Put(snap("80", 4, t0, docs(4, "d")...)); err == nil {
		t.Errorf("Batch.Put after Update returned = nil error, want one")
	}
}

func testUpdateCancel(t *testing.T, open opener) {
	s, dir := newStore(t, open)
	batchBase(t, s)
	before := treeState(t, dir)
	for _, during := range []bool{true, false} {
		ctx, cancel := context.WithCancel(context.Background())
		err := s.Update(ctx, func(b Batch) error {
			if _, _, err := b.Put(snap("80", 1, t0, docs(1, "a")...)); err != nil {
				return err
			}
			cancel()
			if !during {
				return nil
			}
			_, _, err := b.Put(snap("80", 2, t0, docs(2, "b")...))
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Update cancelled (in a Put: %v) = %v, want context.Canceled", during, err)
		}
		checkUnchanged(t, "a cancelled Update", before, treeState(t, dir))
	}
}

// testUpdateConcurrentImports runs several imports of the same versions at
// once, through two Store values, each Update checking with Contains what
// is already stored: every version must land once, in order.
func testUpdateConcurrentImports(t *testing.T, open opener) {
	a, dir := newStore(t, open)
	b := open(t, dir)
	defer b.Close()
	const versions, chunk = 20, 4
	var sns []*snapshot.Snapshot
	for v := int64(1); v <= versions; v++ {
		sns = append(sns, snap("80", v, t0.Add(time.Duration(v)*time.Minute),
			docs(v, fmt.Sprint("v", v))...))
	}
	importAll := func(s Store) error {
		for i := 0; i < versions; i += chunk {
			err := s.Update(context.Background(), func(bt Batch) error {
				for _, sn := range sns[i : i+chunk] {
					has, err := bt.Contains(sn.Election, sn.ID())
					if err != nil || has {
						return err
					}
					if _, _, err := bt.Put(sn); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, s := range []Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- importAll(s)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("import = %v", err)
		}
	}
	for _, s := range []Store{a, b} {
		var got []int64
		for _, e := range mustLog(t, s, "80") {
			got = append([]int64{int64(e.Version)}, got...)
		}
		var want []int64
		for v := int64(1); v <= versions; v++ {
			want = append(want, v)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("versions archived, oldest first = %v, want %v", got, want)
		}
	}
}

// batchScenario is a batch that testUpdateFaults and testUpdateCrash
// fail at each of its steps.
type batchScenario struct {
	// base archives the store's state before the batch.
	base func(t *testing.T, s Store)
	// op runs the batch.
	op func(ctx context.Context, s Store) error
	// check checks that the store holds all of the batch or none of it.
	check func(t *testing.T, what string, s Store, all bool)
	// minSteps is fewer steps than the batch has.
	minSteps int
}

// putsScenario is batchOp on top of batchBase.
var putsScenario = batchScenario{
	base: batchBase,
	op: func(ctx context.Context, s Store) error {
		_, err := batchOp(ctx, s)
		return err
	},
	check:    checkBatchOp,
	minSteps: 10,
}

func testUpdateFaults(t *testing.T, open opener) { updateFaults(t, open, putsScenario) }

func testUpdateCrash(t *testing.T, open opener) { updateCrash(t, open, putsScenario) }

// updateFaults fails the batch of sc at each of its steps in turn: the
// store must stay as it was, until the batch without a fault archives it
// all.
func updateFaults(t *testing.T, open opener, sc batchScenario) {
	s, dir := newStore(t, open)
	ctx := context.Background()
	sc.base(t, s)
	before := treeState(t, dir)
	for n := 1; ; n++ {
		calls, failed := 0, ""
		setFault(t, s, func(step string) error {
			if calls++; calls == n {
				failed = step
				return fmt.Errorf("%w at %s", errFault, step)
			}
			return nil
		}, false)
		err := sc.op(ctx, s)
		setFault(t, s, nil, false)
		if failed == "" {
			if err != nil {
				t.Fatalf("batch without a fault = %v", err)
			}
			if n < sc.minSteps {
				t.Fatalf("the batch has only %d steps, want at least %d", n-1, sc.minSteps)
			}
			break
		}
		what := fmt.Sprintf("a batch failing at step %d (%s)", n, failed)
		if !errors.Is(err, errFault) {
			t.Fatalf("%s = %v, want the fault", what, err)
		}
		checkUnchanged(t, what, before, treeState(t, dir))
		sc.check(t, what, s, false)
	}
	sc.check(t, "after the batch", s, true)
	if _, ok := s.(*gitStore); ok && haveGit() {
		checkGitClean(t, dir)
	}
}

// updateCrash kills the batch of sc at each of its steps, then runs
// Recover, which must leave the store exactly as before the batch; or, for
// a zstd batch killed after its journal lines were appended, as after it.
func updateCrash(t *testing.T, open opener, sc batchScenario) {
	base, baseDir := newStore(t, open)
	ctx := context.Background()
	sc.base(t, base)
	base.Close()
	before := treeState(t, baseDir)
	afterDir := copyStore(t, baseDir)
	after := open(t, afterDir)
	setFault(t, after, nil, false) // no fault, but objects as the batches below
	if err := sc.op(ctx, after); err != nil {
		t.Fatalf("batch = %v", err)
	}
	after.Close()
	wantAfter := treeState(t, afterDir)

	fscked := map[string]bool{}
	for n := 1; ; n++ {
		dir := copyStore(t, baseDir)
		s := open(t, dir)
		calls, failed := 0, ""
		setFault(t, s, func(step string) error {
			if calls++; calls == n {
				failed = step
				return errCrash
			}
			return nil
		}, true)
		err := sc.op(ctx, s)
		s.Close()
		if failed == "" {
			break
		}
		what := fmt.Sprintf("a batch killed at step %d (%s)", n, failed)
		if !errors.Is(err, errCrash) {
			t.Fatalf("%s = %v, want the crash", what, err)
		}
		want, wantName := before, "before"
		if _, ok := s.(*zstdStore); ok && failed == "sync journal" {
			want, wantName = wantAfter, "after"
		}
		for i := range 2 {
			report, err := Recover(dir)
			if err != nil {
				t.Fatalf("%s: Recover #%d = %v", what, i+1, err)
			}
			if i == 1 && report != "" {
				t.Errorf("%s: Recover #2 = %q, want nothing to do", what, report)
			}
			if got := treeState(t, dir); got != want {
				t.Fatalf("%s: after Recover (%q) the store is not as %s the batch:\n%s",
					what, report, wantName, diffStates(want, got))
			}
		}
		// git fsck is slow to start: once for each kind of step will do.
		if _, ok := s.(*gitStore); ok && !fscked[failed] {
			fscked[failed] = true
			checkFsck(t, dir)
		}
	}
}

// TestZstdTornBatch cuts a batch's journal lines short at many lengths,
// and garbles them: readers must see none of the batch, and Recover must
// bring the store back to exactly its state before the batch.
func TestZstdTornBatch(t *testing.T) {
	t.Parallel()
	z, dir := openZstdTest(t)
	batchBase(t, z)
	z.Close()
	before := treeState(t, dir)
	journalFile := filepath.Join(dir, zstdJournalName)
	good, _ := os.ReadFile(journalFile)

	afterDir := copyStore(t, dir)
	if _, err := batchOp(context.Background(), reopenZstd(t, afterDir)); err != nil {
		t.Fatalf("batch = %v", err)
	}
	full, _ := os.ReadFile(filepath.Join(afterDir, zstdJournalName))
	if !bytes.HasPrefix(full, good) || bytes.Count(full[len(good):], []byte("\n")) != 6 {
		t.Fatalf("journal after a batch of 5 =\n%s\nwant the old lines, 5 records and an end",
			full)
	}

	cases := map[string][]byte{}
	for n := len(good) + 1; n < len(full); n++ {
		if n%97 == 0 || full[n-1] == '\n' || full[n] == '\n' {
			cases[fmt.Sprintf("cut at byte %d", n)] = full[:n]
		}
	}
	for name, data := range cases {
		d := copyStore(t, afterDir)
		if err := os.WriteFile(filepath.Join(d, zstdJournalName), data, 0o644); err != nil {
			t.Fatal(err)
		}
		checkBatchOp(t, "journal "+name, reopenZstd(t, d), false)
		report, err := Recover(d)
		if err != nil || !strings.Contains(report, "cut an incomplete write") {
			t.Fatalf("Recover(journal %s) = %q, %v; want a cut", name, report, err)
		}
		if got := treeState(t, d); got != before {
			t.Fatalf("Recover(journal %s) left:\n%s", name, diffStates(before, got))
		}
	}

	// A garbled record before the batch's end line is damage, not a
	// torn write: Recover must report it and cut nothing.
	garbled := bytes.Clone(full)
	garbled[len(good)+30] ^= 0x01 // in the batch's first record
	gd := copyStore(t, afterDir)
	os.WriteFile(filepath.Join(gd, zstdJournalName), garbled, 0o644)
	if _, err := Recover(gd); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("Recover(garbled batch) = %v, want damage reported", err)
	}
	if got, _ := os.ReadFile(filepath.Join(gd, zstdJournalName)); !bytes.Equal(got, garbled) {
		t.Errorf("Recover(garbled batch) changed the journal")
	}

	// Damage before a complete batch is damage, not a torn write.
	damaged := bytes.Clone(full)
	damaged[30] ^= 0x01
	os.WriteFile(filepath.Join(afterDir, zstdJournalName), damaged, 0o644)
	if _, err := Recover(afterDir); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("Recover(damaged journal) = %v, want damage reported", err)
	}
}

// TestZstdSyncFailureTakenBack fails the sync of a batch's journal lines
// after another Store has read them: the batch is taken back, and that
// Store stops showing it.
func TestZstdSyncFailureTakenBack(t *testing.T) {
	z, dir := openZstdTest(t)
	batchBase(t, z)
	before := treeState(t, dir)
	r := reopenZstd(t, dir)
	z.fault = func(step string) error {
		if step != "sync journal" {
			return nil
		}
		checkBatchOp(t, "a batch being synced", r, true)
		return errFault
	}
	_, err := batchOp(context.Background(), z)
	z.fault = nil
	if !errors.Is(err, errFault) {
		t.Fatalf("batch whose sync fails = %v, want the fault", err)
	}
	checkUnchanged(t, "a batch whose sync failed", before, treeState(t, dir))
	for _, s := range []Store{r, z, reopenZstd(t, dir)} {
		checkBatchOp(t, "after the batch was taken back", s, false)
	}
	if _, err := batchOp(context.Background(), r); err != nil {
		t.Fatalf("batch again = %v", err)
	}
	checkBatchOp(t, "after the batch again", z, true)
}
