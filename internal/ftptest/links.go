package ftptest

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	server "goftp.io/server/v2"
)

// cmdListLinks is LIST in the format of vsftpd and most Unix servers, with
// symbolic links on the disk listed as links ("lrwxrwxrwx ... name ->
// target", the target as the link holds it), which goftp's own LIST cannot
// show. Used by WithSymlinks, for tests of what a server's links may point at.
type cmdListLinks struct{}

func (cmdListLinks) IsExtend() bool     { return false }
func (cmdListLinks) RequireParam() bool { return false }
func (cmdListLinks) RequireAuth() bool  { return true }
func (cmdListLinks) Execute(sess *server.Session, param string) {
	arg := param
	for strings.HasPrefix(arg, "-") { // "-a", "-la" ...
		_, arg, _ = strings.Cut(arg, " ")
	}
	p := sess.BuildPath(arg)
	d := driverOf(sess)
	ents, err := os.ReadDir(d.real(p))
	if err != nil {
		sess.WriteMessage(550, "cannot list "+p)
		return
	}
	var buf bytes.Buffer
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		kind, name := "-", e.Name()
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			tgt, err := os.Readlink(d.real(path.Join(p, e.Name())))
			if err != nil {
				continue
			}
			kind, name = "l", name+" -> "+tgt
		case fi.IsDir():
			kind = "d"
		}
		fmt.Fprintf(&buf, "%s%s 1 ftp ftp %12s %s %s\r\n", kind, fi.Mode().Perm().String()[1:],
			strconv.FormatInt(fi.Size(), 10), fi.ModTime().UTC().Format("Jan _2 15:04"), name)
	}
	sess.WriteMessage(150, "Here comes the directory listing.")
	if dc := sess.DataConn(); dc != nil {
		_, _ = dc.Write(buf.Bytes())
		dc.Close()
	}
	sess.WriteMessage(226, "Directory send OK.")
}
