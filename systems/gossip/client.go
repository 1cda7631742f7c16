package gossip

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// defaultClientTimeout bounds an operation whose ctx has no deadline: a
// node answers after one local fsync, so this only fires on a paused node.
const defaultClientTimeout = 5 * time.Second

// client runs one workload's operations: counter (add, read), set (add,
// remove, read) or register (write, read). Safe for concurrent use.
type client struct {
	workload string
	hc       *http.Client
}

func newClient(workload string) *client {
	return &client{workload: workload, hc: systems.NewHTTPClient(64)}
}

// Invoke runs op on node. OK: the node acknowledged (an update is durable
// on that node); a read's Value is the node's current value (a number for
// a counter, a list for a set) with json.Number numbers. Fail: the node
// refused the op, or the request never left (dial failed). Info: anything
// else (timeout, lost connection, an update not known to be durable).
func (c *client) Invoke(ctx context.Context, node systems.Endpoint, op systems.Op) systems.Completion {
	method, path, body, err := c.request(op)
	if err != nil {
		return systems.Failed("%v", err)
	}
	ctx, cancel := systems.BoundContext(ctx, defaultClientTimeout)
	defer cancel()
	var cr clientResponse
	reply, sent, err := systems.CallJSON(ctx, c.hc, method, node, path, body, maxBodyBytes, &cr)
	if err != nil {
		return systems.CallFailed(op, node, sent, err)
	}
	switch {
	case reply.Code == http.StatusOK:
		out := systems.Completion{Type: history.OK}
		if op.F == history.OpRead {
			v, err := systems.DecodeValue(cr.Value)
			if err != nil {
				return systems.Unsure(op, fmt.Sprintf("%s: bad value %s: %v", node.Name, cr.Value, err))
			}
			out.Value = v
		}
		return out
	case reply.Code/100 == 4:
		return systems.Completion{Type: history.Fail, Error: fmt.Sprintf("%s: %s: %s", node.Name, reply.Status, cr.Error)}
	default:
		return systems.Unsure(op, fmt.Sprintf("%s: %s: %s", node.Name, reply.Status, cr.Error))
	}
}

func (c *client) request(op systems.Op) (method, path string, body []byte, err error) {
	key := url.PathEscape(op.Key)
	if op.Key == "" {
		return "", "", nil, fmt.Errorf("gossip: %s without a key", op.F)
	}
	enc := func(field string) ([]byte, error) {
		return json.Marshal(map[string]any{field: op.Value})
	}
	switch c.workload + "/" + string(op.F) {
	case "counter/add":
		body, err = enc("delta")
		return http.MethodPost, "/counter/" + key + "/add", body, err
	case "counter/read":
		return http.MethodGet, "/counter/" + key, nil, nil
	case "set/add", "set/remove":
		body, err = enc("element")
		return http.MethodPost, "/set/" + key + "/" + string(op.F), body, err
	case "set/read":
		return http.MethodGet, "/set/" + key, nil, nil
	case "register/write":
		body, err = enc("value")
		return http.MethodPut, "/register/" + key, body, err
	case "register/read":
		return http.MethodGet, "/register/" + key, nil, nil
	}
	return "", "", nil, fmt.Errorf("gossip: unsupported operation %q for workload %s", op.F, c.workload)
}
