package ftpclient

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
)

// Names a server rewrites. Some servers store a name other than the one
// given: pure-ftpd turns trailing spaces into '_', Windows servers drop
// trailing dots and spaces or refuse \ : * ? " < > |, some turn every space
// into '_'. The file then exists under a name the mount never showed, and
// the one it showed is missing: a silent wrong result. So where a name has
// such characters, a new directory's name is read from MKD's reply
// (257 "path"), and a stored or renamed entry is looked up once afterwards;
// a server that stored it elsewhere makes the operation fail with
// ErrBadName, saying so. Other names cost nothing.
//
// Non-ASCII names are checked too, in a listing, until one is listed as
// given: a server may read the command line in one encoding and list in
// another (Twisted 22 takes commands as Latin-1 and lists UTF-8, so `é`
// is stored, and then listed, as `Ã©`), while SIZE, RETR and MLST of the
// name as given find the file all the same. Such a file would show under
// a name that cannot be opened. One listing per server, where names
// round-trip.

// riskyName reports whether servers are known to rewrite name.
func riskyName(name string) bool {
	return strings.ContainsAny(name, ` \:*?"<>|`) || strings.HasSuffix(name, ".")
}

// checkListed looks for a new entry p with a non-ASCII name in a listing
// of its directory, until one is found (see the top of this file). Nil
// where it is listed, or where that cannot be told: a dot file (temporary
// names are; a server may not list them) is not looked for.
func (c *Client) checkListed(ctx context.Context, op, p string) error {
	name := path.Base(p)
	if !nonASCII(name) || strings.HasPrefix(name, ".") || c.namesVerbatim.Load() {
		return nil
	}
	ents, err := c.List(ctx, path.Dir(p))
	if err != nil {
		return nil // cannot tell: say nothing
	}
	for _, e := range ents {
		if e.Name == name {
			c.namesVerbatim.Store(true)
			return nil
		}
	}
	c.log.Warn("ftp server lists a non-ASCII name it stored under other bytes", "server", c.cfg.Name, "path", Printable(p))
	return c.translate(op, p, fmt.Errorf("the server did not list the new entry as %q (it rewrites non-ASCII names: another character encoding?): %w",
		Printable(name), ErrBadName))
}

// nonASCII reports whether name has a byte outside ASCII.
func nonASCII(name string) bool {
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return true
		}
	}
	return false
}

// errRewritten is the error of an entry the server stored under another name.
func errRewritten(what, name, as string) error {
	if as != "" {
		return fmt.Errorf("the server stored the %s as %q, not %q (it rewrites such names): %w", what, as, name, ErrBadName)
	}
	return fmt.Errorf("the server did not store the %s under the name %q (it rewrites such names): %w", what, name, ErrBadName)
}

// checkStored looks up p after an upload or a rename to it (see the top of
// this file). dir says p is a directory (renamed): it is looked up in a
// listing, as SIZE does not answer for directories.
func (c *Client) checkStored(ctx context.Context, op, p string, dir bool) error {
	name := path.Base(p)
	if err := c.checkListed(ctx, op, p); err != nil {
		return err
	}
	if !riskyName(name) {
		return nil
	}
	var ok bool
	var err error
	if dir {
		_, err = c.Stat(ctx, p)
		ok = err == nil
		if errors.Is(err, ErrNotFound) {
			err = nil
		}
	} else {
		ok, err = c.Exists(ctx, p)
	}
	if err != nil || ok {
		return nil // cannot tell: say nothing
	}
	c.log.Warn("ftp server stored an entry under another name", "server", c.cfg.Name, "path", Printable(p))
	return c.translate(op, p, errRewritten("file", Printable(name), ""))
}

// mkdReplyName is the last element of the path in a 257 reply
// (`257 "/a/b" created`, with "" for a quote inside), or "" if it has none.
func mkdReplyName(msg string) string {
	i := strings.IndexByte(msg, '"')
	if i < 0 {
		return ""
	}
	var b strings.Builder
	for j := i + 1; j < len(msg); j++ {
		if msg[j] != '"' {
			b.WriteByte(msg[j])
			continue
		}
		if j+1 < len(msg) && msg[j+1] == '"' {
			b.WriteByte('"')
			j++
			continue
		}
		return path.Base(b.String())
	}
	return ""
}
