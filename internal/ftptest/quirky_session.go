package ftptest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// qsession is one control connection of a StartQuirky server. Commands are
// handled one at a time, as most servers do; a transfer blocks the session
// until its final reply.
type qsession struct {
	s      *quirkServer
	c      *conn // the listener's: counted, and gone when dropped
	r      *bufio.Reader
	cwd    string // server path
	typ    byte   // 'A' (the initial type) or 'I'
	rest   int64  // REST offset for the next transfer
	rnfr   string // real path named by an accepted RNFR
	pasv   net.Listener
	port   string // address of the last PORT/EPRT
	user   string
	logged bool
}

func (qs *quirkServer) serve(nc net.Conn) {
	c := nc.(*conn)
	defer c.Close()
	ss := &qsession{s: qs, c: c, r: bufio.NewReader(c), cwd: "/", typ: 'A'}
	defer ss.closePasv()
	q := &qs.q
	if q.GreetDelay > 0 {
		select {
		case <-time.After(q.GreetDelay):
		case <-c.gone:
			return
		}
	}
	if q.Greet120 {
		ss.reply("120 Service ready in a moment.")
	}
	if q.GreetMultiline {
		ss.reply("220-Welcome to the quirky FTP server.", "220-Unauthorized access prohibited.", "220 Ready.")
	} else {
		ss.reply("220 quirky FTP server ready.")
	}
	defer func() {
		if ss.logged {
			qs.mu.Lock()
			qs.users--
			qs.mu.Unlock()
		}
	}()
	for {
		if q.IdleClose > 0 {
			_ = c.SetReadDeadline(time.Now().Add(q.IdleClose))
		}
		line, err := ss.r.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				ss.reply("421 Timeout.")
			}
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		line = strings.TrimRight(line, "\r\n")
		qs.mu.Lock()
		qs.received = append(qs.received, line)
		qs.mu.Unlock()
		if q.CommandsLatin1 {
			line = latin1ToUTF8(line)
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		if !ss.logged && verb != "USER" && verb != "PASS" && verb != "QUIT" && verb != "FEAT" {
			ss.reply("530 Please login with USER and PASS.")
			continue
		}
		if !ss.command(verb, arg) {
			return
		}
	}
}

// reply sends reply lines.
func (ss *qsession) reply(lines ...string) {
	for _, l := range lines {
		_, _ = fmt.Fprintf(ss.c, "%s\r\n", l)
	}
}

// fail sends a refusal; with Vague550 every 550 says the same.
func (ss *qsession) fail(code int, msg string) {
	if ss.s.q.Vague550 && code == 550 {
		msg = "Failed."
	}
	ss.reply(fmt.Sprintf("%d %s", code, msg))
}

// command handles one command; false ends the session.
func (ss *qsession) command(verb, arg string) bool {
	q := &ss.s.q
	switch verb {
	case "USER":
		ss.user = arg
		ss.reply("331 Please specify the password.")
	case "PASS":
		return ss.login(arg)
	case "QUIT":
		ss.reply("221 Goodbye.")
		return false
	case "SYST":
		if q.ListStyle == ListDOS {
			ss.reply("215 Windows_NT")
		} else {
			ss.reply("215 UNIX Type: L8")
		}
	case "FEAT":
		ss.feat()
	case "OPTS":
		switch up := strings.ToUpper(arg); {
		case strings.HasPrefix(up, "UTF8") && q.Latin1:
			ss.reply("501 Option not understood.")
		case strings.HasPrefix(up, "UTF8"):
			ss.reply("200 Always in UTF8 mode.")
		case strings.HasPrefix(up, "MLST") && !q.NoMLSD:
			ss.reply("200 " + arg)
		default:
			ss.reply("501 Option not understood.")
		}
	case "TYPE":
		switch t := strings.ToUpper(strings.TrimSpace(arg)); {
		case t == "I" || t == "L 8":
			ss.typ = 'I'
		case t == "A" || t == "A N":
			ss.typ = 'A'
		default:
			ss.reply("504 Bad TYPE command.")
			return true
		}
		ss.reply(fmt.Sprintf("200 Switching to %c mode.", ss.typ))
	case "MODE", "STRU":
		ss.reply("200 OK.")
	case "NOOP":
		ss.reply("200 NOOP ok.")
	case "PWD", "XPWD":
		ss.reply(fmt.Sprintf("257 %q is the current directory", ss.cwd))
	case "CWD", "XCWD":
		ss.cd(ss.abs(arg))
	case "CDUP", "XCUP":
		ss.cd(path.Dir(ss.cwd))
	case "PASV":
		ss.pasvCmd()
	case "EPSV":
		ss.epsvCmd()
	case "PORT", "EPRT":
		ss.portCmd(verb, arg)
	case "LIST":
		ss.list(arg)
	case "NLST":
		ss.nlst(arg)
	case "MLSD":
		ss.mlsd(arg)
	case "MLST":
		ss.mlst(arg)
	case "SIZE":
		ss.size(arg)
	case "MDTM":
		ss.mdtm(arg)
	case "MFMT":
		ss.mfmt(arg)
	case "SITE":
		ss.site(arg)
	case "REST":
		ss.restCmd(arg)
	case "RETR":
		ss.retr(arg)
	case "STOR", "APPE":
		ss.stor(verb, arg)
	case "DELE":
		ss.dele(arg)
	case "RNFR":
		ss.rnfrCmd(arg)
	case "RNTO":
		ss.rntoCmd(arg)
	case "MKD", "XMKD":
		ss.mkd(arg)
	case "RMD", "XRMD":
		ss.rmd(arg)
	case "ABOR":
		ss.reply("225 No transfer to abort.")
	default:
		ss.reply("502 Command not implemented.")
	}
	return true
}

func (ss *qsession) login(pass string) bool {
	qs := ss.s
	if ss.user != qs.user || pass != qs.pass {
		ss.reply("530 Login incorrect.")
		return true
	}
	qs.mu.Lock()
	full := qs.q.MaxUsers > 0 && qs.users >= qs.q.MaxUsers
	if !full {
		qs.users++
		ss.logged = true
	}
	qs.mu.Unlock()
	if full {
		ss.reply(fmt.Sprintf("530 Sorry, the maximum number of clients (%d) for this user are already connected.", qs.q.MaxUsers))
		return false
	}
	ss.reply("230 Login successful.")
	return true
}

func (ss *qsession) feat() {
	q := &ss.s.q
	if q.NoFEAT {
		ss.reply("500 Unknown command.")
		return
	}
	var f []string
	if !q.NoMDTM {
		f = append(f, "MDTM")
	}
	if !q.NoMFMT {
		f = append(f, "MFMT")
	}
	if !q.NoSIZE {
		f = append(f, "SIZE")
	}
	if !q.NoREST && !q.RESTIgnored && !q.RESTUnadvertised { // one that ignores REST does not say it has it
		f = append(f, "REST STREAM")
	}
	if !q.NoEPSV {
		f = append(f, "EPSV")
	}
	if !q.Latin1 {
		f = append(f, "UTF8")
	}
	if !q.NoMLSD && !q.NoLIST {
		f = append(f, "MLST type*;size*;modify*;perm*;unix.mode*;")
	}
	if !q.OddFEAT {
		lines := []string{"211-Features:"}
		for _, l := range f {
			lines = append(lines, " "+l)
		}
		ss.reply(append(lines, "211 End")...)
		return
	}
	lines := []string{"211-Extensions supported:"}
	for i, l := range f {
		l = strings.ToLower(l)
		switch i % 3 {
		case 0:
			l = "  " + strings.ReplaceAll(l, " ", "   ") + " "
		case 1:
			l = "\t" + l
		}
		lines = append(lines, l) // case 2: no leading space at all
	}
	ss.reply(append(lines, "211 END")...)
}

// abs makes a client path absolute and clean (relative to the cwd).
func (ss *qsession) abs(arg string) string {
	if !strings.HasPrefix(arg, "/") {
		arg = path.Join(ss.cwd, arg)
	}
	return path.Clean("/" + arg)
}

func (ss *qsession) cd(p string) {
	rp, ok := ss.s.real(p)
	if fi, err := os.Stat(rp); !ok || err != nil || !fi.IsDir() {
		ss.fail(550, "Failed to change directory.")
		return
	}
	ss.cwd = ss.s.serverPath(rp)
	ss.reply("250 Directory successfully changed.")
}

func (ss *qsession) restCmd(arg string) {
	q := &ss.s.q
	if q.NoREST {
		ss.reply("502 Command not implemented.")
		return
	}
	n, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
	if err != nil || n < 0 {
		ss.reply("501 Bad REST parameter.")
		return
	}
	if !q.RESTIgnored {
		ss.rest = n
	}
	ss.reply(fmt.Sprintf("350 Restart position accepted (%d).", n))
}

// latin1ToUTF8 reads s's bytes as Latin-1 characters (CommandsLatin1).
func latin1ToUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}
