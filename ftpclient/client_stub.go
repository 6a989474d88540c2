package ftpclient

// STUB: the method set the rest of fxpfs codes against. The ftpclient helper
// replaces this file with the real implementation (same signatures; additions
// are fine, changes must be reported).

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"
)

var errStub = errors.New("ftpclient: not implemented yet")

// Client is one configured server: its pool and every operation on it.
// Safe for concurrent use.
type Client struct {
	cfg ServerConfig
	log *slog.Logger
}

// New validates cfg (filling defaults) and returns a Client. It does not dial.
func New(cfg ServerConfig, log *slog.Logger) (*Client, error) {
	return &Client{cfg: cfg, log: log}, nil
}

// Config returns the normalized configuration (Password included; never log it).
func (c *Client) Config() ServerConfig { return c.cfg }

// Name is the server's folder name.
func (c *Client) Name() string { return c.cfg.Name }

// Connect dials and logs in one connection (kept in the pool), so that bad
// credentials or an unreachable host are reported at mount time.
func (c *Client) Connect(ctx context.Context) error { return errStub }

// Close closes all pooled connections; in-flight transfers fail.
func (c *Client) Close() error { return nil }

// Stats returns the counters.
func (c *Client) Stats() Stats { return Stats{} }

// Features returns what the server supports (cached after the first login).
func (c *Client) Features(ctx context.Context) (Features, error) { return Features{}, errStub }

// List returns the entries of directory dir (MLSD where offered, else LIST),
// without "." and "..". Unparseable lines are logged and skipped.
func (c *Client) List(ctx context.Context, dir string) ([]Entry, error) { return nil, errStub }

// Stat returns one entry (MLST where offered, else a listing of the parent).
// The root "/" is always a directory.
func (c *Client) Stat(ctx context.Context, p string) (Entry, error) { return Entry{}, errStub }

// Size returns the size of a file (SIZE).
func (c *Client) Size(ctx context.Context, p string) (int64, error) { return 0, errStub }

// ModTime returns the precise modification time (MDTM), ErrUnsupported if none.
func (c *Client) ModTime(ctx context.Context, p string) (time.Time, error) {
	return time.Time{}, errStub
}

// OpenRead starts a RETR of p at offset off (REST). The returned stream holds
// one pooled connection until Close. Reads time out after DataTimeout without
// progress. Close before EOF aborts the transfer cleanly.
func (c *Client) OpenRead(ctx context.Context, p string, off int64) (io.ReadCloser, error) {
	return nil, errStub
}

// WriteMode selects how an upload starts.
type WriteMode int

// Upload modes.
const (
	WriteTruncate WriteMode = iota // STOR (off must be 0)
	WriteAt                        // REST off + STOR
	WriteAppend                    // APPE
)

// Upload is a streaming STOR/APPE. Write feeds the data channel; Close ends
// the data and waits for the server's final reply: its error is the upload's
// result. Abort stops the transfer (ABOR) and returns; the partial file is
// left for the caller to delete.
type Upload interface {
	io.Writer
	Close() error
	Abort() error
}

// OpenWrite starts an upload to p. It holds one pooled connection until Close/Abort.
func (c *Client) OpenWrite(ctx context.Context, p string, off int64, mode WriteMode) (Upload, error) {
	return nil, errStub
}

// Mkdir makes a directory (MKD).
func (c *Client) Mkdir(ctx context.Context, p string) error { return errStub }

// Rmdir removes an empty directory (RMD).
func (c *Client) Rmdir(ctx context.Context, p string) error { return errStub }

// Remove deletes a file (DELE).
func (c *Client) Remove(ctx context.Context, p string) error { return errStub }

// Rename renames within this server (RNFR/RNTO).
func (c *Client) Rename(ctx context.Context, from, to string) error { return errStub }

// SetModTime sets the mtime (MFMT, else SITE UTIME), ErrUnsupported if neither.
func (c *Client) SetModTime(ctx context.Context, p string, t time.Time) error { return errStub }

// Chmod sets permission bits (SITE CHMOD), ErrUnsupported if refused.
func (c *Client) Chmod(ctx context.Context, p string, mode os.FileMode) error { return errStub }

// AcquireRaw borrows a raw control connection (logged in, TYPE I) from the
// pool for FXP. It counts against MaxConns. The caller must Release it.
func (c *Client) AcquireRaw(ctx context.Context) (*RawConn, error) { return nil, errStub }

// RawConn is a raw FTP control channel: one command at a time, full
// multi-line replies. Not safe for concurrent use.
type RawConn struct{}

// Reply is one complete server reply.
type Reply struct {
	Code int
	Msg  string // all lines joined with "\n", codes stripped from continuation lines
}

// Cmd sends one command (arguments are validated: no CR/LF/NUL) and reads its
// reply. An error is returned only for I/O or protocol failures, not for a
// 4xx/5xx reply: the caller inspects Reply.Code.
func (r *RawConn) Cmd(ctx context.Context, format string, args ...any) (Reply, error) {
	return Reply{}, errStub
}

// ReadReply reads one more reply (e.g. the 226 after a 150).
func (r *RawConn) ReadReply(ctx context.Context) (Reply, error) { return Reply{}, errStub }

// Pasv sends PASV and returns the address the server listens on ("h1,h2,h3,h4,p1,p2"
// decoded to "ip:port"). The address is returned as the server gave it, for FXP.
func (r *RawConn) Pasv(ctx context.Context) (string, error) { return "", errStub }

// Port sends PORT for hostport ("ip:port").
func (r *RawConn) Port(ctx context.Context, hostport string) (Reply, error) {
	return Reply{}, errStub
}

// ServerPath maps a mount path to the server's absolute path (base joined),
// after validating it.
func (r *RawConn) ServerPath(p string) (string, error) { return "", errStub }

// Release returns the connection to the pool, or destroys it when err != nil
// or the connection is mid-transfer. Idempotent.
func (r *RawConn) Release(err error) {}

// ValidatePath checks a mount path: absolute, clean, no CR/LF/NUL, components
// ≤ MaxNameLen, total ≤ MaxPathLen. Returns an error wrapping ErrBadName.
func ValidatePath(p string) error { return errStub }

// ValidateName checks one path component the same way (and rejects '/', ".", "..").
func ValidateName(name string) error { return errStub }
