package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// opTimeout bounds an operation whose ctx has no deadline.
const opTimeout = 5 * time.Second

// client runs register operations through the KV API, with one NATS
// connection per server so every operation goes to the server the harness
// chose (no reconnect to another). The bucket is made on first use.
// Safe for concurrent use.
type client struct {
	replicas int
	direct   bool

	mu    sync.Mutex
	kvs   map[string]jetstream.KeyValue
	conns []*natsgo.Conn
}

func newClient(nodes int, direct bool) *client {
	return &client{replicas: min(3, max(1, nodes)), direct: direct, kvs: map[string]jetstream.KeyValue{}}
}

// kv returns the bucket as seen through node's server, connecting (and
// making the bucket, the first time any connection needs it) on first use.
func (c *client) kv(ctx context.Context, node systems.Endpoint) (jetstream.KeyValue, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if kv := c.kvs[node.Client]; kv != nil {
		return kv, nil
	}
	nc, err := natsgo.Connect("nats://"+node.Client,
		natsgo.Name("faultline"), natsgo.Timeout(2*time.Second),
		natsgo.MaxReconnects(-1), natsgo.ReconnectWait(100*time.Millisecond),
		natsgo.DontRandomize(), natsgo.IgnoreAuthErrorAbort(),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", node.Name, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	kv, err := js.KeyValue(ctx, Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = c.makeBucket(ctx, js)
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bucket %s via %s: %w", Bucket, node.Name, err)
	}
	c.conns = append(c.conns, nc)
	c.kvs[node.Client] = kv
	return kv, nil
}

// makeBucket creates the bucket, R3, one value per key, with the stream's
// AllowDirect set as the mode asks (nats.go turns it on for every new
// bucket, so it is switched off by updating the stream), and binds it
// again so the KV handle reads the way the stream now says.
func (c *client) makeBucket(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	_, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket, Replicas: c.replicas, History: 1})
	if err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
		return nil, err
	}
	s, err := js.Stream(ctx, "KV_"+Bucket)
	if err != nil {
		return nil, err
	}
	cfg := s.CachedInfo().Config
	if cfg.AllowDirect != c.direct {
		cfg.AllowDirect = c.direct
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("set allow_direct=%v: %w", c.direct, err)
		}
	}
	return js.KeyValue(ctx, Bucket)
}

// Close closes every connection.
func (c *client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, nc := range c.conns {
		nc.Close()
	}
	c.conns, c.kvs = nil, map[string]jetstream.KeyValue{}
	return nil
}

// Invoke runs op on node. Outcomes:
//   - OK: the server answered; a read's Value is the JSON value stored
//     (nil when the key is absent).
//   - Fail: certainly no effect: a read that failed, a cas whose expected
//     value was not the current one or whose revision moved on, or a
//     write nobody could take (no responders: no stream leader).
//   - Info: a write or cas whose outcome is unknown (timeout).
func (c *client) Invoke(ctx context.Context, node systems.Endpoint, op systems.Op) systems.Completion {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opTimeout)
		defer cancel()
	}
	kv, err := c.kv(ctx, node)
	if err != nil {
		return systems.Failed("%v", err)
	}
	switch op.F {
	case history.OpRead:
		e, err := kv.Get(ctx, op.Key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return systems.Completion{Type: history.OK}
		}
		if err != nil {
			return systems.Failed("%s: get: %v", node.Name, err)
		}
		v, err := systems.DecodeValue(e.Value())
		if err != nil {
			return systems.Failed("%s: bad value %q: %v", node.Name, e.Value(), err)
		}
		return systems.Completion{Type: history.OK, Value: v}
	case history.OpWrite:
		val, err := json.Marshal(op.Value)
		if err != nil {
			return systems.Failed("encode value: %v", err)
		}
		if _, err := kv.Put(ctx, op.Key, val); err != nil {
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
		e, err := kv.Get(ctx, op.Key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return systems.Completion{Type: history.Fail, Error: "cas mismatch: key absent"}
		}
		if err != nil {
			return systems.Failed("%s: cas get: %v", node.Name, err)
		}
		if string(e.Value()) != string(expected) {
			return systems.Completion{Type: history.Fail, Error: "cas mismatch"}
		}
		if _, err := kv.Update(ctx, op.Key, next, e.Revision()); err != nil {
			if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
				return systems.Completion{Type: history.Fail, Error: "cas mismatch: revision moved"}
			}
			return mutationFailed(op, node, "update", err)
		}
		return systems.Completion{Type: history.OK}
	}
	return systems.Failed("nats: unsupported operation %q (read, write, cas)", op.F)
}

// mutationFailed classifies a failed Put or Update: no responders means
// no server took the message (no stream leader), so Fail; anything else
// may have been stored, so Info.
func mutationFailed(op systems.Op, node systems.Endpoint, what string, err error) systems.Completion {
	msg := fmt.Sprintf("%s: %s: %v", node.Name, what, err)
	if errors.Is(err, natsgo.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
		return systems.Failed("%s", msg)
	}
	return systems.Unsure(op, msg)
}
