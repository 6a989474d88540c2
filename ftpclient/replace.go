package ftpclient

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"
)

// Replacing a file that exists, for every writer of whole files (the
// mount's uploads and kernel copies, fxpcopy's copies onto existing
// files). The new content goes to a temporary name in the same directory
// (TempName), and only a complete, checked file is put in place (Replace):
// a write that fails removes the temporary and the original is untouched.
//
// Replace renames the temporary over the original (RNFR/RNTO). Where the
// server refuses to rename onto an existing file (IIS and other Windows
// servers), the original is first renamed to a backup name, the new file
// renamed into place and the backup deleted; if the second rename fails
// the backup is renamed back. The Client remembers such a server, so that
// later replaces go straight to the backup way. Between the two renames
// (milliseconds) a crash would leave the original under its backup name:
// a visible ".fxpfs-XXXXXXXXXX.orig" next to the writer's
// ".fxpfs-XXXXXXXXXX.part".
//
// Temporary names are ".fxpfs-" + 10 random characters + ".part" (the new
// content) or ".orig" (an original kept aside), without the leading dot
// where the server refuses to write dot files. IsTempName recognises them.

// tempPrefix starts every temporary name (after a dot, unless the server
// refuses to write dot files).
const tempPrefix = "fxpfs-"

// Suffixes of temporary names: the new content, and an original kept aside.
const (
	partSuffix = ".part"
	origSuffix = ".orig"
)

// TempName returns a new temporary name for the new content of p, in p's
// directory: hidden (".fxpfs-XXXXXXXXXX.part") when dot is set, else
// without the dot (for servers that refuse dot files).
func TempName(p string, dot bool) string {
	return tempName(path.Dir(p), partSuffix, dot)
}

// tempName returns a new temporary name in directory dir.
func tempName(dir, suffix string, dot bool) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 10)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	name := tempPrefix + string(b) + suffix
	if dot {
		name = "." + name
	}
	return path.Join(dir, name)
}

// IsTempName reports whether the file name name (no directory) has the
// form of a temporary name.
func IsTempName(name string) bool {
	name = strings.TrimPrefix(name, ".")
	return strings.HasPrefix(name, tempPrefix) && (strings.HasSuffix(name, partSuffix) || strings.HasSuffix(name, origSuffix))
}

// ErrOriginalAside: Replace failed after renaming the original to its
// backup name, and could not rename it back; the error names the backup.
var ErrOriginalAside = errors.New("the original is under its backup name")

// Replaced says how Replace put the new file in place.
type Replaced int

// Ways of replacing.
const (
	ReplacedByRename Replaced = iota + 1 // one RNFR/RNTO onto the name
	ReplacedByBackup                     // the backup way: the original renamed aside first (if still there), then deleted
)

// RefusesRenameOver reports whether this server was found to refuse
// renaming onto an existing file (Replace then takes the backup way).
func (c *Client) RefusesRenameOver() bool { return c.noRenameOver.Load() }

// Replace puts the complete file tmp in place of p (see the top of this
// file): renamed over p, or where the server refuses that, by way of a
// backup name for the original. On failure p is as it was — except where
// the error wraps ErrOriginalAside: the original could not be put back
// from its backup name, which the error names.
//
// hide, if not nil, is called with the backup name before the original is
// renamed to it, and the function it returns once that name is gone (a
// mount hides its temporaries in flight from listings).
//
// Once the original is aside, the steps that follow run to their end even
// when ctx is done (within cleanupWait), so that the name is never left
// empty by an interruption.
func (c *Client) Replace(ctx context.Context, tmp, p string, hide func(backup string) (unhide func())) (Replaced, error) {
	if !c.noRenameOver.Load() {
		err := c.Rename(ctx, tmp, p)
		if err == nil || ctx.Err() != nil {
			return ReplacedByRename, err
		}
		// Refused: because p exists (a server that never renames onto a
		// file), or for another reason (then the backup way fails too).
		if !c.renameOverRefused(ctx, tmp, p) {
			return 0, err
		}
		c.noRenameOver.Store(true)
		c.log.Info("server refuses to rename onto an existing file: replacing by way of a backup name",
			slog.String("server", c.cfg.Name), slog.String("path", Printable(p)), slog.Any("err", err))
	}
	backup := tempName(path.Dir(p), origSuffix, strings.HasPrefix(path.Base(tmp), "."))
	if hide != nil {
		defer hide(backup)()
	}
	if err := c.Rename(ctx, p, backup); err != nil {
		if errors.Is(err, ErrNotFound) {
			return ReplacedByBackup, c.Rename(ctx, tmp, p) // nothing to replace
		}
		return 0, fmt.Errorf("keep the original aside: %w", err)
	}
	c.log.Debug("original kept aside while replacing", slog.String("server", c.cfg.Name),
		slog.String("path", Printable(p)), slog.String("backup", Printable(backup)))
	cctx, cancel := c.cleanupCtx(ctx)
	defer cancel()
	if err := c.Rename(cctx, tmp, p); err != nil {
		if rerr := c.Rename(cctx, backup, p); rerr != nil {
			c.log.Error("could not put the original back: it is under its backup name",
				slog.String("server", c.cfg.Name), slog.String("path", Printable(p)),
				slog.String("backup", Printable(backup)), slog.Any("err", rerr))
			return 0, fmt.Errorf("%w (%w: %s: %v)", err, ErrOriginalAside, Printable(backup), rerr)
		}
		return 0, err
	}
	if err := c.Remove(cctx, backup); err != nil {
		c.log.Warn("replaced, but the original's backup could not be removed", slog.String("server", c.cfg.Name),
			slog.String("path", Printable(p)), slog.String("backup", Printable(backup)), slog.Any("err", err))
	}
	return ReplacedByBackup, nil
}

// renameOverRefused tells, after RNFR tmp/RNTO p failed, whether the server
// refused because p exists: both files are there (a vanished tmp, or a
// missing p, is another failure the backup way would not cure), and p may
// be written (ProbeWritable: a read-only p is refused for permission, which
// says nothing about renaming onto files, and the backup way would take it
// aside all the same).
func (c *Client) renameOverRefused(ctx context.Context, tmp, p string) bool {
	for _, q := range []string{p, tmp} {
		if ok, err := c.Exists(ctx, q); !ok || err != nil {
			return false
		}
	}
	return c.ProbeWritable(ctx, p) == nil
}

// cleanupCtx bounds steps that must run even when ctx is done (putting an
// original back, deleting its backup): two commands on a new connection.
func (c *Client) cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), c.cleanupWait())
}

// cleanupWait is the time cleanupCtx gives: a dial and two replies.
func (c *Client) cleanupWait() time.Duration { return c.cfg.DialTimeout + 2*c.cfg.CmdTimeout }

// Exists reports whether there is a file at p: SIZE says so, or "550 no
// such file" (also said of a directory); where SIZE cannot tell
// (unsupported, another failure), a listing of p's directory does (and
// there a directory counts too).
func (c *Client) Exists(ctx context.Context, p string) (bool, error) {
	_, err := c.Size(ctx, p)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if _, err = c.Stat(ctx, p); errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// ProbeWritable asks whether the server lets this user write the existing
// file p, without changing it: an APPE of no bytes. Replacing a file by
// renaming a new one over it needs only the directory's permission;
// without this check a file the server refuses to write (read-only,
// someone else's, in a writable directory) would be replaced, where a
// plain STOR, and open(2) on a local disk, are refused. Servers without
// APPE are not asked (nil).
func (c *Client) ProbeWritable(ctx context.Context, p string) error {
	up, err := c.OpenWrite(ctx, p, 0, WriteAppend)
	switch {
	case errors.Is(err, ErrUnsupported):
		return nil
	case err != nil:
		return err
	}
	return up.Close()
}
