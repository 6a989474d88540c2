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
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
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
// /run/fxpfs for root, else $TMPDIR/fxpfs-UID.
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
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
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
