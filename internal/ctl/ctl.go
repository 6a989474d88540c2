// Package ctl is the running mount's status endpoint: a Unix socket per
// mount point that answers every connection with one JSON Snapshot, and the
// client side that `fxpfs status` uses to read and print it.
package ctl

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/fxpcopy"
)

// Snapshot is what a running mount reports.
type Snapshot struct {
	Mountpoint string           `json:"mountpoint"`
	PID        int              `json:"pid"`
	Started    time.Time        `json:"started"`
	Servers    []ServerStatus   `json:"servers"`
	Counters   fxpcopy.Counters `json:"counters"`
	Active     []fxpcopy.Record `json:"active"`
	Recent     []fxpcopy.Record `json:"recent"`
}

// ServerStatus is one server's counters.
type ServerStatus struct {
	Name  string          `json:"name"`
	Addr  string          `json:"addr"`
	Stats ftpclient.Stats `json:"stats"`
}

// Dir is the folder holding the sockets: $XDG_RUNTIME_DIR/fxpfs, else
// /run/fxpfs for root, else $TMPDIR/fxpfs-UID. Whoever controls it controls
// what `fxpfs status` shows, so both sides use it only when it is a real
// directory (not a symlink) owned by this user with no access for others
// (see checkDir).
func Dir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "fxpfs")
	}
	if os.Geteuid() == 0 {
		return "/run/fxpfs"
	}
	return filepath.Join(os.TempDir(), "fxpfs-"+strconv.Itoa(os.Geteuid()))
}

// SocketPath is the socket of the mount at mountpoint (an absolute path).
// It is named by a hash so that any mount point fits a socket path.
func SocketPath(mountpoint string) string {
	sum := sha256.Sum256([]byte(filepath.Clean(mountpoint)))
	return filepath.Join(Dir(), hex.EncodeToString(sum[:8])+".sock")
}

// Serve listens on path until ctx is done, answering each connection with
// snap(). A stale socket left by a crashed mount is replaced.
func Serve(ctx context.Context, path string, snap func() Snapshot, log *slog.Logger) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("status socket: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("status socket: %w", err)
	}
	if err := checkDir(dir); err != nil {
		return fmt.Errorf("status socket: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("status socket %s: another fxpfs is serving this mount point", path)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("status socket: %w", err)
	}
	go func() {
		<-ctx.Done()
		ln.Close()
		os.Remove(path)
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("status socket stopped", "err", err)
				}
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if err := json.NewEncoder(c).Encode(snap()); err != nil {
					log.Debug("status socket write", "err", err)
				}
			}()
		}
	}()
	return nil
}

// Fetch reads one snapshot from the socket at path.
func Fetch(ctx context.Context, path string) (Snapshot, error) {
	var s Snapshot
	if err := checkDir(filepath.Dir(path)); err != nil {
		return s, err
	}
	if err := checkOwned(path, "socket"); err != nil {
		return s, err
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return s, fmt.Errorf("no fxpfs mount answers at %s: %w", path, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := json.NewDecoder(c).Decode(&s); err != nil {
		return s, fmt.Errorf("status from %s: %w", path, err)
	}
	return s, nil
}

// FetchAll reads every mount's snapshot found in Dir(); stale sockets are skipped.
func FetchAll(ctx context.Context) ([]Snapshot, error) {
	if err := checkDir(Dir()); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("no running fxpfs mount found (no " + Dir() + ")")
		}
		return nil, err
	}
	socks, err := filepath.Glob(filepath.Join(Dir(), "*.sock"))
	if err != nil {
		return nil, err
	}
	var out []Snapshot
	for _, p := range socks {
		s, err := Fetch(ctx, p)
		if err != nil {
			continue
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("no running fxpfs mount found in " + Dir())
	}
	return out, nil
}

// ErrUnsafeDir: the status folder or socket belongs to someone else, is a
// symlink, or is open to other users, so its answers cannot be trusted.
var ErrUnsafeDir = errors.New("unsafe status folder")

// checkDir accepts dir only if it is a directory (not a symlink to one)
// owned by the effective user, with no permission bits for group or others.
// Another user who created it first (in /tmp, say) could otherwise replace
// the socket and feed `fxpfs status` whatever they like.
func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("status folder: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%w: %s is a symlink; remove it (fxpfs makes its own)", ErrUnsafeDir, dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory; remove it", ErrUnsafeDir, dir)
	}
	if err := checkOwned(dir, "folder"); err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o, others may replace the socket; run chmod 700 %s", ErrUnsafeDir, dir, perm, dir)
	}
	return nil
}

// checkOwned accepts p (not followed if a symlink) only if the effective
// user owns it.
func checkOwned(p, what string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("status %s: %w", what, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%w: cannot read the owner of %s", ErrUnsafeDir, p)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("%w: %s is owned by uid %d, not by you (uid %d); someone else may be spoofing fxpfs status: remove it",
			ErrUnsafeDir, p, st.Uid, uid)
	}
	return nil
}
