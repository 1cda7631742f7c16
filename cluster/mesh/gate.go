package mesh

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// gateType is the Toxiproxy toxic type of partition gates.
const gateType = "faultline_gate"

// Toxiproxy finds toxic types in its own registry; registering there is its
// documented way to add one (CREATING_TOXICS.md).
func init() { toxics.Register(gateType, new(gateToxic)) }

// gate is the partition switch of one proxy stream.
type gate struct {
	mu     sync.Mutex
	closed bool          // partitioned: drop every byte
	change chan struct{} // closed, and replaced, whenever closed changes
}

func newGate() *gate { return &gate{change: make(chan struct{})} }

// set closes (partitions) or opens the gate.
func (g *gate) set(closed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed == closed {
		return
	}
	g.closed = closed
	close(g.change)
	g.change = make(chan struct{})
}

// state is whether the gate is closed and a channel closed at its next
// change.
func (g *gate) state() (bool, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed, g.change
}

// gateToxic is the Toxiproxy face of a gate. It never needs an interrupt to
// follow the gate, so flipping it never waits on a link. Toxiproxy makes
// toxics from their JSON (an embedded mesh's AddToxicJson or a remote mesh's
// API call alike), so the toxic makes its own gate on first use; whoever
// flips it finds it through the proxy's toxic collection (gateOf).
type gateToxic struct {
	once sync.Once
	g    *gate
}

// gate returns the toxic's gate.
func (t *gateToxic) gate() *gate {
	t.once.Do(func() { t.g = newGate() })
	return t.g
}

// gateOf finds the gate of one stream of a proxy, or nil when the proxy
// has no gate there.
func gateOf(proxy *toxiproxy.Proxy, stream string) *gate {
	w := proxy.Toxics.GetToxic(partitionName(stream))
	if w == nil {
		return nil
	}
	t, ok := w.Toxic.(*gateToxic)
	if !ok {
		return nil
	}
	return t.gate()
}

// gateState is per connection and survives the toxic being restarted when
// later toxics in the chain change.
type gateState struct {
	dropped bool // this connection lost bytes to a partition
}

func (*gateToxic) NewState() any { return new(gateState) }

func (t *gateToxic) Pipe(stub *toxics.ToxicStub) {
	st := stub.State.(*gateState)
	g := t.gate()
	for {
		closed, change := g.state()
		if !closed && st.dropped {
			t.end(stub)
			return
		}
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if closed, _ := g.state(); closed {
				st.dropped = true
				continue
			}
			stub.Output <- c
		case <-change:
		}
	}
}

// end closes the connection after a partition left a gap in it: what
// follows the gap must never reach the receiver. It keeps draining the
// input so the links' readers do not block on it until the source ends.
func (t *gateToxic) end(stub *toxics.ToxicStub) {
	stub.Close()
	for range stub.Input {
	}
}

// addGate puts an open gate toxic on one stream of a proxy that has not
// started.
func addGate(proxy *toxiproxy.Proxy, name, stream string) (*gate, error) {
	body, err := json.Marshal(map[string]any{"name": name, "type": gateType, "stream": stream, "toxicity": 1})
	if err != nil {
		return nil, fmt.Errorf("encode gate: %w", err)
	}
	if _, err := proxy.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		return nil, fmt.Errorf("add gate on %s: %w", stream, err)
	}
	return gateOf(proxy, stream), nil
}
