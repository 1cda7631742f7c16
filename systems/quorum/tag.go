package quorum

import (
	"encoding/json"
	"fmt"
	"sync"
)

// Tag orders the versions of one key: by Counter, then Writer. The zero Tag
// is the tag of an absent key, older than every written version.
//
// Writer identifies one life of one coordinator (see WriterID), not just a
// node: a node restarted after a crash may have left a store of tag
// (c, itself) on a minority or in flight, and must never pick (c, itself)
// again for a different value.
type Tag struct {
	Counter uint64 `json:"c"`
	Writer  uint64 `json:"w"`
}

// Less reports whether t is older than u.
func (t Tag) Less(u Tag) bool {
	if t.Counter != u.Counter {
		return t.Counter < u.Counter
	}
	return t.Writer < u.Writer
}

func (t Tag) String() string {
	return fmt.Sprintf("%d/n%d#%d", t.Counter, t.Writer&writerNodeMask, t.Writer>>writerNodeBits)
}

const (
	writerNodeBits = 16
	writerNodeMask = 1<<writerNodeBits - 1
)

// WriterID returns the writer id of node (1..65535) in its incarnation-th
// life: the node in the low 16 bits, the incarnation above.
func WriterID(node int, incarnation uint64) uint64 {
	return incarnation<<writerNodeBits | uint64(node)&writerNodeMask
}

// Versioned is what a replica holds for a key: a value and its tag. Value is
// raw JSON, kept as bytes so it round-trips exactly; nil means absent.
type Versioned struct {
	Tag   Tag             `json:"tag"`
	Value json.RawMessage `json:"value"`
}

// Supersedes is the replica apply rule: a replica holding cur replaces it
// with a store of tag in only if in is newer. Tags only grow, so stores may
// arrive late, twice or out of order.
func Supersedes(in, cur Tag) bool { return cur.Less(in) }

// Issuer picks the tags of one coordinator's writes. It is safe for
// concurrent use.
type Issuer struct {
	writer uint64
	mu     sync.Mutex
	last   map[string]uint64 // greatest counter issued per key
}

// NewIssuer returns an issuer for the given writer id (see WriterID).
func NewIssuer(writer uint64) *Issuer {
	return &Issuer{writer: writer, last: make(map[string]uint64)}
}

// Next returns the tag for a write of key whose query phase saw seen as the
// greatest tag: a counter above seen's, and above any this issuer gave the
// key before, so two concurrent writes by one coordinator never share a tag.
func (i *Issuer) Next(key string, seen Tag) Tag {
	i.mu.Lock()
	defer i.mu.Unlock()
	c := max(seen.Counter, i.last[key]) + 1
	i.last[key] = c
	return Tag{Counter: c, Writer: i.writer}
}
