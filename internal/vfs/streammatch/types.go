package streammatch

import (
	"fmt"
	"time"
)

// SourceID names one version of a file that is read through the mount.
// Size must be the file's size when it is opened (a negative Size makes
// the Tap inert). Two IDs are the same version when all fields are equal
// (Mtime compared with time.Time.Equal).
type SourceID struct {
	Server string
	Path   string
	Size   int64
	Mtime  time.Time
}

func (s SourceID) String() string {
	return fmt.Sprintf("%s:%s (%d bytes, %s)", s.Server, s.Path, s.Size, s.Mtime.UTC().Format(time.RFC3339Nano))
}

// key is SourceID as a map key (time.Time's fields are not comparable).
type key struct {
	server, path string
	size         int64
	sec          int64
	nsec         int32
	hasTime      bool
}

func (s SourceID) key() key {
	k := key{server: s.Server, path: s.Path, size: s.Size}
	if !s.Mtime.IsZero() {
		k.sec, k.nsec, k.hasTime = s.Mtime.Unix(), int32(s.Mtime.Nanosecond()), true
	}
	return k
}

// Options bound the index. The zero value gives the defaults.
type Options struct {
	// BlockSize is the unit the index keeps a digest for: a power of two
	// from 4 KiB to 4 MiB. Default 256 KiB. Smaller blocks make Likely
	// answer sooner and cost more memory per GiB of source.
	BlockSize int
	// MaxBytes caps the index's memory (digests and bookkeeping); the least
	// recently used source versions are forgotten beyond it. Default 16 MiB.
	MaxBytes int64
	// MaxAge forgets a source version not used for that long. Default 1 h;
	// negative: never.
	MaxAge time.Duration
	// MaxCandidates bounds the sources a Writer follows at once (sources
	// with the same first block). Default 16.
	MaxCandidates int
	// Now is the clock for MaxAge. Default time.Now.
	Now func() time.Time
}

// Defaults.
const (
	DefaultBlockSize     = 256 << 10
	DefaultMaxBytes      = 16 << 20
	DefaultMaxAge        = time.Hour
	DefaultMaxCandidates = 16

	// LeafSize is the grid on which reads are hashed (the page size).
	LeafSize = 4096

	minBlockSize = LeafSize
	maxBlockSize = 4 << 20
)

// Result of a Verdict.
type Result int

const (
	// Unknown: equality could not be established.
	Unknown Result = iota
	// Mismatch: the written data or length differs from every candidate.
	Mismatch
	// Proven: every written byte equals the source's at the same offset,
	// and the lengths are equal.
	Proven
)

func (r Result) String() string {
	switch r {
	case Proven:
		return "proven"
	case Mismatch:
		return "mismatch"
	}
	return "unknown"
}

// Verdict on a Writer's stream.
type Verdict struct {
	Result Result
	// Source is the proven source (Proven), else the candidate Reason is
	// about, if any.
	Source SourceID
	// Size is the written file's length.
	Size int64
	// Reason explains the result in words (for logs and status).
	Reason string
}

func (v Verdict) String() string {
	if v.Result == Proven {
		return fmt.Sprintf("proven: %d bytes equal %s", v.Size, v.Source)
	}
	return fmt.Sprintf("%s: %s", v.Result, v.Reason)
}

// Algo names a digest of the written file, spelled as in the FTP HASH
// command (draft-bryan-ftp-hash).
type Algo string

// Digests a Writer can compute.
const (
	SHA256 Algo = "SHA-256"
	SHA1   Algo = "SHA-1"
	MD5    Algo = "MD5"
	CRC32  Algo = "CRC32" // IEEE, as XCRC; Sum gives it big-endian
)

// Stats describe the index.
type Stats struct {
	Sources   int   // source versions known
	Blocks    int64 // block digests held
	Bytes     int64 // memory counted against MaxBytes
	Evictions int64 // source versions forgotten for MaxBytes or MaxAge
	Conflicts int64 // source versions found serving two contents
}
