package core

import "fmt"

// raftLog is the in-memory log: a snapshot point followed by entries.
//
// Invariants:
//
//	ents[i].Index == snapIndex + 1 + i
//	snapIndex <= applied <= committed <= lastIndex()
//	snapIndex <= stable <= lastIndex()
//
// stable is the last index the caller has been told to persist and has
// acknowledged through Advance (entries after it are "unstable").
type raftLog struct {
	snapIndex uint64
	snapTerm  uint64
	ents      []Entry
	committed uint64
	applied   uint64
	stable    uint64
}

func (l *raftLog) lastIndex() uint64 { return l.snapIndex + uint64(len(l.ents)) }

func (l *raftLog) lastTerm() uint64 {
	t, err := l.term(l.lastIndex())
	if err != nil {
		panic(fmt.Sprintf("raft: term of last index %d: %v", l.lastIndex(), err))
	}
	return t
}

// term returns the term of the entry at i. Index 0 has term 0.
func (l *raftLog) term(i uint64) (uint64, error) {
	switch {
	case i == l.snapIndex:
		return l.snapTerm, nil
	case i < l.snapIndex:
		return 0, ErrCompacted
	case i > l.lastIndex():
		return 0, ErrUnavailable
	}
	return l.ents[i-l.snapIndex-1].Term, nil
}

func (l *raftLog) matchTerm(i, term uint64) bool {
	t, err := l.term(i)
	return err == nil && t == term
}

// isUpToDate reports whether a log ending at (lastIdx, lastTerm) is at
// least as up-to-date as ours (paper §5.4.1): later last term wins, equal
// last terms compare length.
func (l *raftLog) isUpToDate(lastIdx, lastTerm uint64) bool {
	lt := l.lastTerm()
	return lastTerm > lt || (lastTerm == lt && lastIdx >= l.lastIndex())
}

// slice returns a copy of the entries in [lo, hi), at most max of them
// (max <= 0 means no limit) and at most maxBytes of data (but at least
// one). The copy keeps messages valid after the log truncates.
func (l *raftLog) slice(lo, hi uint64, max, maxBytes int) []Entry {
	if lo <= l.snapIndex || hi > l.lastIndex()+1 {
		panic(fmt.Sprintf("raft: slice [%d, %d) out of bounds (snap %d, last %d)", lo, hi, l.snapIndex, l.lastIndex()))
	}
	if lo >= hi {
		return nil
	}
	src := l.ents[lo-l.snapIndex-1 : hi-l.snapIndex-1]
	n, size := 0, 0
	for n < len(src) && (max <= 0 || n < max) {
		size += len(src[n].Data)
		if n > 0 && maxBytes > 0 && size > maxBytes {
			break
		}
		n++
	}
	return append([]Entry(nil), src[:n]...)
}

// findConflict returns the index of the first entry of ents that is not in
// the log (absent or with another term), or 0 when all are present.
// Compacted indices count as present: they are committed.
func (l *raftLog) findConflict(ents []Entry) uint64 {
	for _, e := range ents {
		t, err := l.term(e.Index)
		if err == ErrCompacted {
			continue
		}
		if err != nil || t != e.Term {
			return e.Index
		}
	}
	return 0
}

// findConflictByTerm returns the largest index <= index whose term is <=
// term, with that term: the fast back-off hint (thesis §5.3 optimization).
// It stops at the snapshot point.
func (l *raftLog) findConflictByTerm(index, term uint64) (uint64, uint64) {
	if li := l.lastIndex(); index > li {
		index = li
	}
	for {
		t, err := l.term(index)
		if err != nil || t <= term {
			return index, t
		}
		index--
	}
}

// truncateAndAppend puts ents (contiguous, non-empty) at ents[0].Index,
// dropping any entries from there on.
func (l *raftLog) truncateAndAppend(ents []Entry) {
	first := ents[0].Index
	if first <= l.snapIndex || first > l.lastIndex()+1 {
		panic(fmt.Sprintf("raft: append at %d out of bounds (snap %d, last %d)", first, l.snapIndex, l.lastIndex()))
	}
	l.ents = append(l.ents[:first-l.snapIndex-1], ents...)
	l.stable = min(l.stable, first-1)
}

func (l *raftLog) commitTo(i uint64) bool {
	if i <= l.committed {
		return false
	}
	if i > l.lastIndex() {
		panic(fmt.Sprintf("raft: commit %d beyond last index %d", i, l.lastIndex()))
	}
	l.committed = i
	return true
}

// unstable returns the entries not yet persisted.
func (l *raftLog) unstable() []Entry {
	if l.stable >= l.lastIndex() {
		return nil
	}
	return l.ents[l.stable-l.snapIndex:]
}

// toApply returns the committed entries not yet handed to the application.
func (l *raftLog) toApply() []Entry {
	if l.applied >= l.committed {
		return nil
	}
	return l.ents[l.applied-l.snapIndex : l.committed-l.snapIndex]
}

// compact drops the entries up to and including i, which must be applied.
func (l *raftLog) compact(i uint64) error {
	if i <= l.snapIndex {
		return nil
	}
	if i > l.applied {
		return fmt.Errorf("raft: compact to %d beyond applied %d", i, l.applied)
	}
	t, err := l.term(i)
	if err != nil {
		return fmt.Errorf("raft: compact to %d: %w", i, err)
	}
	l.ents = append([]Entry(nil), l.ents[i-l.snapIndex:]...)
	l.snapIndex, l.snapTerm = i, t
	l.stable = max(l.stable, i)
	return nil
}

// restore replaces the log with a snapshot point.
func (l *raftLog) restore(s *Snapshot) {
	l.snapIndex, l.snapTerm = s.Index, s.Term
	l.ents = nil
	l.committed, l.applied, l.stable = s.Index, s.Index, s.Index
}
