package ftptest

import (
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	server "goftp.io/server/v2"
)

// commands returns goftp's command table plus what real servers offer and
// goftp lacks: MFMT, SITE CHMOD and SITE UTIME; SIZE and MDTM are
// advertised in FEAT. withMLSD=false removes MLSD/MLST (a LIST-only server);
// links=true lists symbolic links as links (cmdListLinks).
func commands(withMLSD, links, xcrc bool) map[string]server.Command {
	cmds := make(map[string]server.Command)
	for k, v := range server.DefaultCommands() {
		cmds[k] = v
	}
	if !withMLSD {
		delete(cmds, "MLSD")
		delete(cmds, "MLST")
	}
	if links {
		cmds["LIST"] = cmdListLinks{}
	}
	cmds["SIZE"] = advertised{cmds["SIZE"]}
	cmds["MDTM"] = advertised{cmds["MDTM"]}
	cmds["MFMT"] = cmdMFMT{}
	cmds["SITE"] = cmdSITE{}
	if xcrc {
		cmds["XCRC"] = cmdXCRC{}
	}
	return cmds
}

// cmdXCRC is "XCRC path": the file's CRC-32 (IEEE) in hex, as servers
// that offer it reply (250 XXXXXXXX).
type cmdXCRC struct{}

func (cmdXCRC) IsExtend() bool     { return true }
func (cmdXCRC) RequireParam() bool { return true }
func (cmdXCRC) RequireAuth() bool  { return true }
func (cmdXCRC) Execute(sess *server.Session, param string) {
	f, err := os.Open(driverOf(sess).real(sess.BuildPath(param)))
	if err != nil {
		sess.WriteMessage(550, "Could not open file")
		return
	}
	defer f.Close()
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, f); err != nil {
		sess.WriteMessage(550, "Could not read file")
		return
	}
	sess.WriteMessage(250, fmt.Sprintf("%08X", h.Sum32()))
}

// advertised makes a standard command appear in FEAT.
type advertised struct{ server.Command }

func (advertised) IsExtend() bool { return true }

func driverOf(sess *server.Session) *diskDriver {
	return sess.Server().Driver.(*diskDriver)
}

const mdtmFormat = "20060102150405"

// cmdMFMT is "MFMT YYYYMMDDhhmmss path" (draft-somers-ftp-mfxx).
type cmdMFMT struct{}

func (cmdMFMT) IsExtend() bool     { return true }
func (cmdMFMT) RequireParam() bool { return true }
func (cmdMFMT) RequireAuth() bool  { return true }
func (cmdMFMT) Execute(sess *server.Session, param string) {
	ts, name, ok := strings.Cut(param, " ")
	t, err := time.ParseInLocation(mdtmFormat, ts, time.UTC)
	if !ok || err != nil || name == "" {
		sess.WriteMessage(501, "Usage: MFMT YYYYMMDDhhmmss path")
		return
	}
	p := sess.BuildPath(name)
	if err := os.Chtimes(driverOf(sess).real(p), t, t); err != nil {
		sess.WriteMessage(550, "Cannot set time")
		return
	}
	sess.WriteMessage(213, "Modify="+ts+"; "+name)
}

// cmdSITE implements "SITE CHMOD mode path", "SITE UTIME YYYYMMDDhhmmss path"
// and "SITE UTIME path atime mtime ctime UTC".
type cmdSITE struct{}

func (cmdSITE) IsExtend() bool     { return false }
func (cmdSITE) RequireParam() bool { return true }
func (cmdSITE) RequireAuth() bool  { return true }
func (cmdSITE) Execute(sess *server.Session, param string) {
	sub, rest, _ := strings.Cut(param, " ")
	d := driverOf(sess)
	switch strings.ToUpper(sub) {
	case "CHMOD":
		ms, name, ok := strings.Cut(rest, " ")
		mode, err := strconv.ParseUint(ms, 8, 32)
		if !ok || err != nil || name == "" {
			sess.WriteMessage(501, "Usage: SITE CHMOD mode path")
			return
		}
		if err := os.Chmod(d.real(sess.BuildPath(name)), os.FileMode(mode).Perm()); err != nil {
			sess.WriteMessage(550, "CHMOD failed")
			return
		}
		sess.WriteMessage(200, "SITE CHMOD command ok")
	case "UTIME":
		name, t, ok := parseUtime(rest)
		if !ok {
			sess.WriteMessage(501, "Usage: SITE UTIME YYYYMMDDhhmmss path")
			return
		}
		if err := os.Chtimes(d.real(sess.BuildPath(name)), t, t); err != nil {
			sess.WriteMessage(550, "UTIME failed")
			return
		}
		sess.WriteMessage(200, "SITE UTIME command ok")
	default:
		sess.WriteMessage(500, "Unknown SITE command")
	}
}

func parseUtime(s string) (name string, t time.Time, ok bool) {
	if ts, name, found := strings.Cut(s, " "); found {
		if t, err := time.ParseInLocation(mdtmFormat, ts, time.UTC); err == nil && name != "" {
			return name, t, true
		}
	}
	// "path atime mtime ctime UTC"
	f := strings.Fields(s)
	if len(f) < 5 || f[len(f)-1] != "UTC" {
		return "", time.Time{}, false
	}
	t, err := time.ParseInLocation(mdtmFormat, f[len(f)-3], time.UTC)
	if err != nil {
		return "", time.Time{}, false
	}
	idx := strings.LastIndex(s, " "+f[len(f)-4]+" ")
	if idx <= 0 {
		return "", time.Time{}, false
	}
	return s[:idx], t, true
}
