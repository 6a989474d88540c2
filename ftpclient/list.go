package ftpclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"sync/atomic"
	"time"
)

// Listing limits: a line longer than maxListLine is skipped (and logged); a
// listing with more entries or bytes than this is a protocol error. An
// entry costs about 100 bytes of memory plus its name, so the entry limit
// keeps a listing below about 40 MB however long its names.
const (
	maxListLine    = 16 << 10
	maxListEntries = 256 << 10
	maxListBytes   = 32 << 20
)

// listTimeoutFactor: a whole listing — the listing command, all of its data
// and its final reply — must be done within listTimeoutFactor × DataTimeout
// (5 min by default). Without it a server trickling an endless listing
// slower than the size limit grows would hold the directory forever.
const listTimeoutFactor = 5

// listTimeout is the bound on one whole listing.
func (c *Client) listTimeout() time.Duration { return listTimeoutFactor * c.cfg.DataTimeout }

// List returns the entries of directory dir (MLSD where offered, else LIST),
// without "." and "..". Unparseable lines are logged and skipped.
func (c *Client) List(ctx context.Context, dir string) ([]Entry, error) {
	return c.listDir(ctx, dir, "")
}

// listDir is List; with only set (a name in dir), a LIST listing's precise
// mtimes are asked for that entry alone (Stat's need), not for every file.
func (c *Client) listDir(ctx context.Context, dir, only string) ([]Entry, error) {
	sp, err := c.sp(dir)
	if err != nil {
		return nil, c.translate("LIST", dir, err)
	}
	op := "LIST"
	if c.useMLSD() {
		op = "MLSD"
	}
	var ents []Entry
	err = c.do(ctx, op, dir, true, func(cn *conn) error {
		var err error
		ents, err = cn.list(sp, dir, only)
		return err
	})
	return ents, err
}

// list fetches and parses one directory listing over our control channel,
// with symlink targets and precise mtimes where the listing lacks them (for
// the entry named only, if set), all of it within listTimeout.
func (cn *conn) list(sp, dir, only string) ([]Entry, error) {
	var ents []Entry
	err := cn.bounded(func() error {
		mlsd := cn.cl.useMLSD()
		var err error
		if ents, err = cn.fetch(sp, dir, mlsd); err != nil {
			return err
		}
		if mlsd {
			cn.linkTargets(sp, dir, ents)
		} else {
			cn.preciseMtimes(sp, ents, only)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ents, nil
}

// bounded runs fn, a listing's worth of commands, within listTimeout: when
// it expires the connection is closed, which ends whatever fn waits for.
func (cn *conn) bounded(fn func() error) error {
	d := cn.cl.listTimeout()
	var expired atomic.Bool
	t := time.AfterFunc(d, func() {
		expired.Store(true)
		cn.close()
	})
	err := fn()
	if !t.Stop() && expired.Load() {
		return fmt.Errorf("listing not complete after %v: %w", d, ErrTimeout)
	}
	return err
}

// fetch runs one MLSD, or CWD + LIST, and parses what it returns.
func (cn *conn) fetch(sp, dir string, mlsd bool) ([]Entry, error) {
	c := cn.cl
	if !mlsd {
		// CWD + LIST without a path: LIST arguments are globbed and
		// option-parsed by servers (vsftpd, pure-ftpd), which breaks names
		// with "*", "[" or a leading "-".
		if _, err := cn.cmdExpect([]int{250, 200}, "CWD %s", sp); err != nil {
			return nil, err
		}
	}
	dc, err := cn.openData()
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	var r Reply
	switch {
	case mlsd:
		r, err = cn.cmd("MLSD %s", sp)
	case c.listPlain.Load():
		r, err = cn.cmd("LIST")
	default:
		// "-a" shows dot files (rsync's temporary files must be seen).
		r, err = cn.cmd("LIST -a")
		if err == nil && (r.Code == 500 || r.Code == 501) {
			c.listPlain.Store(true)
			r, err = cn.cmd("LIST")
		}
	}
	if err != nil {
		return nil, err
	}
	switch {
	case r.Code == 125 || r.Code == 150:
	case r.Code == 226 || r.Code == 250:
		return nil, nil // no data connection used: an empty directory
	case !mlsd && (r.Code == 450 || r.Code == 550):
		// CWD succeeded, so the directory exists: some servers say
		// "550 No files found" for an empty one.
		return nil, nil
	default:
		return nil, expect(r, 125, 150)
	}
	cn.transfer = true
	ents, perr := c.readListing(dc, mlsd, dir)
	if perr != nil {
		// A broken, stalled or oversized listing: the connection is out
		// of step (transfer stays set, so it is destroyed). Waiting for
		// the final reply would add CmdTimeout to a data timeout.
		return nil, perr
	}
	dc.Close()
	r, err = cn.readReply()
	if err != nil {
		return nil, err
	}
	cn.transfer = false
	if err := expect(r, 226, 250); err != nil {
		return nil, err
	}
	return ents, nil
}

// linkTargets fills in the targets of symlinks that MLSD or MLST listed
// without one (pure-ftpd's "type=OS.unix=slink:", proftpd's
// "type=OS.unix=symlink") from a LIST of their directory, whose
// "name -> target" has them. It costs one more listing, and only for a
// directory that holds such links. A failure leaves the targets empty.
func (cn *conn) linkTargets(sp, dir string, ents []Entry) {
	need := 0
	for _, e := range ents {
		if e.Type == TypeLink && e.Target == "" {
			need++
		}
	}
	if need == 0 {
		return
	}
	c := cn.cl
	lents, err := cn.fetch(sp, dir, false)
	if err != nil {
		c.log.Debug("ftp: LIST for symlink targets failed", slog.String("server", c.cfg.Name),
			slog.String("dir", dir), slog.Any("err", err))
		return
	}
	targets := make(map[string]string, need)
	for _, e := range lents {
		if e.Type == TypeLink && e.Target != "" {
			targets[e.Name] = e.Target
		}
	}
	for i := range ents {
		if ents[i].Type == TypeLink && ents[i].Target == "" {
			ents[i].Target = targets[ents[i].Name]
		}
	}
}

// readListing parses a listing as it streams in, with bounded memory.
func (c *Client) readListing(rd io.Reader, mlsd bool, dir string) ([]Entry, error) {
	br := bufio.NewReaderSize(rd, maxListLine)
	now := time.Now()
	var ents []Entry
	total, skipped := 0, 0
	for {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if errors.Is(err, bufio.ErrBufferFull) {
			// An over-long line: drop it up to its end.
			n, derr := discardLine(br)
			total += n
			skipped++
			c.log.Warn("ftp listing: line too long, skipped", slog.String("server", c.cfg.Name),
				slog.String("dir", dir), slog.Int("bytes", len(line)+n))
			if total > maxListBytes {
				return nil, errProtocolf("listing of %s larger than %d bytes", dir, maxListBytes)
			}
			if derr != nil {
				if derr == io.EOF {
					break
				}
				return nil, derr
			}
			continue
		}
		if total > maxListBytes {
			return nil, errProtocolf("listing of %s larger than %d bytes", dir, maxListBytes)
		}
		if len(line) > 0 {
			s := strings.TrimRight(string(line), "\r\n")
			e, perr := parseLine(s, mlsd, now)
			switch {
			case perr == nil:
				if len(ents) >= maxListEntries {
					return nil, errProtocolf("listing of %s has more than %d entries", dir, maxListEntries)
				}
				ents = append(ents, e)
			case errors.Is(perr, errSkip):
			default:
				skipped++
				c.log.Warn("ftp listing: unparseable line skipped", slog.String("server", c.cfg.Name),
					slog.String("dir", dir), slog.String("line", truncate(s, 200)), slog.Any("err", perr))
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return ents, nil
}

func discardLine(br *bufio.Reader) (int, error) {
	n := 0
	for {
		b, err := br.ReadSlice('\n')
		n += len(b)
		if errors.Is(err, bufio.ErrBufferFull) {
			if n > maxListBytes {
				return n, errProtocolf("listing line larger than %d bytes", maxListBytes)
			}
			continue
		}
		return n, err
	}
}

// Stat returns one entry (MLST where offered, else a listing of the parent).
// The root "/" is always a directory.
func (c *Client) Stat(ctx context.Context, p string) (Entry, error) {
	sp, err := c.sp(p)
	if err != nil {
		return Entry{}, c.translate("STAT", p, err)
	}
	if p == "/" {
		return Entry{Name: "/", Type: TypeDir, Mode: 0o755}, nil
	}
	if !c.useMLSD() && c.features.Load() == nil {
		if err := c.Connect(ctx); err != nil { // learn whether MLST exists
			return Entry{}, err
		}
	}
	if c.useMLSD() {
		var e Entry
		err := c.do(ctx, "MLST", p, true, func(cn *conn) error {
			r, err := cn.cmdExpect([]int{250}, "MLST %s", sp)
			if err != nil {
				return err
			}
			if e, err = parseMLSTReply(r.Msg); err != nil {
				return err
			}
			if e.Type == TypeLink && e.Target == "" {
				e.Name = path.Base(p)
				ents := []Entry{e}
				_ = cn.bounded(func() error { cn.linkTargets(path.Dir(sp), path.Dir(p), ents); return nil })
				e = ents[0]
			}
			return nil
		})
		if err != nil {
			return Entry{}, err
		}
		e.Name = path.Base(p)
		return e, nil
	}
	name := path.Base(p)
	ents, err := c.listDir(ctx, path.Dir(p), name)
	if err != nil {
		return Entry{}, err
	}
	for _, e := range ents {
		if e.Name == name {
			return e, nil
		}
	}
	return Entry{}, c.translate("STAT", p, ErrNotFound)
}

// parseMLSTReply finds the fact line of "250-...\n facts; path\n250 End".
func parseMLSTReply(msg string) (Entry, error) {
	lines := strings.Split(msg, "\n")
	for _, l := range lines[min(1, len(lines)-1):] {
		l = strings.TrimLeft(l, " ")
		if !strings.Contains(l, "=") {
			continue
		}
		e, err := parseMLSxLine(l)
		if err == nil || errors.Is(err, errSkip) { // cdir: MLST of a directory on some servers
			return e, nil
		}
	}
	return Entry{}, errProtocolf("MLST reply without facts")
}
