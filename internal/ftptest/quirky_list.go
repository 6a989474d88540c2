package ftptest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

var germanMonths = [...]string{"Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez"}

// qentry is one directory entry as a listing shows it.
type qentry struct {
	name   string
	fi     os.FileInfo
	target string // symlink target
}

// decomposed spells a few letters as HFS+ stores them (ListDecomposed).
var decomposed = strings.NewReplacer("é", "e\u0301", "ï", "i\u0308", "ü", "u\u0308")

// entries reads a directory, dot files only when dot is set.
func entries(dir string, dot bool) ([]qentry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []qentry
	for _, de := range des {
		if !dot && strings.HasPrefix(de.Name(), ".") {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		e := qentry{name: de.Name(), fi: fi}
		if fi.Mode()&os.ModeSymlink != 0 {
			e.target, _ = os.Readlink(filepath.Join(dir, de.Name()))
		}
		out = append(out, e)
	}
	return out, nil
}

// listLine formats one LIST line in the server's style.
func (qs *quirkServer) listLine(e qentry, now time.Time) string {
	fi := e.fi
	t := fi.ModTime().UTC()
	if qs.q.ListStyle == ListDOS {
		stamp := t.Format("01-02-06  03:04PM")
		if fi.IsDir() {
			return stamp + "       <DIR>          " + e.name
		}
		return fmt.Sprintf("%s %20d %s", stamp, fi.Size(), e.name)
	}
	kind, name := "-", e.name
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		kind, name = "l", name+" -> "+e.target
	case fi.IsDir():
		kind = "d"
	}
	mode := kind + fi.Mode().Perm().String()[1:]
	mon := t.Format("Jan")
	if qs.q.ListStyle == ListGerman {
		mon = germanMonths[t.Month()-1]
	}
	date := mon + t.Format(" _2 15:04")
	if t.Before(now.AddDate(0, -6, 0)) || t.After(now.Add(24*time.Hour)) {
		date = mon + t.Format(" _2  2006")
	}
	switch qs.q.ListStyle {
	case ListUnixNoGroup:
		return fmt.Sprintf("%s    1 %-8s %12d %s %s", mode, "ftp", fi.Size(), date, name)
	case ListUnixNumeric:
		return fmt.Sprintf("%s    1 %-8s %-8s %12d %s %s", mode, "1000", "1000", fi.Size(), date, name)
	}
	return fmt.Sprintf("%s    1 %-8s %-8s %12d %s %s", mode, "ftp", "ftp", fi.Size(), date, name)
}

// mlsxFacts formats the facts of one MLSD/MLST entry (without the name).
func (qs *quirkServer) mlsxFacts(e qentry, typ string) string {
	fi := e.fi
	q := &qs.q
	mod := fi.ModTime().UTC().Format("20060102150405")
	if q.MLSDFraction {
		mod += fmt.Sprintf(".%03d", fi.ModTime().Nanosecond()/1e6)
	}
	if typ == "" {
		switch {
		case fi.Mode()&os.ModeSymlink != 0 && q.MLSDStyle == MLSDProFTPD:
			typ = "OS.unix=symlink"
		case fi.Mode()&os.ModeSymlink != 0:
			typ = "OS.unix=slink:" + e.target
		case fi.IsDir():
			typ = "dir"
		default:
			typ = "file"
		}
	}
	size := fi.Size()
	if fi.IsDir() {
		size = 4096
	}
	mode := fmt.Sprintf("0%o", fi.Mode().Perm())
	switch q.MLSDStyle {
	case MLSDProFTPD:
		return fmt.Sprintf("modify=%s;perm=adfrw;size=%d;type=%s;unique=FD00U%X;UNIX.group=0;UNIX.mode=%s;UNIX.owner=0;",
			mod, size, typ, len(e.name), mode)
	case MLSDUpper:
		return fmt.Sprintf("Type=%s;Size=%d;Modify=%s;Perm=rw;UNIX.mode=%s;", typ, size, mod, mode)
	}
	return fmt.Sprintf("type=%s;size=%d;modify=%s;unix.mode=%s;", typ, size, mod, mode)
}

// list is LIST [-options] [path].
func (ss *qsession) list(arg string) {
	q := &ss.s.q
	if q.NoLIST {
		ss.reply("502 Command not implemented.")
		return
	}
	dot := false
	for strings.HasPrefix(arg, "-") {
		var opt string
		opt, arg, _ = strings.Cut(arg, " ")
		switch q.DashA {
		case DashAUnderstood:
			dot = dot || strings.Contains(opt, "a")
		case DashAAsPath:
			ss.fail(550, opt+": No such file or directory")
			return
		case DashAAsEmpty:
			ss.download("LIST", strings.NewReader(""), "ASCII")
			return
		}
	}
	rp, ok := ss.s.real(ss.abs(arg))
	ents, err := entries(rp, dot)
	if q.ListDecomposed {
		for i := range ents {
			ents[i].name = decomposed.Replace(ents[i].name)
		}
	}
	if !ok || err != nil {
		ss.fail(550, "Could not list directory.")
		return
	}
	var b bytes.Buffer
	if q.ListTotal {
		fmt.Fprintf(&b, "total %d\r\n", 8*len(ents))
	}
	now := time.Now()
	for _, e := range ents {
		b.WriteString(ss.s.listLine(e, now) + "\r\n")
	}
	for _, l := range q.ListExtra {
		b.WriteString(l + "\r\n")
	}
	ss.download("LIST", &b, "ASCII")
}

// nlst is NLST [path]: names only.
func (ss *qsession) nlst(arg string) {
	for strings.HasPrefix(arg, "-") {
		_, arg, _ = strings.Cut(arg, " ")
	}
	rp, ok := ss.s.real(ss.abs(arg))
	ents, err := entries(rp, false)
	if !ok || err != nil {
		ss.fail(550, "No files found.")
		return
	}
	var b bytes.Buffer
	for _, e := range ents {
		b.WriteString(e.name + "\r\n")
	}
	ss.download("NLST", &b, "ASCII")
}

func (ss *qsession) mlsd(arg string) {
	q := &ss.s.q
	if q.NoMLSD || q.NoLIST {
		ss.reply("502 Command not implemented.")
		return
	}
	rp, ok := ss.s.real(ss.abs(arg))
	ents, err := entries(rp, true)
	if fi, serr := os.Stat(rp); !ok || err != nil || serr != nil || !fi.IsDir() {
		ss.fail(550, "Could not list directory.")
		return
	}
	var b bytes.Buffer
	if q.MLSDCdir {
		for _, d := range []struct{ name, typ, real string }{{".", "cdir", rp}, {"..", "pdir", filepath.Dir(rp)}} {
			if fi, err := os.Stat(d.real); err == nil {
				b.WriteString(ss.s.mlsxFacts(qentry{name: d.name, fi: fi}, d.typ) + " " + d.name + "\r\n")
			}
		}
	}
	for _, e := range ents {
		b.WriteString(ss.s.mlsxFacts(e, "") + " " + e.name + "\r\n")
	}
	ss.download("MLSD", &b, "ASCII")
}

func (ss *qsession) mlst(arg string) {
	q := &ss.s.q
	if q.NoMLSD || q.NoMLST || q.NoLIST {
		ss.reply("502 Command not implemented.")
		return
	}
	p := ss.abs(arg)
	rp, ok := ss.s.real(p)
	fi, err := os.Lstat(rp)
	if !ok || err != nil {
		ss.fail(550, "No such file or directory.")
		return
	}
	e := qentry{name: filepath.Base(rp), fi: fi}
	if fi.Mode()&os.ModeSymlink != 0 {
		e.target, _ = os.Readlink(rp)
	}
	ss.reply("250-Listing "+p, " "+ss.s.mlsxFacts(e, "")+" "+ss.s.serverPath(rp), "250 End")
}
