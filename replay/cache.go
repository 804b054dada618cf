package replay

import (
	"container/list"
	"sync"

	"ctrunner/snapshot"
	"ctrunner/store"
)

// DefaultCacheBytes is how many bytes of loaded snapshots a replay keeps
// when Options.CacheBytes is zero: a few dozen statewide versions.
const DefaultCacheBytes = 64 << 20

// snapshotCache loads snapshots from the store on demand and keeps the
// most recently used ones up to a budget of bytes. Concurrent requests for
// a snapshot being loaded wait for that one load.
type snapshotCache struct {
	st     store.Store
	budget int64

	mu    sync.Mutex
	items map[string]*cached // by Entry.Commit
	order *list.List         // of *cached, most recently used first
	size  int64
}

type cached struct {
	key   string
	ready chan struct{} // closed once snap or err is set
	snap  *snapshot.Snapshot
	err   error
	size  int64
	elem  *list.Element // nil until loaded
}

func newSnapshotCache(st store.Store, budget int64) *snapshotCache {
	return &snapshotCache{st: st, budget: budget, items: map[string]*cached{}, order: list.New()}
}

// Get returns the snapshot of e, loading it if it is not kept. A failed
// load is not kept: the next Get tries again.
func (c *snapshotCache) Get(e store.Entry) (*snapshot.Snapshot, error) {
	c.mu.Lock()
	if it, ok := c.items[e.Commit]; ok {
		if it.elem != nil {
			c.order.MoveToFront(it.elem)
		}
		c.mu.Unlock()
		<-it.ready
		return it.snap, it.err
	}
	it := &cached{key: e.Commit, ready: make(chan struct{})}
	c.items[e.Commit] = it
	c.mu.Unlock()

	snap, err := c.st.Load(e)

	c.mu.Lock()
	it.snap, it.err = snap, err
	if err != nil {
		delete(c.items, e.Commit)
	} else {
		for _, f := range snap.Files {
			it.size += int64(len(f.Data))
		}
		it.elem = c.order.PushFront(it)
		c.size += it.size
		c.evict()
	}
	c.mu.Unlock()
	close(it.ready)
	return snap, err
}

// evict drops the least recently used snapshots until the kept ones fit
// the budget, always keeping the newest. The caller holds c.mu.
func (c *snapshotCache) evict() {
	for c.size > c.budget && c.order.Len() > 1 {
		old := c.order.Remove(c.order.Back()).(*cached)
		delete(c.items, old.key)
		c.size -= old.size
	}
}

// Len returns how many snapshots are kept, and their size in bytes.
func (c *snapshotCache) Len() (n int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len(), c.size
}
