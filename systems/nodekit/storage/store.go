// Package storage is the durable state of a replica: an append-only log of
// versioned records, replayed on open, whose appends are made durable in
// batches by a GroupCommit (a reusable piece: see groupcommit.go).
//
// A Store keeps, for each key, the record with the greatest Version ever
// put. That rule is commutative, so replay does not depend on record order
// and a put that lost a race to a newer one is harmless.
package storage

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/faultline/faultline/systems/nodekit/disk"
)

// Options tune a Store. The zero value is ready to use.
type Options struct {
	// MaxBatchBytes caps one group commit (DefaultMaxBatchBytes if zero).
	MaxBatchBytes int
	// CompactMinBytes and CompactRatio decide when Open rewrites the log:
	// when it is at least CompactMinBytes long and CompactRatio times
	// larger than the live records it holds. Zero means 1 MiB and 4.
	CompactMinBytes int64
	CompactRatio    float64
	Logger          *slog.Logger
	// Mode says whether un-fsynced log writes reach the OS at once
	// (disk.Durable, the default) or stay in process memory until the
	// group commit's fsync (disk.Lazy: a SIGKILL loses them, as a power
	// cut would).
	Mode disk.Mode

	// wrapFile lets tests observe or delay the log's Write and Sync.
	wrapFile func(File) File
}

// Store is a durable map from key to its newest Record. Methods are safe for
// concurrent use.
type Store struct {
	path string
	opts Options
	log  *slog.Logger

	// swap is held shared by Put across its append, and exclusively by
	// Compact and Close, which replace or close the file under it.
	swap sync.RWMutex
	f    *disk.File
	gc   *GroupCommit
	err  error // sticky: ErrClosed, or a failure that left the log unknown

	mu        sync.Mutex // guards the fields below
	live      map[string]Record
	logBytes  int64
	liveBytes int64
}

// Open opens or creates the log at path and replays it. A record torn by a
// crash during the last append is cut off (it was never acknowledged); any
// other damage fails with an error wrapping ErrCorrupt.
func Open(path string, opts Options) (*Store, error) {
	if opts.CompactMinBytes == 0 {
		opts.CompactMinBytes = 1 << 20
	}
	if opts.CompactRatio == 0 {
		opts.CompactRatio = 4
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := disk.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644, opts.Mode)
	if err != nil {
		return nil, fmt.Errorf("storage: open: %w", err)
	}
	s := &Store{path: path, opts: opts, log: lg, f: f, live: make(map[string]Record)}
	if err := s.recover(created); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	if s.logBytes >= opts.CompactMinBytes && float64(s.logBytes) > opts.CompactRatio*float64(s.liveBytes) {
		if err := s.rewrite(); err != nil {
			_ = s.f.Close()
			return nil, fmt.Errorf("storage: open %s: %w", path, err)
		}
	}
	s.gc = NewGroupCommit(s.file(), opts.MaxBatchBytes)
	return s, nil
}

// recover replays the log into s.live and cuts off a torn tail.
func (s *Store) recover(created bool) error {
	data, err := io.ReadAll(s.f)
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	off := 0
	for off < len(data) {
		r, n, err := decodeRecord(data[off:])
		if errors.Is(err, errTorn) {
			break
		}
		if err != nil {
			return fmt.Errorf("record at offset %d: %w", off, err)
		}
		r.Value = append([]byte(nil), r.Value...) // do not pin the whole log
		s.apply(r)
		off += n
	}
	if off < len(data) {
		s.log.Warn("cutting off torn log tail", "path", s.path, "offset", off, "bytes", len(data)-off)
		if err := s.f.Truncate(int64(off)); err != nil {
			return fmt.Errorf("truncate torn tail: %w", err)
		}
	}
	s.logBytes = int64(off)
	// The replayed bytes may have reached the file without an fsync (the
	// process was killed between write and fsync); they are served as
	// durable from now on, so make them so.
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("fsync log: %w", err)
	}
	if created {
		if err := syncDir(filepath.Dir(s.path)); err != nil {
			return err
		}
	}
	return nil
}

// apply installs r if it is newer than what the key holds. Callers hold mu
// or own s exclusively.
func (s *Store) apply(r Record) bool {
	cur, ok := s.live[r.Key]
	if ok && !cur.Version.Less(r.Version) {
		return false
	}
	if ok {
		s.liveBytes -= int64(recordSize(cur))
	}
	s.live[r.Key] = r
	s.liveBytes += int64(recordSize(r))
	return true
}

func (s *Store) file() File {
	if s.opts.wrapFile != nil {
		return s.opts.wrapFile(s.f)
	}
	return s.f
}

// Get returns the newest durable record of key. Its Value must not be
// modified.
func (s *Store) Get(key string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.live[key]
	return r, ok
}

// Len returns the number of keys.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}

// Put makes r durable and returns once the store durably holds a version of
// r.Key at least as new as r.Version. It reports whether r itself became the
// key's record (false when an equal or newer version was already there).
// r is visible to Get only after its fsync. Put copies r.Value.
func (s *Store) Put(r Record) (bool, error) {
	if size := recordSize(r) - headerSize; size > MaxRecordBytes {
		return false, fmt.Errorf("storage: put %q: record of %d bytes exceeds %d", r.Key, size, MaxRecordBytes)
	}
	s.swap.RLock()
	defer s.swap.RUnlock()
	if s.err != nil {
		return false, s.err
	}
	s.mu.Lock()
	cur, ok := s.live[r.Key]
	s.mu.Unlock()
	if ok && !cur.Version.Less(r.Version) {
		// Already durable at this version or newer: nothing to write.
		return false, nil
	}
	r.Value = append([]byte(nil), r.Value...)
	buf := appendRecord(nil, r)
	if err := s.gc.Append(buf); err != nil {
		return false, fmt.Errorf("storage: put %q: %w", r.Key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logBytes += int64(len(buf))
	return s.apply(r), nil
}

// Stats describes a Store.
type Stats struct {
	Keys      int
	LogBytes  int64 // bytes in the log file
	LiveBytes int64 // bytes the live records would take after compaction
	Commit    GroupCommitStats
}

// Stats returns the current figures.
func (s *Store) Stats() Stats {
	s.swap.RLock()
	gc := s.gc
	s.swap.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Keys: len(s.live), LogBytes: s.logBytes, LiveBytes: s.liveBytes}
	if gc != nil {
		st.Commit = gc.Stats()
	}
	return st
}

// Compact rewrites the log to hold only the live records. Puts wait while it
// runs. Open compacts by itself when the log has grown much larger than its
// live set, which is enough for runs of minutes; long-lived callers may
// call Compact periodically.
func (s *Store) Compact() error {
	s.swap.Lock()
	defer s.swap.Unlock()
	if s.err != nil {
		return s.err
	}
	if err := s.gc.Close(); err != nil {
		s.err = err
		return err
	}
	err := s.rewrite()
	if s.err == nil {
		s.gc = NewGroupCommit(s.file(), s.opts.MaxBatchBytes)
	}
	return err
}

// rewrite writes the live records to a new file and renames it over the
// log. The caller owns s exclusively (no GroupCommit running). A failure
// before the rename leaves the old log in use; one after it is sticky.
func (s *Store) rewrite() error {
	tmp := s.path + ".compact"
	s.mu.Lock()
	var buf []byte
	for _, r := range s.live {
		buf = appendRecord(buf, r)
	}
	s.mu.Unlock()
	if err := disk.WriteFileSync(tmp, buf, s.opts.Mode); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("storage: compact: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("storage: compact: %w", err)
	}
	// From here on the old file is unlinked: appends to it would be lost.
	old := s.f
	f, err := disk.OpenFile(s.path, os.O_RDWR|os.O_APPEND, 0o644, s.opts.Mode)
	if err == nil {
		err = syncDir(filepath.Dir(s.path))
	}
	_ = old.Close()
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		s.f = nil
		s.err = fmt.Errorf("storage: compact: %w", err)
		return s.err
	}
	s.f = f
	s.mu.Lock()
	before := s.logBytes
	s.logBytes = int64(len(buf))
	s.mu.Unlock()
	s.log.Info("compacted log", "path", s.path, "before_bytes", before, "after_bytes", len(buf))
	return nil
}

// Close waits for pending puts, then closes the log. Later calls return nil.
func (s *Store) Close() error {
	s.swap.Lock()
	defer s.swap.Unlock()
	if errors.Is(s.err, ErrClosed) {
		return nil
	}
	var errs []error
	if s.gc != nil {
		errs = append(errs, s.gc.Close())
	}
	if s.f != nil {
		errs = append(errs, s.f.Close())
	}
	s.err = ErrClosed
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("storage: close %s: %w", s.path, err)
	}
	return nil
}

// syncDir fsyncs a directory so that a file created or renamed in it
// survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}
