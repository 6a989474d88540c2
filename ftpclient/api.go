// Package ftpclient is everything in fxpfs that speaks FTP: one scheduler per
// server granting every connection, MLSD/LIST parsing, streamed transfers
// that cope with the servers' quirks, and the raw control channel that FXP
// needs.
//
// Paths given to a Client are mount paths: absolute, '/'-separated, relative to
// the server's configured base path ("/" is the base itself). The Client joins
// them with the base path; callers never see server-absolute paths.
//
// This file holds the public types and the API contract. Other files implement it.
package ftpclient

import (
	"errors"
	"log/slog"
	"os"
	"time"
)

// TLSMode selects how the control and data channels are protected.
type TLSMode string

// TLS modes.
const (
	TLSNone     TLSMode = "none"
	TLSExplicit TLSMode = "explicit" // AUTH TLS on the plain port
	TLSImplicit TLSMode = "implicit" // TLS from the first byte (ftps://)
)

// FXPPolicy says whether server-to-server copies may use FXP.
type FXPPolicy string

// FXP policies.
const (
	FXPAuto  FXPPolicy = "auto"  // FXP, else relay through the client
	FXPOff   FXPPolicy = "off"   // always relay
	FXPForce FXPPolicy = "force" // FXP or an error, never relay
)

// Secret is a password. It never formats, logs or marshals as its value.
type Secret string

func (Secret) String() string               { return "[REDACTED]" }
func (Secret) GoString() string             { return `"[REDACTED]"` }
func (Secret) LogValue() slog.Value         { return slog.StringValue("[REDACTED]") }
func (Secret) MarshalText() ([]byte, error) { return []byte("[REDACTED]"), nil }

// Reveal returns the password itself, for the PASS command only.
func (s Secret) Reveal() string { return string(s) }

// ServerConfig is one configured server. Zero durations and counts take the
// defaults listed with each field (see Normalize).
type ServerConfig struct {
	Name         string        // the folder name in the mount: [A-Za-z0-9._-]+
	Host         string        // host name or IP
	Port         int           // default 21 (990 for implicit TLS)
	BasePath     string        // server directory shown as the server's folder; default "/"
	User         string        // default "anonymous"
	Password     Secret        // never logged
	TLS          TLSMode       // default none
	TLSInsecure  bool          // skip certificate verification (explicit opt-out)
	MaxConns     int           // default 4; adapts downward when the server refuses more
	ListingTTL   time.Duration // default 60s
	FXP          FXPPolicy     // default auto
	PreciseMtime MtimePolicy   // MDTM for LIST's minute/day-precision times; default auto

	DisableMLSD bool // force LIST even where FEAT offers MLSD
	DisableEPSV bool // use PASV even where EPSV works

	// TLS trust (default: the system's roots, for Host) and FXP data
	// protection; README "TLS" states the rules.
	TLSCAFile      string // PEM file of CA certificates trusted instead of the system's roots
	TLSFingerprint string // "sha256:<hex>" of the only certificate accepted (pin: issuer, name, dates unchecked)
	FXPClearData   bool   // FXP may send this TLS server's data in clear (PROT C) where no encrypted way exists

	DialTimeout time.Duration // default 10s: TCP connect + greeting + login
	CmdTimeout  time.Duration // default 30s: one control-channel reply
	DataTimeout time.Duration // default 60s: no data-channel progress for this long is an error
	IdleTimeout time.Duration // default 60s: idle pooled connections are closed after this
}

// MtimePolicy says when a LIST listing's times (minutes, or days for
// files older than six months) are replaced by MDTM's seconds.
type MtimePolicy string

// Mtime policies.
const (
	// MtimeAuto (the default, also ""): MDTM for every file of a LIST
	// listing, pipelined, except files listed to the minute whose size
	// and listed time are those of an earlier MDTM answer that was over
	// an hour old when it came and that this client has not changed since
	// (a file written since has another listed minute; only a time set
	// into the same minute on a same-size file would not show); at most
	// maxPreciseMtimes per listing.
	MtimeAuto MtimePolicy = "auto"
	// MtimeAlways: MDTM for every file of every LIST listing, no reuse.
	MtimeAlways MtimePolicy = "always"
	// MtimeNever: LIST's times as they are.
	MtimeNever MtimePolicy = "never"
)

// EntryType is the kind of a directory entry.
type EntryType int

// Entry kinds.
const (
	TypeFile EntryType = iota
	TypeDir
	TypeLink
)

// Entry is one file, directory or symlink as the server listed it.
type Entry struct {
	Name   string
	Type   EntryType
	Size   int64
	Mtime  time.Time   // zero if unknown
	Mode   os.FileMode // permission bits only; 0 if the server did not say
	Target string      // symlink target (LIST "a -> b"), else ""
}

// Features is what a server said it supports (FEAT, plus probes).
type Features struct {
	MLSD, MFMT, MDTM, SIZE, REST, UTF8, EPSV bool
	SiteChmod, SiteUtime                     bool
	Hashes                                   []string // HASH algorithms (RFC draft), e.g. "SHA-256", "MD5"
	XMD5, XSHA1, XCRC                        bool
	SSCN, CPSV                               bool // the server can be the TLS client of a data connection (FXP over TLS)
	// Software is the server's implementation as its greeting names it
	// (SoftwareVsftpd, ...), "" where it does not say (a banner of its
	// admin's). A hint for behaviour no command reveals, never a trust
	// decision: a server may name itself anything.
	Software string

	mlstOpts string // OPTS MLST argument that turns on unix.mode (see mlstOpts), sent on every connection
}

// Stats are counters for one server since the Client was made.
type Stats struct {
	Commands int64 // control-channel commands sent (all connections, incl. login)
	Dials    int64 // control connections opened
	BytesIn  int64 // data-channel bytes received by this host (RETR, listings)
	BytesOut int64 // data-channel bytes sent by this host (STOR/APPE)
	MaxConns int   // current connection limit (may have adapted below the configured one)
	Slots    int   // connection slots granted now (in use, or reserved for a copy)
	Conns    int   // control connections open now (busy or idle)
	Waiting  int   // callers waiting for a slot of this server
}

// Sentinel errors. Every error a Client returns wraps one of these where it
// applies, so callers classify with errors.Is and never match strings.
var (
	ErrNotFound    = errors.New("no such file or directory")
	ErrExists      = errors.New("file exists")
	ErrPermission  = errors.New("permission denied")
	ErrNotEmpty    = errors.New("directory not empty")
	ErrIsDir       = errors.New("is a directory")
	ErrNotDir      = errors.New("not a directory")
	ErrBadName     = errors.New("invalid file name") // CR, LF, NUL, too long, or '/' in a name
	ErrUnsupported = errors.New("not supported by the server")
	ErrNoSpace     = errors.New("no space left on server")
	ErrTimeout     = errors.New("server timed out")
	ErrProtocol    = errors.New("FTP protocol error") // garbage reply, hostile PASV, oversized line
	ErrUnavailable = errors.New("server unavailable") // 421, refused, reset, after retries
	ErrClosed      = errors.New("client closed")
	ErrShortRead   = errors.New("download cut short by the server") // fewer bytes than the unchanged file has (EIO)
)

// MaxNameLen is the longest single path component accepted.
const MaxNameLen = 255

// MaxPathLen is the longest path accepted.
const MaxPathLen = 4096
