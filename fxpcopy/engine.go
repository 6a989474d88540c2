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

// String is "server:path", as records, summaries, errors and logs show an
// endpoint. The path is a server's file name: its control characters are
// escaped (ftpclient.Printable), so that a name listed by a server cannot
// drive the terminal that `fxpfs cp`, `sync` or `status` prints it on.
func (ep Endpoint) String() string {
	if ep.Client == nil {
		return "?:" + ftpclient.Printable(ep.Path)
	}
	return ep.Client.Name() + ":" + ftpclient.Printable(ep.Path)
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
	// Listed, if set, is what CopyTree's caller has just learnt of SRC
	// (and DST) with Client.Stat: CopyTree then asks neither again.
	// Copy ignores it.
	Listed *Listed
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

// Listed is what a caller of CopyTree learnt of its two ends (Options.Listed).
type Listed struct {
	Src ftpclient.Entry // SRC's entry, as Client.Stat gave it
	// DstLooked: DST itself was looked up (Client.Stat) and Dst is what
	// was found there, nil for nothing. Without it DST is unknown and
	// the copy asks.
	DstLooked bool
	Dst       *ftpclient.Entry
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
	unended  map[pairMode]int // attempts in a row whose data all arrived but that never ended (memory.go)
	early    map[fxpSides]earlyState

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
	// mtimeErr: why the destination did not get the source's mtime (set
	// by settle, read after the copy ended).
	mtimeErr error
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
		unended: map[pairMode]int{},
		early:   map[fxpSides]earlyState{},
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
