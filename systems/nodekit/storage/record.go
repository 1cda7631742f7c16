package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// On-disk record layout, all integers little endian:
//
//	[0:4]   n, the payload length
//	[4:8]   CRC-32C of bytes [0:4]
//	[8:12]  CRC-32C of the payload
//	payload:
//	  counter uint64 | writer uint64 | key length uvarint | key | value
//
// The length has its own checksum so that a damaged length in the middle
// of a log is reported as corruption instead of being mistaken for a record
// torn at the end (which would silently drop the records after it).
const (
	headerSize = 12
	// MaxRecordBytes caps one record's payload; a checked length above it
	// means a bug, not damage.
	MaxRecordBytes = 16 << 20
)

// ErrCorrupt says a log holds a damaged record that a torn final write
// cannot explain.
var ErrCorrupt = errors.New("storage: corrupt log")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Version orders the versions of one key: by Counter, then Writer. The zero
// Version is older than every written one.
type Version struct {
	Counter uint64
	Writer  uint64
}

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Counter != w.Counter {
		return v.Counter < w.Counter
	}
	return v.Writer < w.Writer
}

// Record is one version of one key.
type Record struct {
	Key     string
	Version Version
	Value   []byte
}

// appendRecord appends r's encoding to dst.
func appendRecord(dst []byte, r Record) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, headerSize)...)
	dst = binary.LittleEndian.AppendUint64(dst, r.Version.Counter)
	dst = binary.LittleEndian.AppendUint64(dst, r.Version.Writer)
	dst = binary.AppendUvarint(dst, uint64(len(r.Key)))
	dst = append(dst, r.Key...)
	dst = append(dst, r.Value...)
	h := dst[start : start+headerSize]
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(dst)-start-headerSize))
	binary.LittleEndian.PutUint32(h[4:8], crc32.Checksum(h[0:4], castagnoli))
	binary.LittleEndian.PutUint32(h[8:12], crc32.Checksum(dst[start+headerSize:], castagnoli))
	return dst
}

// recordSize is len(appendRecord(nil, r)).
func recordSize(r Record) int {
	var tmp [binary.MaxVarintLen64]byte
	return headerSize + 16 + binary.PutUvarint(tmp[:], uint64(len(r.Key))) + len(r.Key) + len(r.Value)
}

// errTorn marks damage that a crash during the final write explains:
// replay stops there and the tail is cut off.
var errTorn = errors.New("torn record")

// decodeRecord decodes the record at the start of b (the rest of the log)
// and returns it with its encoded size. The Record's Value aliases b.
//
// A crash during an append leaves a prefix of the written bytes, possibly
// followed by zeros (a file extended but never filled). So decodeRecord
// returns errTorn when the header is incomplete, when a checked length runs
// past the end of b, or when the damage is followed only by zeros; any other
// damage is ErrCorrupt.
func decodeRecord(b []byte) (Record, int, error) {
	if len(b) < headerSize {
		return Record{}, 0, errTorn
	}
	n := int(binary.LittleEndian.Uint32(b[0:4]))
	if crc32.Checksum(b[0:4], castagnoli) != binary.LittleEndian.Uint32(b[4:8]) {
		if allZero(b) {
			return Record{}, 0, errTorn
		}
		return Record{}, 0, fmt.Errorf("%w: record length checksum mismatch", ErrCorrupt)
	}
	if n > MaxRecordBytes || n < 17 {
		return Record{}, 0, fmt.Errorf("%w: record length %d out of range", ErrCorrupt, n)
	}
	size := headerSize + n
	if size > len(b) {
		return Record{}, 0, errTorn
	}
	p := b[headerSize:size]
	if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(b[8:12]) {
		if allZero(b[size:]) {
			return Record{}, 0, errTorn
		}
		return Record{}, 0, fmt.Errorf("%w: payload checksum mismatch in a %d-byte record followed by %d bytes", ErrCorrupt, size, len(b)-size)
	}
	r := Record{Version: Version{
		Counter: binary.LittleEndian.Uint64(p[0:8]),
		Writer:  binary.LittleEndian.Uint64(p[8:16]),
	}}
	p = p[16:]
	klen, k := binary.Uvarint(p)
	if k <= 0 || klen > uint64(len(p)-k) {
		return Record{}, 0, fmt.Errorf("%w: bad key length", ErrCorrupt)
	}
	r.Key = string(p[k : k+int(klen)])
	r.Value = p[k+int(klen):]
	return r, size, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
