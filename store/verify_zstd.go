package store

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"ctrunner/snapshot"
)

func (z *zstdStore) verify(ctx context.Context, opts VerifyOptions) (VerifyReport, error) {
	var r VerifyReport
	z.mu.Lock()
	if z.closed {
		z.mu.Unlock()
		return r, errClosed
	}
	err := z.current()
	var ids []snapshot.ElectionID
	logs := map[snapshot.ElectionID][]*zstdIndexed{}
	var lists []*zstdIndexed
	var damage *zstdDamage
	if err == nil {
		damage = z.index.damage
		for id, rs := range z.index.logs {
			ids = append(ids, id)
			logs[id] = rs
		}
		lists = z.index.lists
		// Reading the journal checked that each publication names an
		// earlier snapshot record of its election.
		for _, ps := range z.index.pubs {
			r.Publications += len(ps)
		}
	}
	z.mu.Unlock()
	if err != nil {
		// The journal cannot be read past a damaged line: nothing after it
		// can be checked.
		r.Problems = append(r.Problems, Problem{Path: zstdJournalName, What: err.Error()})
		return r, nil
	}

	v := &zstdVerifier{z: z, opts: opts, headers: map[string]string{},
		sums: map[string]string{}}
	v.report.Publications = r.Publications
	if damage != nil {
		// Readers see the records before the damaged batch, checked
		// below; those from it on cannot be read.
		v.report.Problems = append(v.report.Problems, Problem{Path: zstdJournalName,
			What: fmt.Sprintf("damaged at line %d (%s)", damage.line, damage.detail())})
	}
	for _, rec := range lists {
		if err := ctx.Err(); err != nil {
			return v.report, err
		}
		v.report.ElectionLists++
		v.record(Problem{List: true}, rec)
	}
	for _, id := range sortedElections(ids) {
		v.report.Elections++
		rs := logs[id]
		for i := len(rs) - 1; i >= 0; i-- {
			if err := ctx.Err(); err != nil {
				return v.report, err
			}
			v.report.Snapshots++
			v.record(Problem{Election: id}, rs[i])
		}
	}
	v.report.Objects = len(v.headers)
	return v.report, nil
}

func sortedElections(ids []snapshot.ElectionID) []snapshot.ElectionID {
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && electionLess(ids[j], ids[j-1]); j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
	return ids
}

// zstdVerifier is one Verify of a zstd store.
type zstdVerifier struct {
	z      *zstdStore
	opts   VerifyOptions
	report VerifyReport
	// headers holds, by object, what is wrong with its header or the
	// headers of its delta chain ("" for nothing); sums, with ReadData,
	// the SHA-256 its chain decodes to or what went wrong.
	headers map[string]string
	sums    map[string]string
}

// record checks one journal record: every document's object and delta
// chain, and with ReadData the documents' hashes and the snapshot ID.
func (v *zstdVerifier) record(p Problem, rec *zstdIndexed) {
	p.Version, p.Snapshot, p.Commit = rec.entry.Version, rec.entry.ID.String(), rec.entry.Commit
	var files []snapshot.File
	whole := true
	for _, f := range rec.files {
		q := p
		q.Document = f.Name
		if f.Inline {
			// The journal holds the document, checked when it was read.
			files = append(files, snapshot.File{Name: f.Name, Data: f.Data})
			continue
		}
		q.Object, q.Path = f.SHA256, v.z.objects.rel(f.SHA256)
		if what := v.chain(f.SHA256, f.Size); what != "" {
			q.What = what
			v.report.Problems = append(v.report.Problems, q)
			whole = false
			continue
		}
		if !v.opts.ReadData {
			continue
		}
		data, what := v.data(f)
		if what != "" {
			q.What = what
			v.report.Problems = append(v.report.Problems, q)
			whole = false
			continue
		}
		files = append(files, snapshot.File{Name: f.Name, Data: data})
	}
	if v.opts.ReadData && whole {
		if got := snapshot.TreeHash(files); got != rec.entry.ID {
			p.What = fmt.Sprintf("documents have snapshot ID %s", got)
			v.report.Problems = append(v.report.Problems, p)
		}
	}
}

// chain checks the header of the object sum, which should hold size raw
// bytes, and the headers of its delta chain down to a full object.
func (v *zstdVerifier) chain(sum string, size int64) string {
	what := v.header(sum, 0)
	if what != "" {
		return what
	}
	h, _ := readObjectHeader(v.z.objects, sum)
	if h.rawSize != size {
		return fmt.Sprintf("holds %d bytes, the journal says %d", h.rawSize, size)
	}
	return ""
}

// header checks the object sum's header and, for a delta, its base's,
// down the chain; n is how many links were followed to reach it.
func (v *zstdVerifier) header(sum string, n int) string {
	if what, ok := v.headers[sum]; ok {
		return what
	}
	if n >= maxChainLength {
		return fmt.Sprintf("delta chain longer than %d objects", maxChainLength)
	}
	objs := v.z.objects
	h, err := readObjectHeader(objs, sum)
	what := ""
	switch {
	case err != nil:
		what = strings.TrimPrefix(err.Error(), objs.name(sum)+": ")
		what = strings.TrimPrefix(what, objs.name(sum)+" is ")
	case h.kind != objectFull:
		base := hex.EncodeToString(h.base[:])
		if bw := v.header(base, n+1); bw != "" {
			what = fmt.Sprintf("its delta base %s: %s", objs.rel(base), bw)
		} else if bh, _ := readObjectHeader(objs, base); bh.depth != h.depth-1 {
			what = fmt.Sprintf("has depth %d, its base %s depth %d", h.depth, base, bh.depth)
		}
	}
	v.headers[sum] = what
	return what
}

// data decodes the document f through its delta chain and checks its
// SHA-256 and size.
func (v *zstdVerifier) data(f zstdDocument) ([]byte, string) {
	if what, ok := v.sums[f.SHA256]; ok && what != "" {
		return nil, what
	}
	z := v.z
	z.codecMu.Lock()
	var raw []byte
	err := errClosed
	if z.codec != nil {
		raw, err = z.codec.readRaw(z.objects, f.SHA256)
		raw = append([]byte(nil), raw...)
	}
	z.codecMu.Unlock()
	what := ""
	switch {
	case err != nil:
		what = strings.TrimPrefix(err.Error(), z.objects.name(f.SHA256)+": ")
	case snapshot.SHA256(raw) != f.SHA256:
		what = fmt.Sprintf("decodes to SHA-256 %s", snapshot.SHA256(raw))
	case int64(len(raw)) != f.Size:
		what = fmt.Sprintf("decodes to %d bytes, the journal says %d", len(raw), f.Size)
	}
	v.sums[f.SHA256] = what
	if what != "" {
		return nil, what
	}
	return raw, ""
}
