// Package fxpcopy is the server-to-server transfer engine: it copies a file
// from one FTP server to another (or within one) by FXP where the servers
// allow it, falls back to a bounded-memory relay where they do not, verifies,
// resumes, preserves mtime, and reports progress. It does not import FUSE.
package fxpcopy

// STUB: the API the rest of fxpfs codes against. The fxpcopy helper replaces
// this file (same signatures; additions fine, changes reported).

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

var errStub = errors.New("fxpcopy: not implemented yet")

// Endpoint is a file on a server.
type Endpoint struct {
	Client *ftpclient.Client
	Path   string // mount path on that server
}

// Mode is how a transfer moved its bytes.
type Mode string

// Transfer modes.
const (
	ModeFXP    Mode = "fxp"          // PASV on destination, PORT on source
	ModeFXPRev Mode = "fxp-reversed" // PASV on source, PORT on destination
	ModeRelay  Mode = "relay"        // RETR→STOR streamed through this host
)

// Options for one copy.
type Options struct {
	Continue        bool // resume onto an existing shorter destination
	NoVerify        bool // skip SIZE/hash verification
	NoPreserveMtime bool
}

// Record is the outcome of one transfer (also kept in the engine's history).
type Record struct {
	ID       int64
	Src, Dst string // "server:/path"
	Size     int64  // source size
	Bytes    int64  // bytes transferred (done so far while active)
	Started  time.Time
	Duration time.Duration
	Mode     Mode
	Fallback string // why FXP was not used / why the orientation flipped ("" if not)
	Verified string // e.g. "size", "size+SHA-256", "" if not verified
	Err      string // "" on success
	Active   bool
}

// Counters are totals since the engine was made.
type Counters struct {
	FXPFiles, RelayFiles, Failed int64
	FXPBytes                     int64 // bytes moved server-to-server
	RelayBytes                   int64 // bytes that passed through this host
}

// Engine runs transfers. Safe for concurrent use.
type Engine struct{ log *slog.Logger }

// New returns an engine.
func New(log *slog.Logger) *Engine { return &Engine{log: log} }

// Copy copies src to dst, replacing dst (or resuming it with opts.Continue).
// On failure no complete-looking destination is left (it is removed).
func (e *Engine) Copy(ctx context.Context, src, dst Endpoint, opts Options) (Record, error) {
	return Record{}, errStub
}

// Active returns the transfers under way.
func (e *Engine) Active() []Record { return nil }

// Recent returns the last finished transfers, newest first.
func (e *Engine) Recent(n int) []Record { return nil }

// Counters returns the totals.
func (e *Engine) Counters() Counters { return Counters{} }
