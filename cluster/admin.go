package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/admin"
)

// HTTPAdmin speaks the admin endpoint every included node serves
// (systems/nodekit/admin): GET /status and POST /clock on the node's
// admin address. It is the core's default Admin.
type HTTPAdmin struct{ admin.Endpoint }

var _ Admin = (*HTTPAdmin)(nil)

// NewHTTPAdmin returns an HTTPAdmin whose requests last 5s at most.
func NewHTTPAdmin() *HTTPAdmin { return &HTTPAdmin{} }

// ErrNoClock is wrapped by SetClock errors of a system that cannot set its
// nodes' clocks (no systems.ClockSetter).
var ErrNoClock = errors.New("this system's nodes have no clock the harness can set")

// AdminOf is how the core asks sys's nodes about themselves: its own
// systems.Prober, else TCPProbe; its systems.ClockSetter, else an error
// wrapping ErrNoClock.
func AdminOf(sys systems.System) Admin {
	a := probeAdmin{name: sys.Name(), probe: TCPProbe{}}
	if p, ok := sys.(systems.Prober); ok {
		a.probe = p
	}
	a.clock, _ = sys.(systems.ClockSetter)
	return a
}

type probeAdmin struct {
	name  string
	probe systems.Prober
	clock systems.ClockSetter // nil: none
}

func (a probeAdmin) Status(ctx context.Context, node systems.Endpoint) (systems.Status, error) {
	return a.probe.Status(ctx, node)
}

func (a probeAdmin) SetClock(ctx context.Context, node systems.Endpoint, offset time.Duration) error {
	if a.clock == nil {
		return fmt.Errorf("system %s: %w", a.name, ErrNoClock)
	}
	return a.clock.SetClock(ctx, node, offset)
}

// TCPProbe is the probe of a system without one of its own: a node is
// ready once its client address accepts a TCP connection and keeps it
// open; it reports no role, leader or term.
type TCPProbe struct{}

// holdOpen is how long a probe's connection must stay open: Docker's port
// publishing accepts every connection on the host port and closes it at
// once when nothing listens in the container yet.
const holdOpen = 250 * time.Millisecond

// Status dials node's client address once and waits holdOpen for the
// connection to be closed (not ready) or not (ready; a server that speaks
// first is ready too).
func (TCPProbe) Status(ctx context.Context, node systems.Endpoint) (systems.Status, error) {
	st := systems.Status{Node: node.Name}
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", node.Client)
	if err != nil {
		return st, fmt.Errorf("client address %s: %w", node.Client, err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(holdOpen))
	var b [1]byte
	n, err := conn.Read(b[:])
	var ne net.Error
	if n == 0 && !(errors.As(err, &ne) && ne.Timeout()) {
		return st, fmt.Errorf("client address %s accepted and closed the connection at once: %v", node.Client, err)
	}
	st.Ready = true
	return st, nil
}

// statusTimeout bounds one probe when the caller's context does not (a
// paused node never answers).
const statusTimeout = 5 * time.Second
