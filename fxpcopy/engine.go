// Package fxpcopy is the server-to-server transfer engine: it copies a file
// from one FTP server to another (or within one) by FXP where the servers
// allow it, falls back to a bounded-memory relay where they do not, verifies,
// resumes, preserves mtime, and reports progress. It does not import FUSE.
//
// One copy (Engine.Copy):
//  1. SIZE (and MDTM) of the source; with Options.Continue, SIZE of the
//     destination gives the resume offset. Otherwise, where a file exists
//     at the destination, the copy goes to a temporary next to it (see
//     "Existing destinations").
//  2. Policy (ServerConfig.FXP of both sides): "off" on either side means
//     relay; "force" on either side means FXP or an error.
//  3. The ways to copy, tried in turn until one works: FXP with PASV on the
//     destination, FXP with PASV on the source (reversed), the relay. The
//     orientation that last worked for the server pair goes first; one
//     refused by the pair within RefusalMemory is skipped. Each attempt
//     takes fresh control connections (a failed attempt's are destroyed,
//     never reused). A copy fails only when every way has failed, or at
//     once when the file itself is refused (missing source, no permission,
//     no space: no other way would fare better) or ctx is done.
//  4. FXP attempt: PASV (EPSV where PASV is refused or over IPv6) to the
//     passive side; PORT (EPRT for IPv6) to the active side with the
//     passive server's own control address — never a third host a PASV
//     reply may name; then the transfer commands, the passive side's first
//     (see "Command order"); then both control connections are watched at
//     once while a spare connection polls the destination's SIZE, under the
//     deadlines of deadlines.go. Where a server uses TLS, protect.go
//     decides how the servers' direct data connection is protected
//     (encrypted with SSCN/CPSV; clear only where fxp_clear_data allows it;
//     else the orientation is refused).
//  5. Relay: RETR streamed into STOR through a fixed 256 KiB buffer.
//  6. Verify: destination SIZE equals the source's, plus a common hash
//     (HASH, XSHA256/XSHA1/XMD5/XCRC) when both servers offer one. A mismatch
//     removes the destination.
//  7. MFMT (or SITE UTIME) copies the source's mtime.
//  8. A temporary is renamed over the file it replaces.
//
// # Command order
//
// The passive server (the one that got PASV) is sent its transfer command
// first, the active server (PORT) its own right after, without waiting for
// a 1xx: vsftpd, pure-ftpd and proftpd send it only once the data
// connection exists, so waiting would deadlock. Why this is safe:
//   - Default orientation (PASV on the destination): STOR goes to the
//     destination, then RETR to the source. The source connects and sends
//     only after it has RETR, which left after STOR; a destination that
//     accepts in its STOR handler finds the connection queued in its listen
//     backlog; a destination that accepts at once and drops a connection
//     arriving before its command (pyftpdlib) answers STOR at once, and is
//     given time to (Engine.earlyWait), so the connection cannot overtake
//     the command. No byte can flow before the destination has opened the
//     file: the destination reads only what arrives on the connection it
//     accepted for STOR.
//   - Reversed (PASV on the source): RETR goes to the source, then STOR to
//     the destination. The destination connects only once it has STOR and
//     has opened its file, and the source sends only on a connection it
//     accepted for RETR: again no byte flows before both commands are in.
//
// The old order (the active server first, waiting for its 150) let the
// active source's data reach a passive pyftpdlib before its STOR, which
// dropped it and then waited for ever.
//
// # Watching both sides
//
// Both control connections are read at once, so an attempt that cannot work
// ends in seconds: a passive server that refuses its peer's address
// (pure-ftpd without FXP allowed) drops the data connection and keeps
// waiting, saying nothing, while its peer ends at once (426, or 226 for 0
// bytes). After PeerSilence the attempt is given up: ABOR on both control
// connections, the passive server's data connection opened from this host
// (the address it does accept) to end its wait, QUIT, and a reset of a
// connection still busy — so that no server session outlives the attempt —
// and the refusal is remembered for the pair and orientation.
//
// # Interruption
//
// When ctx is done during an FXP transfer: ABOR on both control
// connections, up to AbortWait for both transfers to end, a reset of those
// that did not, then the destination is removed (after its size is stable
// if its end was not confirmed) and checked to be gone, within RemoveWait.
// Removing it while the server's upload session still writes can leave a
// hidden file (pure-ftpd renames a file to .pureftpd-rename.* for DELE and
// keeps it if its size changes meanwhile).
//
// A failed copy removes what it wrote unless it was a resume
// (Options.Continue) whose data so far verified as a prefix, or its STOR
// was refused (DestinationIntact): nothing that looks complete is left.
//
// # Existing destinations
//
// A copy onto a file that exists (and is not resumed) never writes onto
// it. It first checks that the server would let it overwrite that file
// (ftpclient's ProbeWritable: an APPE of nothing), then copies — FXP or
// relay, any orientation — into a temporary in the same directory
// (".fxpfs-XXXXXXXXXX.part", without the dot where the server refuses dot
// files), verifies it, gives it the source's mtime and the original's
// permission bits, and only then renames it over the original
// (ftpclient's Client.Replace: RNFR/RNTO, or by way of a backup name on
// servers that cannot rename onto a file). Any failure before that —
// refusal, mismatch, cancellation, a server gone — removes the temporary
// like any failed destination (ABOR, wait, DELE, check gone) and leaves the
// original byte for byte as it was (DestinationIntact). Exceptions: where
// the directory takes no new file at all, the file is overwritten in place
// with a warning (a failure then removes it); a file created at the
// destination by someone else between the check and the copy is written
// directly; the replacement has the copying user as owner.
//
// A destination that does not exist is written directly: there is nothing
// to lose, a failure removes it, and a temporary would cost a rename per
// file in trees of new files. Options.InPlace writes the destination
// directly even where it exists: for callers that made it a temporary of
// their own (the mount's kernel copies, which hide their temporaries).
// CopyTree and Sync pass what their listings say is at each destination:
// a copy to a name their listing found free asks nothing; one onto a file
// asks SIZE (it may be gone since) and the write check, not a listing.
//
// Every error wraps the sentinel that classifies it: ftpclient's (ErrNoSpace,
// ErrPermission, ErrNotFound, ErrTimeout, ErrUnavailable, ...),
// context.Canceled, ErrVerify or ErrFXPRefused.
package fxpcopy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Errors the engine returns (wrapped, with the step and servers named).
var (
	// ErrFXPRefused: FXP was required (policy "force") but refused in both
	// orientations, or the policies of the two servers contradict.
	ErrFXPRefused = errors.New("FXP refused")
	// ErrVerify: the destination does not match the source after the transfer.
	ErrVerify = errors.New("verification failed")
)

// Endpoint is a file on a server.
type Endpoint struct {
	Client *ftpclient.Client
	Path   string // mount path on that server
}

func (ep Endpoint) String() string {
	if ep.Client == nil {
		return "?:" + ep.Path
	}
	return ep.Client.Name() + ":" + ep.Path
}

// Mode is how a transfer moved its bytes.
type Mode string

// Transfer modes.
const (
	ModeFXP    Mode = "fxp"          // PASV on destination, PORT on source
	ModeFXPRev Mode = "fxp-reversed" // PASV on source, PORT on destination
	ModeRelay  Mode = "relay"        // RETR→STOR streamed through this host
	ModeNone   Mode = "none"         // nothing to move: a resumed destination was complete
)

// Options for one copy.
type Options struct {
	Continue        bool // resume onto an existing shorter destination
	NoVerify        bool // skip SIZE/hash verification
	NoPreserveMtime bool

	// Progress, if set, is called with the live record when the transfer
	// starts, about every poll interval while it runs, and when it ends
	// (Active false). It may be called from several goroutines at once (one
	// per concurrent copy) and must not block.
	Progress func(Record)
	// Plan, if set, is called once by CopyTree with the number of files and
	// bytes it is about to copy (for a total ETA).
	Plan func(files int, bytes int64)
	// Origin, if set, is recorded in the Record and counted apart
	// (Counters.MatchedFiles for OriginMatchedStream).
	Origin Origin
	// NoRelay: FXP or fail, never a relay through this host (the caller
	// has the bytes already: vfs's stream matching uploads them instead).
	NoRelay bool
	// InPlace: write dst itself even where a file exists there, without a
	// temporary (see "Existing destinations"): the caller made dst a
	// temporary of its own (the mount's kernel copies) and puts it in
	// place itself.
	InPlace bool
}

// Record is the outcome of one transfer (also kept in the engine's history).
type Record struct {
	ID       int64
	Src, Dst string // "server:/path"
	Size     int64  // source size
	Bytes    int64  // destination bytes done (including a resumed prefix)
	Resumed  int64  // bytes that were already at the destination (Continue)
	Started  time.Time
	Duration time.Duration
	Mode     Mode
	Fallback string // why FXP was not used / why the orientation flipped ("" if not)
	// Protection says how the data was protected where a TLS server took
	// part: "TLS, a is the TLS client (SSCN)", "clear, allowed by
	// fxp_clear_data on a, b (...)", or for a relay each leg's; "" when
	// neither server uses TLS.
	Protection string `json:",omitempty"`
	Verified   string // e.g. "size", "size+SHA-256", "" if not verified
	Err        string // "" on success
	Active     bool
	Attempts   int // ways tried (1 when the first worked)
	// Reason classifies a relay (RelayPolicy, RelayRefused, ...) or a
	// failure ("no space", "timeout", "cancelled", ...); "" otherwise.
	Reason string
	Origin Origin `json:",omitempty"` // what asked for the copy, if not a plain copy (Options.Origin)
}

// Rate is the transfer rate in bytes per second so far.
func (r Record) Rate() float64 {
	moved := r.Bytes - r.Resumed
	if r.Duration <= 0 || moved <= 0 {
		return 0
	}
	return float64(moved) / r.Duration.Seconds()
}

// recentCap bounds the history of finished transfers (about 300 bytes each).
const recentCap = 1000

// defaultPoll is how often a running transfer's progress is sampled.
const defaultPoll = 500 * time.Millisecond

// Engine runs transfers. Safe for concurrent use.
type Engine struct {
	log    *slog.Logger
	poll   time.Duration
	timing timing

	mu       sync.Mutex
	nextID   int64
	active   map[int64]*transfer
	recent   []Record // ring, recentCap long once full
	head     int      // next slot in recent
	counters Counters
	refused  map[pairMode]refusalNote // see memory.go
	worked   map[pair]Mode
	early    map[*ftpclient.Client]earlyState

	// beforeVerify, if set (tests only), runs after the data moved and
	// before verification.
	beforeVerify func(Record)

	tlsMem protMemory // what TLS between servers has taught (protect.go)
}

// transfer is one running copy.
type transfer struct {
	mu    sync.Mutex
	rec   Record
	bytes atomic.Int64 // live destination size
	// dstUnsettled: an attempt ended without the destination server
	// confirming the end of its upload (its connection was reset).
	dstUnsettled atomic.Bool
}

func (t *transfer) snapshot() Record {
	t.mu.Lock()
	r := t.rec
	t.mu.Unlock()
	r.Bytes = t.bytes.Load()
	if r.Active {
		r.Duration = time.Since(r.Started)
	}
	return r
}

func (t *transfer) update(f func(*Record)) {
	t.mu.Lock()
	f(&t.rec)
	t.mu.Unlock()
}

// New returns an engine. log may be nil.
func New(log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{
		log:     log.With("component", "fxpcopy"),
		poll:    defaultPoll,
		timing:  defaultTiming(),
		active:  map[int64]*transfer{},
		refused: map[pairMode]refusalNote{},
		worked:  map[pair]Mode{},
		early:   map[*ftpclient.Client]earlyState{},
	}
}

// Active returns the transfers under way, oldest first.
func (e *Engine) Active() []Record {
	e.mu.Lock()
	ts := make([]*transfer, 0, len(e.active))
	for _, t := range e.active {
		ts = append(ts, t)
	}
	e.mu.Unlock()
	out := make([]Record, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.snapshot())
	}
	sortByID(out)
	return out
}

// Recent returns the last finished transfers, newest first (at most n; n <= 0: all kept).
func (e *Engine) Recent(n int) []Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	size := len(e.recent)
	if n <= 0 || n > size {
		n = size
	}
	out := make([]Record, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, e.recent[(e.head-i+size)%size])
	}
	return out
}

// Counters returns the totals.
func (e *Engine) Counters() Counters {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counters.clone()
}

func (e *Engine) begin(src, dst Endpoint) *transfer {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.nextID++
	t := &transfer{rec: Record{
		ID: e.nextID, Src: src.String(), Dst: dst.String(),
		Started: time.Now(), Active: true,
	}}
	e.active[t.rec.ID] = t
	return t
}

// finish moves t to the history and updates the counters.
func (e *Engine) finish(t *transfer, err error) Record {
	t.update(func(r *Record) {
		r.Active = false
		r.Duration = time.Since(r.Started)
		if err != nil {
			r.Err = err.Error()
			r.Reason = failureKind(err)
		}
	})
	rec := t.snapshot()
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.active, rec.ID)
	if len(e.recent) < recentCap {
		e.recent = append(e.recent, rec)
		e.head = len(e.recent) % recentCap
	} else {
		e.recent[e.head] = rec
		e.head = (e.head + 1) % recentCap
	}
	e.counters.count(rec, err)
	return rec
}

func sortByID(rs []Record) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].ID < rs[j-1].ID; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// policy combines the two servers' FXP settings.
func policy(src, dst ftpclient.ServerConfig) (tryFXP, allowRelay bool, why string, err error) {
	norm := func(p ftpclient.FXPPolicy) ftpclient.FXPPolicy {
		if p == "" {
			return ftpclient.FXPAuto
		}
		return p
	}
	sp, dp := norm(src.FXP), norm(dst.FXP)
	off := sp == ftpclient.FXPOff || dp == ftpclient.FXPOff
	force := sp == ftpclient.FXPForce || dp == ftpclient.FXPForce
	switch {
	case off && force:
		return false, false, "", fmt.Errorf("%w: policies contradict: %s has fxp=%q, %s has fxp=%q",
			ErrFXPRefused, src.Name, sp, dst.Name, dp)
	case off:
		name := src.Name
		if dp == ftpclient.FXPOff {
			name = dst.Name
		}
		return false, true, fmt.Sprintf("fxp=\"off\" for %s", name), nil
	case force:
		return true, false, "", nil
	}
	return true, true, "", nil
}

// cleanupCtx gives cleanup RemoveWait even when ctx is already done.
func (e *Engine) cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), e.timing.removeWait)
}
