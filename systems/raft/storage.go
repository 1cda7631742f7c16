package raft

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/faultline/faultline/systems/nodekit/disk"
	"github.com/faultline/faultline/systems/raft/core"
)

// On-disk layout in the data dir:
//
//	snap  the latest snapshot: crc32c | index | term | data
//	wal   a write-ahead log of records: length | crc32c | payload
//
// A WAL record is a hard state or one entry. Replaying in order rebuilds
// the log: an entry at index i replaces any entry at i or later (a
// follower truncating a conflict), entries at or below the snapshot are
// skipped. A torn tail (short or corrupt record, as left by a SIGKILL or a
// power loss mid-write) is cut off at recovery.
//
// Both files are replaced atomically: write a temp file, fsync it, rename
// it over the old one, fsync the directory.
const (
	walName  = "wal"
	snapName = "snap"

	recHardState byte = 1
	recEntry     byte = 2

	// maxRecord bounds one record so a corrupt length cannot make
	// recovery allocate gigabytes.
	maxRecord = 256 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt marks a record that failed its checks.
var errCorrupt = errors.New("corrupt record")

// storage is one node's durable state. Only the node loop uses it.
type storage struct {
	dir    string
	wal    *disk.File
	mode   disk.Mode
	buf    []byte
	logger *slog.Logger
	// sync is false only under the ack-before-fsync bug.
	sync bool
}

// recovered is what a node finds on disk at start.
type recovered struct {
	hs      core.HardState
	snap    *core.Snapshot
	entries []core.Entry
}

// openStorage recovers the state in dir. In disk.Lazy mode WAL writes stay
// in process memory until their fsync, so a SIGKILL loses what a power cut
// would.
func openStorage(dir string, logger *slog.Logger, mode disk.Mode) (*storage, recovered, error) {
	var rec recovered
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, rec, fmt.Errorf("create data dir: %w", err)
	}
	snap, err := readSnapshot(filepath.Join(dir, snapName))
	if err != nil {
		return nil, rec, err
	}
	rec.snap = snap
	hs, ents, good, err := replayWAL(filepath.Join(dir, walName), snap)
	if err != nil {
		return nil, rec, err
	}
	rec.hs, rec.entries = hs, ents
	f, err := disk.OpenFile(filepath.Join(dir, walName), os.O_RDWR|os.O_CREATE, 0o644, mode)
	if err != nil {
		return nil, rec, fmt.Errorf("open wal: %w", err)
	}
	if fi, err := f.Stat(); err == nil && fi.Size() > good {
		logger.Warn("wal: cutting torn tail", "at", good, "size", fi.Size())
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, rec, fmt.Errorf("truncate wal tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, rec, fmt.Errorf("sync wal: %w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, rec, fmt.Errorf("seek wal: %w", err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, rec, err
	}
	return &storage{dir: dir, wal: f, mode: mode, logger: logger, sync: true}, rec, nil
}

func (s *storage) close() error { return s.wal.Close() }

func (s *storage) setSync(sync bool) { s.sync = sync }

// append writes hs (when non-nil) and ents as one batch with one fsync:
// group commit.
func (s *storage) append(hs *core.HardState, ents []core.Entry) error {
	s.buf = s.buf[:0]
	if hs != nil {
		s.buf = appendRecord(s.buf, encodeHardState(hs))
	}
	for i := range ents {
		s.buf = appendRecord(s.buf, encodeEntry(&ents[i]))
	}
	if len(s.buf) == 0 {
		return nil
	}
	if _, err := s.wal.Write(s.buf); err != nil {
		return fmt.Errorf("write wal: %w", err)
	}
	if s.sync {
		if err := s.wal.Sync(); err != nil {
			return fmt.Errorf("fsync wal: %w", err)
		}
	}
	return nil
}

// saveSnapshot makes snap the durable snapshot.
func (s *storage) saveSnapshot(snap *core.Snapshot) error {
	b := make([]byte, 4, 4+16+len(snap.Data))
	b = binary.BigEndian.AppendUint64(b, snap.Index)
	b = binary.BigEndian.AppendUint64(b, snap.Term)
	b = append(b, snap.Data...)
	binary.BigEndian.PutUint32(b, crc32.Checksum(b[4:], crcTable))
	return writeAtomic(s.dir, snapName, b, s.mode)
}

// rewriteWAL replaces the WAL with hs and the entries after snapIndex of
// the current WAL (compaction), or with hs alone when keep is false (a
// follower installing a leader's snapshot drops its whole log).
func (s *storage) rewriteWAL(hs core.HardState, snap *core.Snapshot, keep bool) error {
	var ents []core.Entry
	if keep {
		// The replay reads the file through another handle: it must see
		// what this node wrote, as it would through the page cache.
		if err := s.wal.Flush(); err != nil {
			return fmt.Errorf("rewrite wal: %w", err)
		}
		var err error
		if _, ents, _, err = replayWAL(filepath.Join(s.dir, walName), snap); err != nil {
			return err
		}
	}
	var b []byte
	b = appendRecord(b, encodeHardState(&hs))
	for i := range ents {
		b = appendRecord(b, encodeEntry(&ents[i]))
	}
	if err := writeAtomic(s.dir, walName, b, s.mode); err != nil {
		return err
	}
	f, err := disk.OpenFile(filepath.Join(s.dir, walName), os.O_RDWR, 0o644, s.mode)
	if err != nil {
		return fmt.Errorf("reopen wal: %w", err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return fmt.Errorf("seek wal: %w", err)
	}
	s.wal.Close()
	s.wal = f
	return nil
}

func appendRecord(b, payload []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(payload, crcTable))
	return append(b, payload...)
}

func encodeHardState(hs *core.HardState) []byte {
	b := []byte{recHardState}
	b = binary.AppendUvarint(b, hs.Term)
	return binary.AppendUvarint(b, hs.Vote)
}

func encodeEntry(e *core.Entry) []byte {
	b := make([]byte, 0, 24+len(e.Data))
	b = append(b, recEntry, byte(e.Type))
	b = binary.AppendUvarint(b, e.Term)
	b = binary.AppendUvarint(b, e.Index)
	return append(b, e.Data...)
}

// replayWAL reads the WAL at path and returns the last hard state, the
// entries after snap, and the offset of the end of the last good record.
func replayWAL(path string, snap *core.Snapshot) (core.HardState, []core.Entry, int64, error) {
	var hs core.HardState
	var ents []core.Entry
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return hs, nil, 0, nil
	}
	if err != nil {
		return hs, nil, 0, fmt.Errorf("open wal: %w", err)
	}
	defer f.Close()
	rp := newReplayer(snap)
	r := bufio.NewReaderSize(f, 1<<20)
	var good int64
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			break // EOF or a torn header
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n == 0 || n > maxRecord {
			break
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			break
		}
		if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
			break
		}
		switch payload[0] {
		case recHardState:
			t, k := binary.Uvarint(payload[1:])
			v, k2 := binary.Uvarint(payload[1+max(k, 0):])
			if k <= 0 || k2 <= 0 {
				return hs, nil, 0, fmt.Errorf("wal at %d: hard state: %w", good, errCorrupt)
			}
			rp.hardState(core.HardState{Term: t, Vote: v})
		case recEntry:
			e, err := decodeEntry(payload)
			if err != nil {
				return hs, nil, 0, fmt.Errorf("wal at %d: %w", good, err)
			}
			if err := rp.entry(e); err != nil {
				return hs, nil, 0, fmt.Errorf("wal at %d: %w", good, err)
			}
		default:
			return hs, nil, 0, fmt.Errorf("wal at %d: record type %d: %w", good, payload[0], errCorrupt)
		}
		good += 8 + int64(n)
	}
	hs, ents = rp.result()
	return hs, ents, good, nil
}

// replayer rebuilds the log from WAL records in order, for the real WAL
// and the simulator's alike: an entry at index i replaces any entry at i or
// later; entries at or below the snapshot are skipped.
type replayer struct {
	snap  *core.Snapshot
	first uint64
	// atSnap is the term of the WAL's entry at the snapshot index, if the
	// WAL still has one: entries after a snapshot that does not agree with
	// it belong to an older log (a crash while installing a leader's
	// snapshot) and are dropped.
	atSnap uint64
	hs     core.HardState
	ents   []core.Entry
}

func newReplayer(snap *core.Snapshot) *replayer {
	rp := &replayer{snap: snap, first: 1}
	if snap != nil {
		rp.first = snap.Index + 1
	}
	return rp
}

func (rp *replayer) hardState(hs core.HardState) { rp.hs = hs }

func (rp *replayer) entry(e core.Entry) error {
	first := rp.first
	switch {
	case e.Index < first:
		// Covered by the snapshot; like any entry it replaces
		// everything after it.
		rp.ents = rp.ents[:0]
		if e.Index == first-1 {
			rp.atSnap = e.Term
		} else if e.Index < first-1 {
			rp.atSnap = 0
		}
	case e.Index > first+uint64(len(rp.ents)):
		return fmt.Errorf("entry %d leaves a gap after %d: %w", e.Index, first+uint64(len(rp.ents))-1, errCorrupt)
	default:
		rp.ents = append(rp.ents[:e.Index-first], e)
	}
	return nil
}

func (rp *replayer) result() (core.HardState, []core.Entry) {
	if rp.snap != nil && rp.atSnap != 0 && rp.atSnap != rp.snap.Term {
		return rp.hs, nil
	}
	return rp.hs, rp.ents
}

func decodeEntry(p []byte) (core.Entry, error) {
	if len(p) < 2 {
		return core.Entry{}, fmt.Errorf("short entry: %w", errCorrupt)
	}
	e := core.Entry{Type: core.EntryType(p[1])}
	p = p[2:]
	t, k := binary.Uvarint(p)
	if k <= 0 {
		return e, fmt.Errorf("entry term: %w", errCorrupt)
	}
	p = p[k:]
	i, k := binary.Uvarint(p)
	if k <= 0 {
		return e, fmt.Errorf("entry index: %w", errCorrupt)
	}
	e.Term, e.Index = t, i
	if len(p[k:]) > 0 {
		e.Data = p[k:]
	}
	return e, nil
}

func readSnapshot(path string) (*core.Snapshot, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	// The file is only ever replaced whole, so a bad one is real damage.
	if len(b) < 20 || crc32.Checksum(b[4:], crcTable) != binary.BigEndian.Uint32(b) {
		return nil, fmt.Errorf("snapshot %s: %w", path, errCorrupt)
	}
	return &core.Snapshot{
		Index: binary.BigEndian.Uint64(b[4:]),
		Term:  binary.BigEndian.Uint64(b[12:]),
		Data:  b[20:],
	}, nil
}

// writeAtomic replaces dir/name with data: temp file, fsync, rename, fsync
// of the directory, so a crash leaves the old file or the new one.
func writeAtomic(dir, name string, data []byte, mode disk.Mode) error {
	tmp := filepath.Join(dir, name+".tmp")
	if err := disk.WriteFileSync(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}
