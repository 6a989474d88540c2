package ftpclient

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// simple runs one command that needs no data connection, on a validated path.
func (c *Client) simple(ctx context.Context, op, p string, idempotent bool, codes []int, format string, argsFn func(sp string) []any) (Reply, error) {
	sp, err := c.sp(p)
	if err != nil {
		return Reply{}, c.translate(op, p, err)
	}
	var r Reply
	err = c.do(ctx, op, p, idempotent, func(cn *conn) error {
		var err error
		r, err = cn.cmdExpect(codes, format, argsFn(sp)...)
		return err
	})
	return r, err
}

func spArg(sp string) []any { return []any{sp} }

// Mkdir makes a directory (MKD). A server that made it under another
// name (see names.go) has it removed again, and the error says so.
func (c *Client) Mkdir(ctx context.Context, p string) error {
	r, err := c.simple(ctx, "MKD", p, false, []int{257, 250}, "MKD %s", spArg)
	if err != nil {
		return c.explain(ctx, "MKD", p, err)
	}
	name, made, bad := path.Base(p), "", error(nil)
	if got := mkdReplyName(r.Msg); riskyName(name) && got != "" && got != name && ValidateName(got) == nil {
		made, bad = path.Join(path.Dir(p), got), c.translate("MKD", p, errRewritten("directory", Printable(name), Printable(got)))
	} else if err := c.checkListed(ctx, "MKD", p); err != nil {
		made, bad = p, err // the server finds it by the name sent
	}
	if bad != nil {
		if rerr := c.Rmdir(ctx, made); rerr != nil {
			c.log.Warn("ftp server made a directory under another name, and it could not be removed",
				"server", c.cfg.Name, "path", Printable(made), "err", rerr)
		}
		return bad
	}
	return nil
}

// Rmdir removes an empty directory (RMD).
func (c *Client) Rmdir(ctx context.Context, p string) error {
	if p == "/" {
		return c.translate("RMD", p, fmt.Errorf("the server's base directory: %w", ErrPermission))
	}
	_, err := c.simple(ctx, "RMD", p, false, []int{250, 200}, "RMD %s", spArg)
	return c.explain(ctx, "RMD", p, err)
}

// Remove deletes a file (DELE).
func (c *Client) Remove(ctx context.Context, p string) error {
	_, err := c.simple(ctx, "DELE", p, false, []int{250, 200}, "DELE %s", func(sp string) []any {
		c.forgetMtime(sp)
		return spArg(sp)
	})
	return c.explain(ctx, "DELE", p, err)
}

// rnfrRnto sends RNFR sfrom and RNTO sto (server paths); op names the
// command that failed.
func (c *Client) rnfrRnto(ctx context.Context, desc, sfrom, sto string) (op string, err error) {
	op = "RNFR"
	err = c.do(ctx, "RENAME", desc, false, func(cn *conn) error {
		if _, err := cn.cmdExpect([]int{350}, "RNFR %s", sfrom); err != nil {
			return err
		}
		op = "RNTO"
		_, err := cn.cmdExpect([]int{250, 200}, "RNTO %s", sto)
		return err
	})
	return op, err
}

// Rename renames within this server (RNFR/RNTO).
func (c *Client) Rename(ctx context.Context, from, to string) error {
	desc := from + " -> " + to
	sfrom, err := c.sp(from)
	if err == nil {
		var sto string
		if sto, err = c.sp(to); err == nil {
			c.forgetMtime(sfrom)
			c.forgetMtime(sto)
			op, err := c.rnfrRnto(ctx, desc, sfrom, sto)
			if err != nil {
				var oe *OpError
				if errors.As(err, &oe) && oe.Code != 0 {
					oe.Op, oe.Cmd, oe.Kind = op, "", kindOf(op, oe.Code)
				}
				return c.explain(ctx, op, from+"\x00"+to, err)
			}
			if err := c.checkStored(ctx, "RNTO", to, true); err != nil {
				if errors.Is(err, ErrBadName) {
					if _, uerr := c.rnfrRnto(ctx, desc, sto, sfrom); uerr == nil {
						// Undone: the entry is where it was, not under a
						// name the mount never showed.
						err = fmt.Errorf("%w (the rename was undone)", err)
					}
				}
				return err
			}
			return nil
		}
	}
	return c.translate("RENAME", desc, err)
}

// Size returns the size of a file: SIZE, or where the server has no SIZE
// (500, 502, 504), its listing (Stat; ErrIsDir for a directory).
func (c *Client) Size(ctx context.Context, p string) (int64, error) {
	if !c.noSize.Load() {
		r, err := c.simple(ctx, "SIZE", p, true, []int{213}, "SIZE %s", spArg)
		var oe *OpError
		switch {
		case err == nil:
			n, perr := strconv.ParseInt(strings.TrimSpace(r.Msg), 10, 64)
			if perr != nil || n < 0 {
				return 0, c.translate("SIZE", p, errProtocolf("SIZE reply %q", truncate(r.Msg, 40)))
			}
			return n, nil
		case !errors.As(err, &oe) || oe.Code != 500 && oe.Code != 502 && oe.Code != 504:
			return 0, err
		}
		c.noSize.Store(true)
		c.log.Info("ftp server has no SIZE: sizes come from listings", "server", c.cfg.Name)
	}
	e, err := c.Stat(ctx, p)
	if err != nil {
		return 0, err
	}
	if e.Type == TypeDir {
		return 0, c.translate("SIZE", p, ErrIsDir)
	}
	return e.Size, nil
}

// ModTime returns the precise modification time (MDTM), ErrUnsupported if none.
func (c *Client) ModTime(ctx context.Context, p string) (time.Time, error) {
	if _, err := c.sp(p); err != nil {
		return time.Time{}, c.translate("MDTM", p, err)
	}
	if f, err := c.Features(ctx); err != nil {
		return time.Time{}, err
	} else if !f.MDTM {
		return time.Time{}, c.translate("MDTM", p, ErrUnsupported)
	}
	r, err := c.simple(ctx, "MDTM", p, true, []int{213}, "MDTM %s", spArg)
	if err != nil {
		return time.Time{}, err
	}
	t, perr := parseMLSxTime(strings.TrimSpace(r.Msg))
	if perr != nil {
		return time.Time{}, c.translate("MDTM", p, errProtocolf("MDTM reply %q", truncate(r.Msg, 40)))
	}
	return c.mdtmTime(t), nil
}

const mdtmLayout = "20060102150405"

// SetModTime sets the mtime (MFMT, else SITE UTIME, else vsftpd's MDTM write);
// ErrUnsupported if none works, or if the server refuses it for a directory
// (some set file times only). The first time set is read back with MDTM
// (see learnMdtmOffset).
func (c *Client) SetModTime(ctx context.Context, p string, t time.Time) error {
	sp, err := c.sp(p)
	if err != nil {
		return c.translate("MFMT", p, err)
	}
	c.forgetMtime(sp)
	f, err := c.Features(ctx)
	if err != nil {
		return err
	}
	ts := t.UTC().Format(mdtmLayout)
	if f.MFMT {
		_, err := c.simple(ctx, "MFMT", p, true, []int{213, 200, 250}, "MFMT %s %s",
			func(sp string) []any { return []any{ts, sp} })
		if err = c.explain(ctx, "MFMT", p, err); err == nil {
			c.learnMdtmOffset(ctx, p, t)
		}
		return err
	}
	if c.noUtime.Load() {
		return c.mdtmWrite(ctx, p, ts, c.translate("SITE UTIME", p, ErrUnsupported))
	}
	// Two spellings exist: "SITE UTIME time path" (ProFTPD mod_site_misc)
	// and "SITE UTIME path atime mtime ctime UTC" (pure-ftpd, ProFTPD).
	forms := []func(sp string) []any{
		func(sp string) []any { return []any{ts + " " + sp} },
		func(sp string) []any { return []any{sp + " " + ts + " " + ts + " " + ts + " UTC"} },
	}
	for _, form := range forms {
		_, err = c.simple(ctx, "SITE UTIME", p, true, []int{200, 213, 250}, "SITE UTIME %s", form)
		if !errors.Is(err, ErrUnsupported) {
			if err = c.explain(ctx, "SITE UTIME", p, err); err == nil {
				c.learnMdtmOffset(ctx, p, t)
			}
			return err
		}
	}
	c.noUtime.Store(true)
	return c.mdtmWrite(ctx, p, ts, err)
}

// mdtmWrite is the last resort of SetModTime: vsftpd's "MDTM time path"
// (mdtm_write, on by default), offered only where MDTM is. A server without
// it reads the time as part of the file name and answers 550, so a 550 on an
// existing file means "unsupported".
func (c *Client) mdtmWrite(ctx context.Context, p, ts string, prev error) error {
	if !c.feats().MDTM || c.noMdtmWrite.Load() {
		return prev
	}
	_, err := c.simple(ctx, "MDTM", p, true, []int{213, 200, 250}, "MDTM %s %s",
		func(sp string) []any { return []any{ts, sp} })
	if err == nil {
		c.mdtmWriteOK.Store(true)
		return nil
	}
	switch code := replyCode(err); {
	case code == 0:
		return err
	case code == 550 || code == 450:
		e, serr := c.Stat(ctx, p)
		if serr != nil {
			return serr // not found, or the listing failed
		}
		// vsftpd sets file times only: a directory's refusal says nothing
		// about files, nor does a refusal once it has worked (permissions).
		if e.Type != TypeFile || c.mdtmWriteOK.Load() {
			return c.translate("MDTM", p, ErrUnsupported)
		}
	case code < 500:
		return err
	}
	c.noMdtmWrite.Store(true)
	return prev
}

// Chmod sets permission bits (SITE CHMOD), ErrUnsupported if refused.
func (c *Client) Chmod(ctx context.Context, p string, mode os.FileMode) error {
	if c.noChmod.Load() {
		return c.translate("SITE CHMOD", p, ErrUnsupported)
	}
	perm := uint32(mode.Perm())
	_, err := c.simple(ctx, "SITE CHMOD", p, true, []int{200, 250}, "SITE CHMOD %s",
		func(sp string) []any { return []any{fmt.Sprintf("%o %s", perm, sp)} })
	if errors.Is(err, ErrUnsupported) {
		c.noChmod.Store(true)
	}
	return c.explain(ctx, "SITE CHMOD", p, err)
}

// explain refines the sentinel of an ambiguous refusal (servers answer 550
// for "not found", "exists" and "permission denied" alike) by looking at
// the path. It costs commands only after a failure. For RNFR/RNTO, p is
// "from\x00to".
func (c *Client) explain(ctx context.Context, op, p string, err error) error {
	var oe *OpError
	if !errors.As(err, &oe) || ctx.Err() != nil {
		return err
	}
	switch oe.Code {
	case 450, 451, 550, 553:
	default:
		return err
	}
	from, to, isRename := strings.Cut(p, "\x00")
	exists := func(q string) (Entry, bool, bool) { // entry, exists, known
		e, serr := c.Stat(ctx, q)
		switch {
		case serr == nil:
			return e, true, true
		case errors.Is(serr, ErrNotFound):
			return Entry{}, false, true
		}
		return Entry{}, false, false
	}
	parentKind := func(q string) error {
		pe, ok, known := exists(path.Dir(q))
		switch {
		case !known:
			return nil
		case !ok:
			return ErrNotFound
		case pe.Type != TypeDir:
			return ErrNotDir
		}
		return nil
	}
	kind := oe.Kind
	switch op {
	case "MKD":
		if _, ok, known := exists(from); known && ok {
			kind = ErrExists
		} else if known {
			kind = ErrPermission
			if k := parentKind(from); k != nil {
				kind = k
			}
		}
	case "RMD":
		e, ok, known := exists(from)
		switch {
		case known && !ok:
			kind = ErrNotFound
		case known && e.Type != TypeDir:
			kind = ErrNotDir
		case known:
			kind = ErrPermission
			if ents, lerr := c.List(ctx, from); lerr == nil && len(ents) > 0 {
				kind = ErrNotEmpty
			}
		}
	case "DELE", "SITE CHMOD", "SITE UTIME", "MFMT", "RNFR":
		e, ok, known := exists(from)
		switch {
		case known && !ok:
			kind = ErrNotFound
		case known && op == "DELE" && e.Type == TypeDir:
			kind = ErrIsDir
		case known && (op == "MFMT" || op == "SITE UTIME") && e.Type == TypeDir:
			// Servers that set file times only (pyftpdlib: "550 /d is not
			// retrievable"): the time stays in the mount's cache, as
			// where the command is missing altogether.
			kind = ErrUnsupported
		case known:
			kind = ErrPermission
		}
	case "STOR", "APPE", "RNTO":
		q := from
		if isRename {
			q = to
		}
		if oe.Code == 550 || oe.Code == 553 {
			kind = ErrPermission
		}
		if k := parentKind(q); k != nil {
			kind = k
		} else if e, ok, _ := exists(q); ok && e.Type == TypeDir {
			kind = ErrIsDir
			if isRename {
				kind = ErrExists
			}
		}
	}
	if isRename {
		oe.Path = from + " -> " + to
	}
	oe.Kind = kind
	return err
}
