package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// opTimeout bounds an operation whose ctx has no deadline.
const opTimeout = 5 * time.Second

// client runs register operations through clientv3, one clientv3.Client
// per member so every operation goes to the member the harness chose
// (clientv3 never fails over: it has that one endpoint). Safe for
// concurrent use.
type client struct {
	serializable bool
	conns        *conns
}

func newClient(serializable bool) *client {
	return &client{serializable: serializable, conns: newConns()}
}

// conns caches one clientv3.Client per member address.
type conns struct {
	mu sync.Mutex
	m  map[string]*clientv3.Client
}

func newConns() *conns { return &conns{m: map[string]*clientv3.Client{}} }

func (c *conns) get(addr string) (*clientv3.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.m[addr]; cl != nil {
		return cl, nil
	}
	cl, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{addr},
		DialTimeout: 2 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %s: %w", addr, err)
	}
	c.m[addr] = cl
	return cl, nil
}

// Close closes every connection.
func (c *conns) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for addr, cl := range c.m {
		errs = append(errs, cl.Close())
		delete(c.m, addr)
	}
	return errors.Join(errs...)
}

// Close closes the client's connections.
func (c *client) Close() error { return c.conns.Close() }

// Invoke runs op on node. Outcomes:
//   - OK: etcd answered; a read's Value is the JSON value stored (nil when
//     the key is absent).
//   - Fail: certainly no effect: a read that failed (reads change
//     nothing), a cas whose comparison failed, or a write the member
//     refused before proposing it (no leader).
//   - Info: a write or cas whose outcome is unknown (timeout, lost
//     connection, leader change after proposing).
func (c *client) Invoke(ctx context.Context, node systems.Endpoint, op systems.Op) systems.Completion {
	cl, err := c.conns.get(node.Client)
	if err != nil {
		return systems.Failed("%s: %v", node.Name, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opTimeout)
		defer cancel()
	}
	switch op.F {
	case history.OpRead:
		var opts []clientv3.OpOption
		if c.serializable {
			opts = append(opts, clientv3.WithSerializable())
		}
		resp, err := cl.Get(ctx, op.Key, opts...)
		if err != nil {
			return systems.Failed("%s: get: %v", node.Name, err)
		}
		if len(resp.Kvs) == 0 {
			return systems.Completion{Type: history.OK}
		}
		v, err := systems.DecodeValue(resp.Kvs[0].Value)
		if err != nil {
			return systems.Failed("%s: bad value %q: %v", node.Name, resp.Kvs[0].Value, err)
		}
		return systems.Completion{Type: history.OK, Value: v}
	case history.OpWrite:
		val, err := json.Marshal(op.Value)
		if err != nil {
			return systems.Failed("encode value: %v", err)
		}
		if _, err := cl.Put(ctx, op.Key, string(val)); err != nil {
			return mutationFailed(op, node, "put", err)
		}
		return systems.Completion{Type: history.OK}
	case history.OpCAS:
		pair, ok := op.Value.([]any)
		if !ok || len(pair) != 2 {
			return systems.Failed("cas: value %v is not [expected, new]", op.Value)
		}
		expected, err1 := json.Marshal(pair[0])
		next, err2 := json.Marshal(pair[1])
		if err := errors.Join(err1, err2); err != nil {
			return systems.Failed("encode cas: %v", err)
		}
		resp, err := cl.Txn(ctx).
			If(clientv3.Compare(clientv3.Value(op.Key), "=", string(expected))).
			Then(clientv3.OpPut(op.Key, string(next))).
			Commit()
		if err != nil {
			return mutationFailed(op, node, "txn", err)
		}
		if !resp.Succeeded {
			return systems.Completion{Type: history.Fail, Error: "cas mismatch"}
		}
		return systems.Completion{Type: history.OK}
	}
	return systems.Failed("etcd: unsupported operation %q (read, write, cas)", op.F)
}

// mutationFailed classifies a failed Put or Txn: refused before any
// proposal (no leader, or the connection never came up) is Fail;
// anything else may have been applied, so Info.
func mutationFailed(op systems.Op, node systems.Endpoint, what string, err error) systems.Completion {
	msg := fmt.Sprintf("%s: %s: %v", node.Name, what, err)
	if errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrGRPCNoLeader) {
		return systems.Failed("%s", msg)
	}
	if s, ok := status.FromError(err); ok && s.Code() == codes.Unavailable && s.Message() == rpctypes.ErrGRPCNoLeader.Error() {
		return systems.Failed("%s", msg)
	}
	return systems.Unsure(op, msg)
}

// memberStatus asks node's member for its maintenance status.
func memberStatus(ctx context.Context, node systems.Endpoint) (systems.Status, error) {
	cl, err := clientv3.New(clientv3.Config{
		Endpoints: []string{node.Client}, DialTimeout: time.Second, Logger: zap.NewNop(),
	})
	if err != nil {
		return systems.Status{}, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := cl.Status(ctx, node.Client)
	if err != nil {
		return systems.Status{}, fmt.Errorf("etcd status of %s: %w", node.Name, err)
	}
	st := systems.Status{
		Node:   node.Name,
		Ready:  resp.Leader != 0 && len(resp.Errors) == 0,
		Term:   resp.RaftTerm,
		Commit: resp.RaftIndex,
		Role:   "follower",
	}
	if resp.Leader == resp.Header.MemberId {
		st.Role = "leader"
		st.Leader = node.Name
	} else if resp.Leader != 0 {
		st.Leader = memberName(ctx, cl, resp.Leader)
	}
	return st, nil
}

// memberName is the name of the member with id, from the member's own
// (serializable) member list; "" when it cannot tell.
func memberName(ctx context.Context, cl *clientv3.Client, id uint64) string {
	resp, err := cl.MemberList(ctx, clientv3.WithSerializable())
	if err != nil {
		return ""
	}
	for _, m := range resp.Members {
		if m.ID == id {
			return m.Name
		}
	}
	return strconv.FormatUint(id, 16)
}
