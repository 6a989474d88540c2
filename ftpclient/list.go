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
//
// "LIST -a" shows dot files (rsync's temporary files must be seen) where
// servers understand it; where one refuses it (500/501/502), or takes "-a"
// for a path (550) or for a pattern matching nothing (an empty listing),
// plain LIST is used instead, and from then on once it has been seen to
// list what "LIST -a" did not. A server without LIST is listed with NLST
// (see nlstEntries).
func (cn *conn) fetch(sp, dir string, mlsd bool) ([]Entry, error) {
	c := cn.cl
	if mlsd {
		ents, r, ok, err := cn.listing("MLSD "+sp, parseMLSD, dir)
		if err == nil && !ok {
			err = expect(r, 125, 150)
		}
		return ents, err
	}
	// CWD + LIST without a path: LIST arguments are globbed and
	// option-parsed by servers (vsftpd, pure-ftpd), which breaks names
	// with "*", "[" or a leading "-".
	if _, err := cn.cmdExpect([]int{250, 200}, "CWD %s", sp); err != nil {
		return nil, err
	}
	if c.nlstOnly.Load() {
		return cn.nlstEntries(sp, dir)
	}
	if !c.listPlain.Load() {
		ents, r, ok, err := cn.listing("LIST -a", parseLIST, dir)
		switch {
		case err != nil:
			return nil, err
		case ok && (len(ents) > 0 || c.dashA.Load()):
			c.dashA.Store(true)
			return ents, nil
		case !ok && r.Code != 450 && r.Code/100 != 5:
			return nil, expect(r, 125, 150)
		}
	}
	ents, r, ok, err := cn.listing("LIST", parseLIST, dir)
	switch {
	case err != nil:
		return nil, err
	case ok && len(ents) > 0 && !c.listPlain.Load():
		// "LIST -a" said less: refused, or an empty listing where LIST has entries.
		c.listPlain.Store(true)
		c.log.Info(`ftp server does not understand "LIST -a": plain LIST from now on (dot files may not show)`,
			slog.String("server", c.cfg.Name))
		return ents, nil
	case ok:
		return ents, nil
	case r.Code == 450 || r.Code == 550:
		// CWD succeeded, so the directory exists: some servers say
		// "550 No files found" for an empty one.
		return nil, nil
	case r.Code == 500 || r.Code == 502:
		c.nlstOnly.Store(true)
		c.log.Info("ftp server has no LIST: listing with NLST, one SIZE/CWD per entry",
			slog.String("server", c.cfg.Name))
		return cn.nlstEntries(sp, dir)
	}
	return nil, expect(r, 125, 150)
}

// listing runs one listing command and parses its data with parse. ok
// says whether it listed (a transfer, or 226/250 without one: an empty
// directory); otherwise r is the server's refusal. A listing cut short by
// an error reply is an error, never a shorter listing.
func (cn *conn) listing(cmd string, parse lineParser, dir string) (ents []Entry, r Reply, ok bool, err error) {
	x, r, err := cn.startXfer(cmd, 0, false)
	if err != nil {
		return nil, r, false, err
	}
	if x == nil {
		return nil, r, r.Code == 226 || r.Code == 250, nil
	}
	ents, err = cn.cl.readListing(x.dc, parse, dir)
	if err != nil {
		// A broken, stalled or oversized listing: the connection is out
		// of step (transfer stays set, so it is destroyed). Waiting for
		// the final reply would add CmdTimeout to a data timeout.
		return nil, r, false, err
	}
	if err := x.finish(); err != nil {
		return nil, r, false, err
	}
	return ents, r, true, nil
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

// lineParser parses one line of a listing (see parseLine).
type lineParser func(line string, now time.Time) (Entry, error)

func parseMLSD(line string, now time.Time) (Entry, error) { return parseLine(line, true, now) }
func parseLIST(line string, now time.Time) (Entry, error) { return parseLine(line, false, now) }

// readListing parses a listing as it streams in, with bounded memory.
func (c *Client) readListing(rd io.Reader, parse lineParser, dir string) ([]Entry, error) {
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
			e, perr := parse(s, now)
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
					slog.String("dir", dir), slog.String("line", Printable(truncate(s, 200))), slog.Any("err", perr))
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

// Stat returns one entry (MLST where offered and working, else a listing of
// the parent).
// The root "/" is always a directory.
func (c *Client) Stat(ctx context.Context, p string) (Entry, error) {
	sp, err := c.sp(p)
	if err != nil {
		return Entry{}, c.translate("STAT", p, err)
	}
	if p == "/" {
		return Entry{Name: "/", Type: TypeDir, Mode: 0o755}, nil
	}
	if c.features.Load() == nil {
		if err := c.Connect(ctx); err != nil { // learn whether MLST exists
			return Entry{}, err
		}
	}
	if c.useMLSD() && !c.noMLST.Load() {
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
		var oe *OpError
		switch {
		case errors.As(err, &oe) && (oe.Code == 500 || oe.Code == 502 || oe.Code == 504):
			c.noMLST.Store(true) // MLSD without MLST: list the parent
			c.log.Info("ftp server has MLSD but no MLST: stat lists the parent directory",
				slog.String("server", c.cfg.Name))
		case err != nil:
			return Entry{}, err
		default:
			e.Name = path.Base(p)
			return e, nil
		}
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
