package fusefs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The kernel's read-ahead for the mount.
//
// The page cache reads ahead of a sequential reader by the mount's
// backing device's read_ahead_kb (/sys/class/bdi/<major>:<minor>), 128 KiB
// by default for FUSE; the daemon cannot raise it through FUSE's INIT (the
// kernel takes the smaller of INIT's max_readahead and the bdi's value),
// only by writing the sysfs file, which needs root. Each read-ahead request
// is one FUSE round trip, so 128 KiB requests cost the daemon eight times
// the requests of 1 MiB ones (max_pages). The vfs reader serves any
// read_ahead_kb a user or a distribution sets (see internal/vfs/read.go).

// BDIReadAhead is the sysfs file holding the read-ahead (KiB) of the
// mount at mountpoint.
func BDIReadAhead(mountpoint string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(mountpoint, &st); err != nil {
		return "", fmt.Errorf("read-ahead of %s: %w", mountpoint, err)
	}
	return fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev)), nil
}

// ReadAheadKB returns the mount's read-ahead in KiB.
func ReadAheadKB(mountpoint string) (int, error) {
	p, err := BDIReadAhead(mountpoint)
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("read-ahead of %s: %w", mountpoint, err)
	}
	kb, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("read-ahead of %s: %s: %w", mountpoint, p, err)
	}
	return kb, nil
}

// SetReadAheadKB sets the mount's read-ahead to kb KiB (needs root).
func SetReadAheadKB(mountpoint string, kb int) error {
	p, err := BDIReadAhead(mountpoint)
	if err != nil {
		return err
	}
	if err := os.WriteFile(p, []byte(strconv.Itoa(kb)), 0o644); err != nil {
		return fmt.Errorf("set read-ahead of %s: %w", mountpoint, err)
	}
	return nil
}

// DefaultReadAheadKB is the read-ahead fxpfs gives its mount when it may:
// requests of 1 MiB (max_pages) instead of 128 KiB, several in flight, as
// far ahead as the vfs reader's own window (vfs.Options.ReadAhead, 4 MiB),
// so the server is asked for nothing more. It cut the daemon's and the
// reader's CPU per GiB by about a tenth and a third (docs/benchmarks.md,
// issue 9); 16 MiB did not help further.
const DefaultReadAheadKB = 4096

// setReadAhead applies Options.ReadAheadKB to the mount at mountpoint. Not
// being allowed to (not root) is no error: the kernel's value stays.
func (r *Root) setReadAhead(mountpoint string) {
	kb := r.opts.ReadAheadKB
	switch {
	case kb < 0:
		return
	case kb == 0:
		kb = DefaultReadAheadKB
	}
	if err := SetReadAheadKB(mountpoint, kb); err != nil {
		lvl := slog.LevelWarn
		if errors.Is(err, fs.ErrPermission) {
			lvl = slog.LevelDebug // not root: expected
		}
		r.log.Log(context.Background(), lvl, "kernel read-ahead for the mount left as it is", "want_kb", kb, "err", err)
		return
	}
	r.log.Debug("kernel read-ahead for the mount", "kb", kb)
}
