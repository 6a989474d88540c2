package ftpstest

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// resolve makes a command's path argument a clean server path.
func (ss *session) resolve(arg string) string {
	if !strings.HasPrefix(arg, "/") {
		arg = path.Join(ss.cwd, arg)
	}
	return path.Clean("/" + arg)
}

const timeFormat = "20060102150405"

// fileCmd runs the commands about files and directories.
func (ss *session) fileCmd(verb, arg string) {
	p := ss.resolve(arg)
	fp := ss.srv.Path(p)
	switch verb {
	case "PWD", "XPWD":
		ss.reply(`257 "%s" is the current directory`, ss.cwd)
	case "CWD", "CDUP":
		if verb == "CDUP" {
			p = path.Dir(ss.cwd)
			fp = ss.srv.Path(p)
		}
		if fi, err := os.Stat(fp); err != nil || !fi.IsDir() {
			ss.reply("550 %s: No such directory", p)
			return
		}
		ss.cwd = p
		ss.reply("250 CWD command successful")
	case "SIZE", "MDTM":
		fi, err := os.Stat(fp)
		switch {
		case err != nil || fi.IsDir():
			ss.reply("550 %s: No such file", p)
		case verb == "SIZE":
			ss.reply("213 %d", fi.Size())
		default:
			ss.reply("213 %s", fi.ModTime().UTC().Format(timeFormat))
		}
	case "MFMT":
		ts, rest, _ := strings.Cut(arg, " ")
		mt, err := time.Parse(timeFormat, ts)
		p = ss.resolve(rest)
		if err == nil {
			err = os.Chtimes(ss.srv.Path(p), mt, mt)
		}
		if err != nil {
			ss.reply("550 %s: cannot set the time", p)
			return
		}
		ss.reply("213 Modify=%s; %s", ts, p)
	case "MLST":
		fi, err := os.Stat(fp)
		if err != nil {
			ss.reply("550 %s: No such file or directory", p)
			return
		}
		ss.reply("250-Listing %s\r\n %s %s\r\n250 End", p, facts(fi), p)
	case "DELE":
		if fi, err := os.Stat(fp); err != nil || fi.IsDir() || os.Remove(fp) != nil {
			ss.reply("550 %s: cannot delete", p)
			return
		}
		ss.reply("250 DELE command successful")
	case "RNFR":
		if _, err := os.Lstat(fp); err != nil {
			ss.reply("550 %s: No such file or directory", p)
			return
		}
		ss.from = p
		ss.reply("350 File exists, ready for destination name")
	case "RNTO":
		from := ss.from
		ss.from = ""
		if from == "" {
			ss.reply("503 RNFR first")
			return
		}
		if err := os.Rename(ss.srv.Path(from), fp); err != nil {
			ss.reply("550 rename failed")
			return
		}
		ss.reply("250 Rename successful")
	case "MKD", "XMKD":
		if err := os.Mkdir(fp, 0o755); err != nil {
			ss.reply("550 %s: cannot create", p)
			return
		}
		ss.reply(`257 "%s" created`, p)
	case "RMD", "XRMD":
		if fi, err := os.Stat(fp); err != nil || !fi.IsDir() || os.Remove(fp) != nil {
			ss.reply("550 %s: cannot remove", p)
			return
		}
		ss.reply("250 RMD command successful")
	case "SITE":
		ss.site(arg)
	default:
		ss.reply("500 '%s': command not understood", verb)
	}
}

// site runs SITE CHMOD (the only SITE command offered).
func (ss *session) site(arg string) {
	f := strings.Fields(arg)
	if len(f) < 3 || !strings.EqualFold(f[0], "CHMOD") {
		ss.reply("500 SITE %s not understood", arg)
		return
	}
	mode, err := strconv.ParseUint(f[1], 8, 32)
	p := ss.resolve(strings.Join(f[2:], " "))
	if err == nil {
		err = os.Chmod(ss.srv.Path(p), fs.FileMode(mode).Perm())
	}
	if err != nil {
		ss.reply("550 %s: cannot change the mode", p)
		return
	}
	ss.reply("200 SITE CHMOD command successful")
}

// facts is the MLSD/MLST fact list of a file ("type=file;size=1;...;").
func facts(fi fs.FileInfo) string {
	typ := "file"
	if fi.IsDir() {
		typ = "dir"
	}
	return fmt.Sprintf("type=%s;size=%d;modify=%s;UNIX.mode=0%o;", typ, fi.Size(),
		fi.ModTime().UTC().Format(timeFormat), fi.Mode().Perm())
}

// listing is the MLSD (or LIST) listing of the directory at fp.
func listing(fp string, mlsd bool) ([]string, error) {
	ents, err := os.ReadDir(fp)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if mlsd {
			out = append(out, facts(fi)+" "+e.Name())
			continue
		}
		kind := "-"
		if fi.IsDir() {
			kind = "d"
		}
		out = append(out, fmt.Sprintf("%s%s 1 ftp ftp %d %s %s", kind, fi.Mode().Perm().String()[1:], fi.Size(),
			fi.ModTime().UTC().Format("Jan _2 15:04"), e.Name()))
	}
	sort.Strings(out)
	return out, nil
}
