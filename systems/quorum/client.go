package quorum

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// defaultClientTimeout bounds an operation whose ctx has no deadline. A node
// answers within two peer timeouts (1.5s), so this only fires on a paused
// or unreachable node.
const defaultClientTimeout = 5 * time.Second

// client is the register workload's client: one HTTP request per operation
// to the endpoint the harness picks. Safe for concurrent use.
type client struct {
	hc      *http.Client
	timeout time.Duration
}

func newClient(timeout time.Duration) *client {
	return &client{
		timeout: timeout,
		hc:      systems.NewHTTPClient(64),
	}
}

// Invoke runs op on node. Outcomes:
//   - OK: the node completed the op; a read's Value is its JSON value with
//     numbers as json.Number (nil when absent).
//   - Fail: the op certainly took no effect: the node said so (a write whose
//     query phase found no majority stored nothing; a read that found no
//     majority), or the request never left (dial failed).
//   - Info: the outcome is unknown: a timeout, a connection lost after
//     sending, or a node reporting its store phase incomplete.
func (c *client) Invoke(ctx context.Context, node systems.Endpoint, op systems.Op) systems.Completion {
	// The wire's clientRequest, with the value still to encode.
	var req struct {
		Key   string `json:"key"`
		Value any    `json:"value,omitempty"`
	}
	req.Key = op.Key
	var path string
	switch op.F {
	case history.OpRead:
		path = pathRead
	case history.OpWrite:
		path, req.Value = pathWrite, op.Value
	default:
		return systems.Failed("quorum: unsupported operation %q (supports read, write)", op.F)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return systems.Failed("encode request: %v", err)
	}
	ctx, cancel := systems.BoundContext(ctx, c.timeout)
	defer cancel()
	var cr clientResponse
	reply, sent, err := systems.CallJSON(ctx, c.hc, http.MethodPost, node, path, body, maxBodyBytes, &cr)
	if err != nil {
		return systems.CallFailed(op, node, sent, err)
	}
	if cr.Outcome != outcomeOK && cr.Outcome != outcomeFail && cr.Outcome != outcomeUnknown {
		return systems.Unsure(op, fmt.Sprintf("%s: %s, unknown outcome %q: %s", node.Name, reply.Status, cr.Outcome, cr.Error))
	}
	return completionOf(op, &cr, node.Name)
}

// completionOf maps node at's answer to op to the op's completion.
func completionOf(op systems.Op, cr *clientResponse, at string) systems.Completion {
	switch cr.Outcome {
	case outcomeOK:
		c := systems.Completion{Type: history.OK}
		if op.F == history.OpRead {
			v, err := systems.DecodeValue(cr.Value)
			if err != nil {
				return systems.Failed("%s: bad value %s: %v", at, cr.Value, err)
			}
			c.Value = v
		}
		return c
	case outcomeFail:
		return systems.Completion{Type: history.Fail, Error: cr.Error}
	}
	return systems.Unsure(op, cr.Error)
}
