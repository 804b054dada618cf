package store

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// An object file of the zstd backend holds one document's raw bytes, once
// per distinct content, at objects/abcdef… (objects/ab/cdef… in a store of
// format 1), named by the hex SHA-256 of the raw bytes. The file is a fixed
// header followed by one zstd frame:
//
//	offset size
//	0      4    magic "CTRZ"
//	4      1    object format (1)
//	5      1    kind: 0 full, 1 delta, 2 keyframe delta
//	6      2    depth: 0 for a full object, the base's depth + 1 for a delta
//	8      8    size of the raw bytes
//	16     8    size of the zstd frame that follows the header
//	24     32   SHA-256 of the raw bytes
//	56     32   SHA-256 of the base's raw bytes (zero for a full object)
//	88     4    CRC-32C of bytes 0 to 87
//	92          the zstd frame, with its content checksum
//
// All integers are big-endian. A delta's frame is compressed with the
// base's raw bytes as a raw zstd dictionary (the --patch-from technique),
// so the zstd command decodes it with zstd -d --patch-from=BASE, BASE
// holding the base's raw bytes. The base is the previous version of the
// same document in the same election (kind 1), or for a keyframe the
// previous keyframe (kind 2, in stores of format 2): a keyframe delta
// starts a new run of deltas as a full object does. Runs are at most the
// keyframe interval long and chains of keyframes at most the keyframe
// chain long, so reading any version decodes a bounded number of frames;
// depth, the number of links down to a full object, is that number less
// one. The encoders' window (how far back a match may reach) is at
// least twice the document and covers the whole base; each frame declares
// its content size as its window, all a decoder must buffer.
const (
	objectMagic      = "CTRZ"
	objectFormat     = 1
	objectHeaderSize = 92
)

// Kinds of object.
const (
	objectFull  byte = 0
	objectDelta byte = 1
	// objectKeyframe is a keyframe stored as a delta against the
	// previous keyframe of the same document.
	objectKeyframe byte = 2
)

// Limits that keep a damaged or hostile object from exhausting memory.
const (
	// maxDocumentSize is the largest document the zstd backend stores.
	maxDocumentSize = 256 << 20
	// maxChainLength bounds the delta chains a reader follows, whatever
	// keyframe interval the writer used.
	maxChainLength = 1024
	// minWindow and maxWindow bound the encoders' window sizes; a document
	// above maxWindow/2 still gets deltas, matching less of its base.
	minWindow = 64 << 10
	maxWindow = 64 << 20
	// maxDecoderWindow is the largest frame window a decoder accepts: a
	// frame declares the power of two above its content size.
	maxDecoderWindow = 2 * maxDocumentSize
)

// rawCacheSize bounds the decoded documents kept in memory: the bases of
// the next writes and the links of recently read chains.
const rawCacheSize = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// objectHeader is the decoded header of an object file.
type objectHeader struct {
	kind        byte
	depth       int
	rawSize     int64
	payloadSize int64
	sum         [sha256.Size]byte // of the raw bytes
	base        [sha256.Size]byte // of the base's raw bytes, for a delta
}

func (h *objectHeader) marshal() []byte {
	b := make([]byte, objectHeaderSize)
	copy(b, objectMagic)
	b[4] = objectFormat
	b[5] = h.kind
	binary.BigEndian.PutUint16(b[6:], uint16(h.depth))
	binary.BigEndian.PutUint64(b[8:], uint64(h.rawSize))
	binary.BigEndian.PutUint64(b[16:], uint64(h.payloadSize))
	copy(b[24:], h.sum[:])
	copy(b[56:], h.base[:])
	binary.BigEndian.PutUint32(b[88:], crc32.Checksum(b[:88], castagnoli))
	return b
}

// parseObjectHeader reads the header at the start of b, the first bytes
// of an object file of size bytes.
func parseObjectHeader(b []byte, size int64) (objectHeader, error) {
	var h objectHeader
	if len(b) < objectHeaderSize {
		return h, fmt.Errorf("truncated: %d bytes, shorter than the %d-byte header",
			size, objectHeaderSize)
	}
	if string(b[:4]) != objectMagic {
		return h, fmt.Errorf("not an object file (starts with %q)", b[:4])
	}
	if got, want := binary.BigEndian.Uint32(b[88:]), crc32.Checksum(b[:88], castagnoli); got != want {
		return h, fmt.Errorf("header is damaged: checksum %08x, want %08x", got, want)
	}
	if b[4] != objectFormat {
		return h, fmt.Errorf("object format %d, want %d (a newer ctrunner wrote it?)",
			b[4], objectFormat)
	}
	h.kind = b[5]
	h.depth = int(binary.BigEndian.Uint16(b[6:]))
	h.rawSize = int64(binary.BigEndian.Uint64(b[8:]))
	h.payloadSize = int64(binary.BigEndian.Uint64(b[16:]))
	copy(h.sum[:], b[24:56])
	copy(h.base[:], b[56:88])
	switch {
	case h.kind > objectKeyframe:
		return h, fmt.Errorf("unknown object kind %d", h.kind)
	case h.kind == objectFull && (h.depth != 0 || h.base != [sha256.Size]byte{}):
		return h, errors.New("full object with a base")
	case h.kind != objectFull && h.depth == 0:
		return h, errors.New("delta object of depth 0")
	case h.rawSize < 0 || h.rawSize > maxDocumentSize:
		return h, fmt.Errorf("raw size %d out of range", h.rawSize)
	case h.payloadSize < 0:
		return h, fmt.Errorf("frame size %d out of range", h.payloadSize)
	}
	if got := size - objectHeaderSize; got != h.payloadSize {
		what := "truncated"
		if got > h.payloadSize {
			what = "too long"
		}
		return h, fmt.Errorf("%s: %d bytes of compressed data, header says %d",
			what, got, h.payloadSize)
	}
	return h, nil
}

// patchDictID is the dictionary ID of a delta's frame: 0, "no ID", as
// zstd --patch-from writes, so that the zstd command decodes a delta with
// zstd -d --patch-from=BASE. The header names the base instead.
const patchDictID = 0

// objectLayout says where the object files of a store are.
type objectLayout struct {
	dir    string // the store
	fanout bool   // format 1: objects/ab/cdef…, not objects/abcdef…
}

// path returns the path of the object sum (hex SHA-256).
func (l objectLayout) path(sum string) string {
	return filepath.Join(l.dir, filepath.FromSlash(l.rel(sum)))
}

// rel returns the path of the object sum in the store, with slashes.
func (l objectLayout) rel(sum string) string {
	if l.fanout {
		return "objects/" + sum[:2] + "/" + sum[2:]
	}
	return "objects/" + sum
}

// name is how messages name the object sum: its path in the store.
func (l objectLayout) name(sum string) string {
	return "object " + l.rel(sum)
}

// windowFor returns the encoder window for a document of n bytes whose
// delta uses a base of baseLen bytes: at least twice the document and
// enough to reach the start of the base from the end of the document.
func windowFor(n, baseLen int) int {
	need := max(2*n, n+baseLen, minWindow)
	w := 1 << bits.Len(uint(need-1))
	return min(w, maxWindow)
}

// zstdCodec compresses and decompresses objects. It reuses its encoders of
// full objects (one per window size) and its decoder, and keeps recently
// decoded documents. It is not safe for concurrent use: the store guards it with a
// mutex.
type zstdCodec struct {
	level zstd.EncoderLevel     // of every object
	full  map[int]*zstd.Encoder // by window size
	dec   *zstd.Decoder
	cache *zstdCache
}

func newZstdCodec(level zstd.EncoderLevel) (*zstdCodec, error) {
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxDecoderWindow),
		zstd.WithDecoderMaxMemory(maxDocumentSize),
		// Each frame decodes into a buffer of exactly the size its header
		// records, and never beyond.
		zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		return nil, fmt.Errorf("making zstd decoder: %w", err)
	}
	return &zstdCodec{
		level: level,
		full:  map[int]*zstd.Encoder{},
		dec:   dec,
		cache: newZstdCache(rawCacheSize),
	}, nil
}

func (c *zstdCodec) close() {
	for _, e := range c.full {
		e.Close()
	}
	c.dec.Close()
	c.cache = nil
}

// encoder returns the encoder of the given window for full objects, or a
// new one for a delta against base, which the caller closes. Giving the
// dictionary to a new encoder costs less than giving it to one in use: the
// library then builds the dictionary's match tables (tens of megabytes at
// the best level) for its stream state as well as for EncodeAll.
func (c *zstdCodec) encoder(window int, base []byte) (*zstd.Encoder, error) {
	if e := c.full[window]; e != nil && base == nil {
		return e, nil
	}
	opts := []zstd.EOption{
		zstd.WithEncoderLevel(c.level),
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(window),
		zstd.WithEncoderCRC(true),
	}
	if base != nil {
		opts = append(opts, zstd.WithEncoderDictRaw(patchDictID, base))
	}
	e, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		return nil, fmt.Errorf("making zstd encoder: %w", err)
	}
	if base == nil {
		c.full[window] = e
	}
	return e, nil
}

// encode returns the object file for raw: a full object, or when base is
// not nil an object of kind (a delta or a keyframe delta) against base.
// depth is the base's depth + 1 for a delta. It decodes the result and
// checks it against raw before returning it.
func (c *zstdCodec) encode(raw []byte, kind byte, base []byte, baseSum [sha256.Size]byte,
	depth int) ([]byte, error) {
	h := objectHeader{kind: objectFull, rawSize: int64(len(raw)), sum: sha256.Sum256(raw)}
	window := windowFor(len(raw), 0)
	if base != nil {
		h.kind, h.depth, h.base = kind, depth, baseSum
		window = windowFor(len(raw), len(base))
	}
	enc, err := c.encoder(window, base)
	if err != nil {
		return nil, err
	}
	if base != nil {
		defer enc.Close()
	}
	obj := enc.EncodeAll(raw, h.marshal())
	h.payloadSize = int64(len(obj) - objectHeaderSize)
	copy(obj, h.marshal())

	// Read the object back as a reader would before it counts.
	back, err := c.decode(obj, base)
	if err != nil {
		return nil, fmt.Errorf("checking the new object: %w", err)
	}
	if !bytes.Equal(back, raw) {
		return nil, errors.New("checking the new object: it decodes to other bytes")
	}
	return obj, nil
}

// decode checks the object file obj and returns its raw bytes, given the
// raw bytes of its base for a delta.
func (c *zstdCodec) decode(obj []byte, base []byte) ([]byte, error) {
	h, err := parseObjectHeader(obj, int64(len(obj)))
	if err != nil {
		return nil, err
	}
	return c.decodeFrame(h, obj[objectHeaderSize:], base)
}

// decodeFrame decodes the frame of an object whose header is h.
func (c *zstdCodec) decodeFrame(h objectHeader, frame, base []byte) ([]byte, error) {
	opts := []zstd.DOption{zstd.WithDecoderDictDelete()}
	if h.kind != objectFull {
		if base == nil {
			return nil, errors.New("delta decoded without its base")
		}
		opts = append(opts, zstd.WithDecoderDictRaw(patchDictID, base))
	}
	if err := c.dec.ResetWithOptions(nil, opts...); err != nil {
		return nil, fmt.Errorf("setting zstd dictionary: %w", err)
	}
	raw, err := c.dec.DecodeAll(frame, make([]byte, 0, h.rawSize))
	if err != nil {
		return nil, fmt.Errorf("compressed data is damaged: %w", err)
	}
	if int64(len(raw)) != h.rawSize {
		return nil, fmt.Errorf("decodes to %d bytes, header says %d", len(raw), h.rawSize)
	}
	if got := sha256.Sum256(raw); got != h.sum {
		return nil, fmt.Errorf("decodes to bytes with SHA-256 %x, header says %x", got, h.sum)
	}
	return raw, nil
}

// readObjectHeader reads the header of the object sum.
func readObjectHeader(l objectLayout, sum string) (objectHeader, error) {
	f, err := os.Open(l.path(sum))
	if err != nil {
		return objectHeader{}, objectError(l, sum, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return objectHeader{}, objectError(l, sum, err)
	}
	b := make([]byte, objectHeaderSize)
	n, err := f.ReadAt(b, 0)
	if err != nil && n < len(b) && !errors.Is(err, io.EOF) {
		return objectHeader{}, objectError(l, sum, err)
	}
	h, err := parseObjectHeader(b[:n], info.Size())
	if err != nil {
		return h, fmt.Errorf("%s: %w", l.name(sum), err)
	}
	return h, checkObjectSum(l, h, sum)
}

// objectError describes a failure to open or read the object sum.
func objectError(l objectLayout, sum string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is missing", l.name(sum))
	}
	return fmt.Errorf("reading %s: %w", l.name(sum), err)
}

// checkObjectSum checks that the object file named sum says it holds sum.
func checkObjectSum(l objectLayout, h objectHeader, sum string) error {
	if got := hex.EncodeToString(h.sum[:]); got != sum {
		return fmt.Errorf("%s: header says it holds %s (a misplaced file?)", l.name(sum), got)
	}
	return nil
}

// readRaw returns the raw bytes of the object sum: it
// reads the object's delta chain back to a full object (or to a document
// in the cache) and decodes it forwards, checking every link's hash. The
// result is shared with the cache: callers must not change it.
func (c *zstdCodec) readRaw(l objectLayout, sum string) ([]byte, error) {
	if raw, ok := c.cache.get(sum); ok {
		return raw, nil
	}
	var chain []zstdLink
	var base []byte
	for cur := sum; ; {
		if len(chain) == maxChainLength {
			return nil, fmt.Errorf("%s: delta chain longer than %d objects",
				l.name(sum), maxChainLength)
		}
		obj, err := os.ReadFile(l.path(cur))
		if err != nil {
			return nil, zstdChainError(l, chain, sum, objectError(l, cur, err))
		}
		h, err := parseObjectHeader(obj, int64(len(obj)))
		if err == nil {
			err = checkObjectSum(l, h, cur)
		} else {
			err = fmt.Errorf("%s: %w", l.name(cur), err)
		}
		if err == nil && len(chain) > 0 && h.depth != chain[len(chain)-1].h.depth-1 {
			err = fmt.Errorf("%s has depth %d, its delta %s depth %d", l.name(cur),
				h.depth, chain[len(chain)-1].sum[:12], chain[len(chain)-1].h.depth)
		}
		if err != nil {
			return nil, zstdChainError(l, chain, sum, err)
		}
		chain = append(chain, zstdLink{cur, h, obj[objectHeaderSize:]})
		if h.kind == objectFull {
			break
		}
		cur = hex.EncodeToString(h.base[:])
		if raw, ok := c.cache.get(cur); ok {
			base = raw
			break
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		link := chain[i]
		raw, err := c.decodeFrame(link.h, link.frame, base)
		if err != nil {
			return nil, zstdChainError(l, chain[:i], sum,
				fmt.Errorf("%s: %w", l.name(link.sum), err))
		}
		c.cache.put(link.sum, raw)
		base = raw
	}
	return base, nil
}

// zstdLink is an object of a delta chain being read.
type zstdLink struct {
	sum   string
	h     objectHeader
	frame []byte
}

// zstdChainError adds to err, the failure of a link of the chain of the object
// sum read so far, which object depends on the failed one.
func zstdChainError(l objectLayout, chain []zstdLink, sum string, err error) error {
	if len(chain) == 0 {
		return err
	}
	return fmt.Errorf("%w (a base of %s, %d %s back)", err, l.name(sum),
		len(chain), plural(len(chain), "version"))
}

// zstdCache keeps decoded documents by SHA-256, least recently used out
// first, up to a total size.
type zstdCache struct {
	max, size int
	order     *list.List // of *cached, most recent first
	items     map[string]*list.Element
}

type zstdCached struct {
	sum string
	raw []byte
}

func newZstdCache(max int) *zstdCache {
	return &zstdCache{max: max, order: list.New(), items: map[string]*list.Element{}}
}

func (c *zstdCache) get(sum string) ([]byte, bool) {
	if el, ok := c.items[sum]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*zstdCached).raw, true
	}
	return nil, false
}

func (c *zstdCache) put(sum string, raw []byte) {
	if _, ok := c.items[sum]; ok || len(raw) > c.max/4 {
		return
	}
	c.items[sum] = c.order.PushFront(&zstdCached{sum, raw})
	c.size += len(raw)
	for c.size > c.max {
		el := c.order.Back()
		old := el.Value.(*zstdCached)
		c.order.Remove(el)
		delete(c.items, old.sum)
		c.size -= len(old.raw)
	}
}
