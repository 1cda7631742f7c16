// Package simdisk is the storage model of faultline's simulator: files of
// records (any Go values) that a node appends to and syncs, and that keep,
// across a crash, exactly what a real disk would. A kill loses nothing the
// node wrote (the page cache survives a process); a power loss loses every
// record not synced yet. Records are values, not bytes: nodes store what
// they would encode, so the model costs no encoding.
package simdisk

// Disk is one node's storage. Only the simulation goroutine uses it.
type Disk struct {
	files map[string]*file
}

type file struct {
	synced  []any
	pending []any // written, not synced
}

// New returns an empty disk.
func New() *Disk { return &Disk{files: map[string]*file{}} }

func (d *Disk) file(name string) *file {
	f, ok := d.files[name]
	if !ok {
		f = &file{}
		d.files[name] = f
	}
	return f
}

// Append writes recs at the end of the named file, unsynced.
func (d *Disk) Append(name string, recs ...any) {
	f := d.file(name)
	f.pending = append(f.pending, recs...)
}

// Sync makes everything written to the named file durable.
func (d *Disk) Sync(name string) {
	f := d.file(name)
	f.synced = append(f.synced, f.pending...)
	f.pending = f.pending[:0]
}

// Replace atomically replaces the named file with recs, durably (write a
// temp file, fsync, rename, fsync the directory).
func (d *Disk) Replace(name string, recs ...any) {
	d.files[name] = &file{synced: append([]any(nil), recs...)}
}

// Records returns what a reader of the named file sees: the synced records
// and then the unsynced ones. The slice must not be modified.
func (d *Disk) Records(name string) []any {
	f, ok := d.files[name]
	if !ok {
		return nil
	}
	if len(f.pending) == 0 {
		return f.synced
	}
	out := make([]any, 0, len(f.synced)+len(f.pending))
	return append(append(out, f.synced...), f.pending...)
}

// Unsynced counts the records of every file not synced yet.
func (d *Disk) Unsynced() int {
	n := 0
	for _, f := range d.files {
		n += len(f.pending)
	}
	return n
}

// PowerLoss drops every record not synced: what a power cut loses.
func (d *Disk) PowerLoss() {
	for _, f := range d.files {
		f.pending = nil
	}
}

// NextIncarnation counts the node's lives on this disk, durably, as
// storage.NextIncarnation does on a real one: 1 on the first start.
func (d *Disk) NextIncarnation() uint64 {
	const name = "incarnation"
	var n uint64
	if recs := d.Records(name); len(recs) > 0 {
		n = recs[len(recs)-1].(uint64)
	}
	n++
	d.Replace(name, n)
	return n
}
