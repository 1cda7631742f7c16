// Package disk opens the files a node keeps its durable state in, in one
// of two modes. Durable hands every write to the OS at once, as a normal
// process does: a SIGKILL loses nothing the process wrote, because the
// kernel's page cache survives the process. Lazy keeps written bytes in
// process memory until Sync, so a SIGKILL loses exactly what a power cut
// would lose on a real machine: everything not yet fsynced. The power-loss
// fault runs nodes lazy; a system that acknowledges before fsync then
// loses acknowledged data, as it would in a data centre losing power.
//
// Contract of a lazy File: bytes written are held in order and reach the
// OS, in that order, on Sync, Flush, Close, or any call that needs the
// file's real contents (Read, Seek, Stat, Truncate). Nothing else a caller
// does hands them over, except that more than LazyLimit pending bytes are
// written back (a kernel does not hold dirty pages forever either).
package disk

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// Mode is how a File treats written bytes that are not fsynced yet.
type Mode int

const (
	// Durable writes through to the OS at once.
	Durable Mode = iota
	// Lazy keeps un-fsynced bytes in process memory.
	Lazy
)

// LazyLimit is how many pending bytes a lazy File holds before it writes
// them back on its own. It bounds memory under a system that never
// fsyncs (the ack-before-fsync bug); runs write far less than this in the
// seconds between faults.
const LazyLimit = 64 << 20

// ParseMode maps the node's --storage value (durable, lazy) to a Mode.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "durable":
		return Durable, nil
	case "lazy":
		return Lazy, nil
	}
	return Durable, fmt.Errorf("storage mode %q: want durable or lazy", s)
}

func (m Mode) String() string {
	if m == Lazy {
		return "lazy"
	}
	return "durable"
}

// File is an *os.File whose writes are held back in Lazy mode. Writes
// append at the current offset, as the log-structured callers here do.
// Methods are safe for concurrent use.
type File struct {
	mode Mode

	mu      sync.Mutex
	f       *os.File
	pending []byte
}

// OpenFile is os.OpenFile returning a File in the given mode.
func OpenFile(path string, flag int, perm os.FileMode, mode Mode) (*File, error) {
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		return nil, err
	}
	return &File{mode: mode, f: f}, nil
}

// Name is the file's path.
func (f *File) Name() string { return f.f.Name() }

// Mode is the file's mode.
func (f *File) Mode() Mode { return f.mode }

// Write appends p: to the OS in Durable mode, to process memory in Lazy.
func (f *File) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mode == Durable {
		return f.f.Write(p)
	}
	f.pending = append(f.pending, p...)
	if len(f.pending) > LazyLimit {
		if err := f.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Pending is the number of written bytes the OS has not seen yet.
func (f *File) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// Flush hands pending bytes to the OS without fsync, as a page-cache
// write-back would: other readers of the path see them, a power cut may
// still lose them. Callers that read the file through another handle
// flush first.
func (f *File) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flushLocked()
}

func (f *File) flushLocked() error {
	if len(f.pending) == 0 {
		return nil
	}
	n, err := f.f.Write(f.pending)
	f.pending = f.pending[n:]
	if len(f.pending) == 0 {
		f.pending = nil
	}
	if err != nil {
		return fmt.Errorf("write back %s: %w", f.f.Name(), err)
	}
	return nil
}

// Sync hands pending bytes to the OS and fsyncs the file.
func (f *File) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.flushLocked(); err != nil {
		return err
	}
	return f.f.Sync()
}

// Read reads the file's real contents (pending bytes included).
func (f *File) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.flushLocked(); err != nil {
		return 0, err
	}
	return f.f.Read(p)
}

// Seek flushes, then seeks.
func (f *File) Seek(off int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.flushLocked(); err != nil {
		return 0, err
	}
	return f.f.Seek(off, whence)
}

// Stat flushes, then stats.
func (f *File) Stat() (os.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.flushLocked(); err != nil {
		return nil, err
	}
	return f.f.Stat()
}

// Truncate flushes, then truncates.
func (f *File) Truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.flushLocked(); err != nil {
		return err
	}
	return f.f.Truncate(size)
}

// Close hands pending bytes to the OS (an orderly exit keeps what it
// wrote; only a SIGKILL loses it) and closes the file.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.flushLocked()
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	return err
}

var _ io.ReadWriteSeeker = (*File)(nil)

// WriteFileSync writes data to path (created or truncated) and fsyncs it.
// The fsync makes the mode irrelevant; it is here so every durable write of
// a node goes through this package.
func WriteFileSync(path string, data []byte, mode Mode) error {
	f, err := OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
