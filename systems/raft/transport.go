package raft

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/faultline/faultline/systems/raft/core"
)

// Peer transport: one outgoing TCP stream per peer, carrying frames of
// length | encoded message, one way. Raft tolerates loss, so the transport
// never blocks the node loop: a full queue or a broken stream drops
// messages.
//
// Through the mesh, a partition black-holes bytes but keeps connections
// open, and healing closes them (cluster/mesh): so a writer needs a write
// deadline (a paused peer stops reading) and a redial loop, nothing more.
const (
	peerQueue     = 8192                   // messages queued per peer before dropping
	dialTimeout   = 500 * time.Millisecond // loopback dials are instant; a slow one is a dead peer
	writeTimeout  = 2 * time.Second        // a peer that reads nothing this long is paused or gone
	redialBackoff = 50 * time.Millisecond
	maxFrame      = 512 << 20
)

// transport sends to and receives from peers. send is called only by the
// node loop; recv is read only by it.
type transport struct {
	self   uint64
	peers  map[uint64]*peerConn
	recv   chan core.Message
	logger *slog.Logger
	wg     sync.WaitGroup
}

type peerConn struct {
	id   uint64
	addr string
	q    chan core.Message
}

func newTransport(self uint64, peers map[int]string, logger *slog.Logger) *transport {
	t := &transport{self: self, peers: map[uint64]*peerConn{}, recv: make(chan core.Message, 4096), logger: logger}
	for id, addr := range peers {
		t.peers[uint64(id)] = &peerConn{id: uint64(id), addr: addr, q: make(chan core.Message, peerQueue)}
	}
	return t
}

// start runs the senders and the listener until ctx ends.
func (t *transport) start(ctx context.Context, ln net.Listener) {
	for _, p := range t.peers {
		t.wg.Go(func() { t.sendLoop(ctx, p) })
	}
	t.wg.Go(func() { t.acceptLoop(ctx, ln) })
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
}

// send queues m for its peer, dropping it if the queue is full.
func (t *transport) send(m core.Message) {
	p := t.peers[m.To]
	if p == nil {
		t.logger.Error("message to unknown peer", "to", m.To, "type", m.Type)
		return
	}
	select {
	case p.q <- m:
	default:
	}
}

func (t *transport) sendLoop(ctx context.Context, p *peerConn) {
	var buf []byte
	d := net.Dialer{Timeout: dialTimeout}
	for ctx.Err() == nil {
		conn, err := d.DialContext(ctx, "tcp", p.addr)
		if err != nil {
			t.drain(p)
			sleepCtx(ctx, redialBackoff)
			continue
		}
		// Close the connection when ctx ends, to unblock a write.
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		w := bufio.NewWriterSize(conn, 256<<10)
		err = func() error {
			for {
				var m core.Message
				select {
				case <-ctx.Done():
					return ctx.Err()
				case m = <-p.q:
				}
				// Batch whatever else is queued into one flush.
				for {
					buf = appendFrame(buf[:0], &m)
					if _, err := w.Write(buf); err != nil {
						return err
					}
					select {
					case m = <-p.q:
						continue
					default:
					}
					break
				}
				conn.SetWriteDeadline(time.Now().Add(writeTimeout))
				if err := w.Flush(); err != nil {
					return err
				}
			}
		}()
		stop()
		conn.Close()
		if ctx.Err() == nil {
			t.logger.Debug("peer stream broken; redialling", "peer", p.id, "err", err)
			t.drain(p)
			sleepCtx(ctx, redialBackoff)
		}
	}
}

// drain drops queued messages: they are stale by the time a link is back,
// and the protocol retransmits what matters.
func (t *transport) drain(p *peerConn) {
	for {
		select {
		case <-p.q:
		default:
			return
		}
	}
}

func (t *transport) acceptLoop(ctx context.Context, ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				t.logger.Error("peer listener failed", "err", err)
			}
			return
		}
		t.wg.Go(func() { t.readLoop(ctx, conn) })
	}
}

func (t *transport) readLoop(ctx context.Context, conn net.Conn) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 256<<10)
	var hdr [4]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > maxFrame {
			t.logger.Warn("peer sent an oversized frame; dropping the connection", "size", n)
			return
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		m, err := decodeMessage(buf)
		if err != nil {
			t.logger.Warn("bad peer message; dropping the connection", "err", err)
			return
		}
		if m.To != t.self {
			t.logger.Warn("message for another node", "to", m.To, "self", t.self)
			continue
		}
		select {
		case t.recv <- m:
		case <-ctx.Done():
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}

// --- wire format ---

func appendFrame(b []byte, m *core.Message) []byte {
	b = append(b, 0, 0, 0, 0)
	b = appendMessage(b, m)
	binary.BigEndian.PutUint32(b[:4], uint32(len(b)-4))
	return b
}

func appendMessage(b []byte, m *core.Message) []byte {
	b = append(b, byte(m.Type))
	for _, v := range [...]uint64{m.From, m.To, m.Term, m.LogTerm, m.Index, m.Commit, m.Hint, m.Context} {
		b = binary.AppendUvarint(b, v)
	}
	if m.Reject {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Entries)))
	for i := range m.Entries {
		e := &m.Entries[i]
		b = append(b, byte(e.Type))
		b = binary.AppendUvarint(b, e.Term)
		b = binary.AppendUvarint(b, e.Index)
		b = binary.AppendUvarint(b, uint64(len(e.Data)))
		b = append(b, e.Data...)
	}
	if s := m.Snapshot; s != nil {
		b = append(b, 1)
		b = binary.AppendUvarint(b, s.Index)
		b = binary.AppendUvarint(b, s.Term)
		b = binary.AppendUvarint(b, uint64(len(s.Data)))
		b = append(b, s.Data...)
	} else {
		b = append(b, 0)
	}
	return b
}

var errShort = errors.New("message truncated")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errShort
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns a copy: the read buffer is reused.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || uint64(len(d.b)) < n {
		d.err = errShort
		return nil
	}
	if n == 0 {
		return nil
	}
	out := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return out
}

func decodeMessage(b []byte) (core.Message, error) {
	d := &decoder{b: b}
	var m core.Message
	m.Type = core.MsgType(d.byte())
	for _, p := range [...]*uint64{&m.From, &m.To, &m.Term, &m.LogTerm, &m.Index, &m.Commit, &m.Hint, &m.Context} {
		*p = d.uvarint()
	}
	m.Reject = d.byte() == 1
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return m, fmt.Errorf("decode message: %d entries in %d bytes: %w", n, len(d.b), errShort)
	}
	if n > 0 {
		m.Entries = make([]core.Entry, n)
		for i := range m.Entries {
			e := &m.Entries[i]
			e.Type = core.EntryType(d.byte())
			e.Term = d.uvarint()
			e.Index = d.uvarint()
			e.Data = d.bytes()
		}
	}
	if d.byte() == 1 {
		s := &core.Snapshot{}
		s.Index = d.uvarint()
		s.Term = d.uvarint()
		s.Data = d.bytes()
		m.Snapshot = s
	}
	if d.err != nil {
		return m, fmt.Errorf("decode message: %w", d.err)
	}
	return m, nil
}
