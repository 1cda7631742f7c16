package raft

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

const (
	// defaultClientTimeout bounds an operation whose ctx has no deadline;
	// a node answers within its opTimeout (2s) unless paused or cut off.
	defaultClientTimeout = 5 * time.Second
	// maxAttempts bounds redirects and waits for a leader per operation.
	maxAttempts = 8
	// noLeaderBackoff is the wait before asking again when no node knows
	// a leader (an election is on; it takes 150-300ms).
	noLeaderBackoff = 50 * time.Millisecond
	maxBodyBytes    = 1 << 20
)

// client is the register workload's client: one POST /kv per attempt,
// following redirects to the leader. Safe for concurrent use.
type client struct {
	hc      *http.Client
	timeout time.Duration
	byName  map[string]systems.Endpoint
}

func newClient(nodes []systems.Endpoint, timeout time.Duration) *client {
	byName := make(map[string]systems.Endpoint, len(nodes))
	for _, e := range nodes {
		byName[e.Name] = e
	}
	return &client{
		timeout: timeout,
		byName:  byName,
		hc:      systems.NewHTTPClient(128),
	}
}

// Invoke runs op, starting at node and following redirects to the leader
// (at most maxAttempts tries). Outcomes:
//   - OK: applied (a write, a cas that matched) or read with the value
//     (numbers as json.Number; nil when absent).
//   - Fail: certainly no effect: a cas whose expected value did not match
//     ("cas mismatch"), or every attempt redirected or unsent.
//   - Info: the outcome is unknown: proposed but not known to be applied in
//     time, leadership changed after proposing, or the connection was lost
//     after the request was sent.
func (c *client) Invoke(ctx context.Context, node systems.Endpoint, op systems.Op) systems.Completion {
	req := clientRequest{F: string(op.F), Key: op.Key}
	switch op.F {
	case history.OpRead:
	case history.OpWrite, history.OpCAS, history.OpAcquire, history.OpRenew, history.OpRelease, history.OpFencedWrite:
		raw, err := json.Marshal(op.Value)
		if err != nil {
			return systems.Failed("encode value: %v", err)
		}
		req.Value = raw
	default:
		return systems.Failed("raft: unsupported operation %q (read, write, cas, acquire, renew, release, fenced-write)", op.F)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return systems.Failed("encode request: %v", err)
	}
	ctx, cancel := systems.BoundContext(ctx, c.timeout)
	defer cancel()
	target := node
	lastErr := "no attempt"
	for range maxAttempts {
		var res result
		if _, sent, err := systems.CallJSON(ctx, c.hc, http.MethodPost, target, pathKV, body, maxBodyBytes, &res); err != nil {
			return systems.CallFailed(op, target, sent, err)
		}
		served := ""
		if target.Name != node.Name {
			served = target.Name
		}
		if comp, redirected := completionOf(op, &res, target.Name); !redirected {
			comp.Node = served
			return comp
		}
		lastErr = fmt.Sprintf("%s: not leader (leader %q)", target.Name, res.Leader)
		if next, ok := c.byName[res.Leader]; ok && res.Leader != target.Name {
			target = next
			continue
		}
		// No leader known: an election is on. Wait, then ask the
		// node first chosen again.
		target = node
		t := time.NewTimer(noLeaderBackoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return systems.Failed("no leader before the deadline: %s", lastErr)
		case <-t.C:
		}
	}
	// Every attempt was redirected: nothing was proposed.
	return systems.Failed("no leader after %d attempts: %s", maxAttempts, lastErr)
}

// completionOf maps node at's answer to op to the op's completion, or
// says it was redirected (the node does not lead; nothing was proposed).
func completionOf(op systems.Op, res *result, at string) (systems.Completion, bool) {
	switch res.Outcome {
	case outcomeOK:
		comp := systems.Completion{Type: history.OK}
		switch op.F {
		case history.OpRead:
			v, err := systems.DecodeValue(res.Value)
			if err != nil {
				return systems.Failed("%s: bad value %s: %v", at, res.Value, err), false
			}
			comp.Value = v
		case history.OpAcquire:
			// The grant's completion is the request with its token.
			req, _ := json.Marshal(op.Value)
			v, err := lockCompletion(req, res.Value)
			if err != nil {
				return systems.Unsure(op, fmt.Sprintf("%s: granted, but %v", at, err)), false
			}
			comp.Value = v
		}
		return comp, false
	case outcomeFail:
		return systems.Completion{Type: history.Fail, Error: res.Error}, false
	case outcomeInfo:
		return systems.Unsure(op, fmt.Sprintf("%s: %s", at, res.Error)), false
	case outcomeRedirect:
		return systems.Completion{}, true
	}
	return systems.Unsure(op, fmt.Sprintf("%s: unknown outcome %q: %s", at, res.Outcome, res.Error)), false
}
