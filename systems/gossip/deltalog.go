package gossip

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/faultline/faultline/systems/gossip/crdt"
	"github.com/faultline/faultline/systems/nodekit/disk"
	"github.com/faultline/faultline/systems/nodekit/storage"
)

// deltaLog is the node's durable state: every delta the node itself made
// (a client's add, remove or write), one JSON line each, fsynced in group
// commits before the client is answered. Replaying it rebuilds exactly the
// updates this node acknowledged; what the node learned from others comes
// back through anti-entropy after a restart, so it is not logged.
type deltaLog struct {
	f  *disk.File
	gc *storage.GroupCommit
}

type loggedDelta struct {
	Key string      `json:"k"`
	Obj crdt.Object `json:"o"`
}

// openDeltaLog opens or creates the log at path (in the node's storage
// mode: lazy under the power-loss fault) and returns it with every delta
// it holds. A final line torn by a crash mid-append (never
// acknowledged) is cut off; any other damage is an error.
func openDeltaLog(path string, mode disk.Mode) (*deltaLog, []loggedDelta, error) {
	f, err := disk.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644, mode)
	if err != nil {
		return nil, nil, fmt.Errorf("open delta log: %w", err)
	}
	var out []loggedDelta
	br := bufio.NewReader(f)
	var good int64
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			if len(bytes.TrimSpace(line)) > 0 {
				// Torn last append: never acknowledged, drop it.
				if terr := f.Truncate(good); terr != nil {
					f.Close()
					return nil, nil, fmt.Errorf("cut torn delta log tail: %w", terr)
				}
			}
			break
		}
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("read delta log: %w", err)
		}
		var d loggedDelta
		if err := json.Unmarshal(line, &d); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("delta log %s at byte %d: %w", path, good, err)
		}
		out = append(out, d)
		good += int64(len(line))
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("seek delta log: %w", err)
	}
	return &deltaLog{f: f, gc: storage.NewGroupCommit(f, 0)}, out, nil
}

// append returns once d is durable.
func (l *deltaLog) append(d loggedDelta) error {
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode delta: %w", err)
	}
	return l.gc.Append(append(b, '\n'))
}

func (l *deltaLog) close() error {
	err := l.gc.Close()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}
