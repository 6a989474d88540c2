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
// round-trip. Only that evidence fails the operation: a name listed in
// some other form (a server normalising to NFD, a listing that does not
// show the entry yet) says nothing, and after maxNameChecks such listings
// the server is not checked any more.

// riskyName reports whether servers are known to rewrite name.
func riskyName(name string) bool {
	return strings.ContainsAny(name, ` \:*?"<>|`) || strings.HasSuffix(name, ".")
}

// maxNameChecks bounds the listings spent on a server whose listings
// neither show a non-ASCII name as given nor re-encoded.
const maxNameChecks = 3

// checkListed looks for a new entry p with a non-ASCII name in a listing
// of its directory, until one is found (see the top of this file). Nil
// unless the listing shows the name re-encoded (its bytes read as Latin-1)
// and not as given; a dot file (temporary names are; a server may not list
// them) is not looked for.
func (c *Client) checkListed(ctx context.Context, op, p string) error {
	name := path.Base(p)
	if !nonASCII(name) || strings.HasPrefix(name, ".") || c.namesVerbatim.Load() || c.nameChecks.Load() >= maxNameChecks {
		return nil
	}
	ents, err := c.List(ctx, path.Dir(p))
	if err != nil {
		return nil // cannot tell: say nothing
	}
	recoded := false
	for _, e := range ents {
		switch e.Name {
		case name:
			c.namesVerbatim.Store(true)
			return nil
		case latin1ToUTF8(name):
			recoded = true
		}
	}
	if !recoded {
		c.nameChecks.Add(1)
		return nil
	}
	c.log.Warn("ftp server lists a non-ASCII name it stored under other bytes", "server", c.cfg.Name, "path", Printable(p))
	return c.translate(op, p, fmt.Errorf("the server listed the new entry %q as %q (it reads non-ASCII names in commands in another character encoding than it lists them): %w",
		Printable(name), Printable(latin1ToUTF8(name)), ErrBadName))
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

// latin1ToUTF8 is name's bytes read as Latin-1 characters, in UTF-8: what
// a server that decodes commands as Latin-1 and lists in UTF-8 stores.
func latin1ToUTF8(name string) string {
	r := make([]rune, len(name))
	for i := 0; i < len(name); i++ {
		r[i] = rune(name[i])
	}
	return string(r)
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
