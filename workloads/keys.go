package workloads

import (
	"fmt"
	"math/rand/v2"
)

// keyPool hands out keys that retire after a budget of operations, a few
// active at a time, so state per key stays bounded and final reads stay
// small. Not safe for concurrent use: generators hold their own lock.
type keyPool struct {
	prefix   string
	min, max int
	rng      *rand.Rand
	active   []*poolKey
	keys     []string
}

type poolKey struct {
	name      string
	remaining int
}

func newKeyPool(prefix string, active, minOps, maxOps int, rng *rand.Rand) *keyPool {
	p := &keyPool{prefix: prefix, min: minOps, max: maxOps, rng: rng}
	for range active {
		p.active = append(p.active, p.newKey())
	}
	return p
}

func (p *keyPool) newKey() *poolKey {
	k := &poolKey{name: fmt.Sprintf("%s%d", p.prefix, len(p.keys)), remaining: p.min + p.rng.IntN(p.max-p.min+1)}
	p.keys = append(p.keys, k.name)
	return k
}

// next returns the key for one more operation.
func (p *keyPool) next() string {
	slot := p.rng.IntN(len(p.active))
	k := p.active[slot]
	if k.remaining--; k.remaining <= 0 {
		p.active[slot] = p.newKey()
	}
	return k.name
}

func (p *keyPool) all() []string { return append([]string(nil), p.keys...) }
