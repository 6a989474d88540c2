package ftptest

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// real maps a clean server path to the disk: exactly, or with CaseInsensitive
// component by component whatever the case. ok is false when the entry does
// not exist; the path returned is then where it would be created (its
// missing components as given).
func (qs *quirkServer) real(p string) (string, bool) {
	rp := qs.root
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i, name := range parts {
		if name == "" {
			continue
		}
		next := filepath.Join(rp, name)
		if _, err := os.Lstat(next); err != nil && qs.q.CaseInsensitive {
			if ents, derr := os.ReadDir(rp); derr == nil {
				for _, e := range ents {
					if strings.EqualFold(e.Name(), name) {
						next = filepath.Join(rp, e.Name())
						break
					}
				}
			}
		}
		if _, err := os.Lstat(next); err != nil {
			return filepath.Join(append([]string{rp}, parts[i:]...)...), false
		}
		rp = next
	}
	return rp, true
}

// serverPath is the server path of a real path below the root.
func (qs *quirkServer) serverPath(rp string) string {
	rel, err := filepath.Rel(qs.root, rp)
	if err != nil || rel == "." {
		return "/"
	}
	return "/" + filepath.ToSlash(rel)
}

// newName is the real path a new entry named by server path p gets: its
// directory resolved, its name rewritten with RewriteSpaces.
func (qs *quirkServer) newName(p string) (string, bool) {
	dir, ok := qs.real(path.Dir(p))
	name := path.Base(p)
	if qs.q.RewriteSpaces {
		name = strings.ReplaceAll(name, " ", "_")
	}
	return filepath.Join(dir, name), ok
}

// writable reports whether the server lets the entry at rp be changed: its
// owner write bit (the server's own check; tests run as root).
func writable(rp string) bool {
	fi, err := os.Lstat(rp)
	return err == nil && fi.Mode().Perm()&0o200 != 0
}

// busy reports whether an upload to rp is running.
func (qs *quirkServer) busy(rp string) bool {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	return qs.uploading[rp] > 0
}

func (ss *qsession) size(arg string) {
	q := &ss.s.q
	switch {
	case q.NoSIZE:
		ss.reply("502 Command not implemented.")
		return
	case q.SizeASCII && ss.typ == 'A':
		ss.reply("550 SIZE not allowed in ASCII mode")
		return
	}
	rp, ok := ss.s.real(ss.abs(arg))
	fi, err := os.Stat(rp)
	if !ok || err != nil || !fi.Mode().IsRegular() {
		ss.fail(550, "Could not get file size.")
		return
	}
	ss.reply(fmt.Sprintf("213 %d", fi.Size()))
}

func (ss *qsession) mdtm(arg string) {
	q := &ss.s.q
	if q.NoMDTM {
		ss.reply("502 Command not implemented.")
		return
	}
	rp, ok := ss.s.real(ss.abs(arg))
	fi, err := os.Stat(rp)
	if !ok || err != nil {
		ss.fail(550, "Could not get file modification time.")
		return
	}
	t := fi.ModTime().UTC()
	if q.MDTMZone != nil {
		t = t.In(q.MDTMZone)
	}
	s := t.Format("20060102150405")
	if q.MDTMFraction {
		s += fmt.Sprintf(".%03d", t.Nanosecond()/1e6)
	}
	ss.reply("213 " + s)
}

func (ss *qsession) mfmt(arg string) {
	if ss.s.q.NoMFMT {
		ss.reply("502 Command not implemented.")
		return
	}
	ts, p, ok := strings.Cut(arg, " ")
	t, err := time.ParseInLocation("20060102150405", ts, time.UTC)
	if !ok || err != nil {
		ss.reply("501 Syntax error.")
		return
	}
	rp, found := ss.s.real(ss.abs(p))
	if !found || !writable(rp) || os.Chtimes(rp, t, t) != nil {
		ss.fail(550, "Could not set the time.")
		return
	}
	ss.reply(fmt.Sprintf("213 Modify=%s; %s", ts, p))
}

func (ss *qsession) site(arg string) {
	sub, rest, _ := strings.Cut(arg, " ")
	if !strings.EqualFold(sub, "CHMOD") {
		ss.reply("500 Unknown SITE command.")
		return
	}
	ms, p, ok := strings.Cut(rest, " ")
	m, err := strconv.ParseUint(ms, 8, 32)
	if !ok || err != nil {
		ss.reply("501 Syntax error.")
		return
	}
	rp, found := ss.s.real(ss.abs(p))
	if !found || os.Chmod(rp, os.FileMode(m)&0o7777) != nil {
		ss.fail(550, "SITE CHMOD command failed.")
		return
	}
	ss.reply("200 SITE CHMOD command ok.")
}

func (ss *qsession) dele(arg string) {
	rp, ok := ss.s.real(ss.abs(arg))
	fi, err := os.Lstat(rp)
	switch {
	case !ok || err != nil:
		ss.fail(550, "No such file or directory.")
	case fi.IsDir():
		ss.fail(550, "Is a directory.")
	case !writable(rp) || !writable(filepath.Dir(rp)):
		ss.fail(550, "Permission denied.")
	case ss.s.q.NoDeleteBusy && ss.s.busy(rp):
		ss.fail(550, "The process cannot access the file because it is being used by another process.")
	case os.Remove(rp) != nil:
		ss.fail(550, "Delete operation failed.")
	default:
		ss.reply("250 Delete operation successful.")
	}
}

func (ss *qsession) rnfrCmd(arg string) {
	rp, ok := ss.s.real(ss.abs(arg))
	switch {
	case !ok:
		ss.fail(550, "No such file or directory.")
	case !writable(rp) || !writable(filepath.Dir(rp)):
		ss.fail(550, "Permission denied.")
	case ss.s.q.NoDeleteBusy && ss.s.busy(rp):
		ss.fail(550, "The process cannot access the file because it is being used by another process.")
	default:
		ss.rnfr = rp
		ss.reply("350 Ready for RNTO.")
	}
}

func (ss *qsession) rntoCmd(arg string) {
	from := ss.rnfr
	ss.rnfr = ""
	if from == "" {
		ss.reply("503 RNFR required first.")
		return
	}
	p := ss.abs(arg)
	to, dirOK := ss.s.newName(p)
	existing, exists := ss.s.real(p)
	if exists && existing != from {
		to = existing // a case-insensitive server replaces the file it finds
	}
	fi, err := os.Lstat(to)
	switch {
	case !dirOK || !writable(filepath.Dir(to)):
		ss.fail(550, "Rename failed.")
	case err == nil && existing != from && ss.s.q.NoRenameOver:
		ss.fail(550, "Cannot create a file when that file already exists.")
	case err == nil && existing != from && (fi.IsDir() || !writable(to)):
		ss.fail(550, "Rename failed.")
	case os.Rename(from, to) != nil:
		ss.fail(550, "Rename failed.")
	default:
		ss.reply("250 Rename successful.")
	}
}

func (ss *qsession) mkd(arg string) {
	p := ss.abs(arg)
	if _, ok := ss.s.real(p); ok {
		if ss.s.q.MKDExistsMessage {
			ss.fail(550, "Directory already exists")
		} else {
			ss.fail(550, "Create directory operation failed.")
		}
		return
	}
	rp, dirOK := ss.s.newName(p)
	if !dirOK || !writable(filepath.Dir(rp)) || os.Mkdir(rp, 0o755) != nil {
		ss.fail(550, "Create directory operation failed.")
		return
	}
	ss.reply(fmt.Sprintf("257 %q created", ss.s.serverPath(rp)))
}

func (ss *qsession) rmd(arg string) {
	rp, ok := ss.s.real(ss.abs(arg))
	fi, err := os.Lstat(rp)
	switch {
	case !ok || err != nil:
		ss.fail(550, "No such file or directory.")
	case !fi.IsDir():
		ss.fail(550, "Not a directory.")
	case rp == ss.s.root || !writable(filepath.Dir(rp)):
		ss.fail(550, "Permission denied.")
	case os.Remove(rp) != nil:
		ss.fail(550, "Directory not empty.")
	default:
		ss.reply("250 Remove directory operation successful.")
	}
}
