package store

import (
	"encoding/binary"
	"math/bits"
)

// Git deltas for the packer.
//
// go-git's packfile.DiffDelta only copies from source blocks that start
// where a whole target block matches, so every changed count in a results
// document costs a run of literal bytes up to the next block boundary: its
// deltas came out about 1.7 times the size of git's. gitDelta indexes the
// source in 16-byte blocks as git does, but grows each match backwards over
// the pending literal bytes and tries first the source offset where the
// previous copy left off, which is where an edit that kept the length
// continues. The result is git's delta format, which git and go-git read.

// deltaBlock is the size of the source blocks gitDelta indexes.
const deltaBlock = 16

// Limits of the index: how many offsets are kept per block content, and
// the longest copy one instruction holds (git writes no longer ones).
const (
	deltaBucket  = 8
	deltaMaxCopy = 0x10000
)

// gitDelta returns a git delta that turns src into tgt.
func gitDelta(src, tgt []byte) []byte {
	out := make([]byte, 0, 1024+len(tgt)/32)
	out = binary.AppendUvarint(out, uint64(len(src)))
	out = binary.AppendUvarint(out, uint64(len(tgt)))

	index := make(map[[deltaBlock]byte][]int32, len(src)/deltaBlock)
	for o := 0; o+deltaBlock <= len(src); o += deltaBlock {
		k := [deltaBlock]byte(src[o : o+deltaBlock])
		if len(index[k]) < deltaBucket {
			index[k] = append(index[k], int32(o))
		}
	}

	lit, next := 0, 0 // the pending literal bytes start at lit
	for i := 0; i+deltaBlock <= len(tgt); {
		best, n := -1, 0
		try := func(o int) {
			if o < 0 || o+deltaBlock > len(src) {
				return
			}
			if l := matchLen(src[o:], tgt[i:]); l > n {
				best, n = o, l
			}
		}
		try(next)
		if n < deltaBlock {
			for _, o := range index[[deltaBlock]byte(tgt[i:i+deltaBlock])] {
				try(int(o))
			}
		}
		if n < deltaBlock {
			i++
			next++
			continue
		}
		for i > lit && best > 0 && src[best-1] == tgt[i-1] {
			i, best, n = i-1, best-1, n+1
		}
		out = appendInsert(out, tgt[lit:i])
		for o, left := best, n; left > 0; {
			c := min(left, deltaMaxCopy)
			out = appendCopy(out, o, c)
			o, left = o+c, left-c
		}
		i += n
		lit, next = i, best+n
	}
	return appendInsert(out, tgt[lit:])
}

// matchLen returns the length of the common prefix of a and b.
func matchLen(a, b []byte) int {
	n := 0
	for len(a) >= 8 && len(b) >= 8 {
		x := binary.LittleEndian.Uint64(a) ^ binary.LittleEndian.Uint64(b)
		if x != 0 {
			return n + bits.TrailingZeros64(x)/8
		}
		a, b, n = a[8:], b[8:], n+8
	}
	for len(a) > 0 && len(b) > 0 && a[0] == b[0] {
		a, b, n = a[1:], b[1:], n+1
	}
	return n
}

// appendInsert appends instructions that insert data, at most 127 bytes
// each.
func appendInsert(out, data []byte) []byte {
	for len(data) > 0 {
		n := min(len(data), 127)
		out = append(out, byte(n))
		out = append(out, data[:n]...)
		data = data[n:]
	}
	return out
}

// appendCopy appends the instruction that copies n bytes (at most
// deltaMaxCopy) from the source at offset o.
func appendCopy(out []byte, o, n int) []byte {
	at := len(out)
	op := byte(0x80)
	out = append(out, 0)
	for i := range 4 {
		if b := byte(o >> (8 * i)); b != 0 {
			op |= 1 << i
			out = append(out, b)
		}
	}
	if n != deltaMaxCopy { // a size of zero means 0x10000
		for i := range 3 {
			if b := byte(n >> (8 * i)); b != 0 {
				op |= 0x10 << i
				out = append(out, b)
			}
		}
	}
	out[at] = op
	return out
}
