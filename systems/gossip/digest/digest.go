// Package digest is the anti-entropy summary of a replica: a two-level
// Merkle tree over the key space. Keys fall into a fixed number of buckets
// by hash; a bucket's hash covers its keys and their state digests, and the
// root covers the buckets. Two replicas with equal roots hold the same
// state; otherwise only the buckets whose hashes differ need exchanging.
// Pure: no I/O.
package digest

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/fnv"
	"slices"
)

// Buckets is the tree's fan-out. 64 keeps a digest message small (2 KiB)
// while a difference in one key costs exchanging 1/64 of the keys.
const Buckets = 64

// Hash is a SHA-256 sum.
type Hash = [32]byte

// Tree is the digest of a replica.
type Tree struct {
	Root    Hash          `json:"root"`
	Buckets [Buckets]Hash `json:"buckets"`
}

// Bucket returns the bucket key falls into.
func Bucket(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % Buckets)
}

// Build returns the tree of a replica whose keys have the given state
// digests. Empty buckets hash to zero, so an empty replica's tree is all
// zeros apart from the root.
func Build(states map[string]Hash) Tree {
	var byBucket [Buckets][]string
	for k := range states {
		b := Bucket(k)
		byBucket[b] = append(byBucket[b], k)
	}
	var t Tree
	root := sha256.New()
	for b, keys := range byBucket {
		if len(keys) > 0 {
			slices.Sort(keys)
			h := sha256.New()
			for _, k := range keys {
				h.Write(binary.AppendUvarint(nil, uint64(len(k))))
				h.Write([]byte(k))
				s := states[k]
				h.Write(s[:])
			}
			copy(t.Buckets[b][:], h.Sum(nil))
		}
		root.Write(t.Buckets[b][:])
	}
	copy(t.Root[:], root.Sum(nil))
	return t
}

// Diff returns the buckets where a and b differ, ascending; none when the
// roots match.
func Diff(a, b Tree) []int {
	if a.Root == b.Root {
		return nil
	}
	var out []int
	for i := range Buckets {
		if a.Buckets[i] != b.Buckets[i] {
			out = append(out, i)
		}
	}
	return out
}
