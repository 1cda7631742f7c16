package crdt

import (
	"crypto/sha256"
	"encoding/json"
)

// Object is the state of one key: whichever CRDTs it has been used as (a
// key is normally used as one kind only). Merge is field by field, so
// Object is a CRDT too. Nil fields are absent.
type Object struct {
	Counter  *PNCounter   `json:"counter,omitempty"`
	Set      *ORSet       `json:"set,omitempty"`
	GSet     *GSet        `json:"gset,omitempty"`
	Register *LWWRegister `json:"register,omitempty"`
}

// Merge returns the join of o and p.
func (o Object) Merge(p Object) Object {
	return Object{
		Counter:  mergePtr(o.Counter, p.Counter, PNCounter.Merge),
		Set:      mergePtr(o.Set, p.Set, ORSet.Merge),
		GSet:     mergePtr(o.GSet, p.GSet, GSet.Merge),
		Register: mergePtr(o.Register, p.Register, LWWRegister.Merge),
	}
}

func mergePtr[T any](a, b *T, merge func(T, T) T) *T {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil:
		v := *b
		return &v
	case b == nil:
		v := *a
		return &v
	}
	v := merge(*a, *b)
	return &v
}

// Digest is a hash of o's canonical encoding (encoding/json sorts map
// keys), equal for equal states. Anti-entropy compares digests to find keys
// whose replicas differ.
func (o Object) Digest() [32]byte {
	b, err := json.Marshal(o)
	if err != nil {
		// Object holds only strings, numbers and maps of them.
		panic("crdt: encode object: " + err.Error())
	}
	return sha256.Sum256(b)
}

// Equal reports whether o and p hold the same state.
func (o Object) Equal(p Object) bool { return o.Digest() == p.Digest() }
