package ftpstest

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// idleTimeout ends a session that sends nothing for this long.
const idleTimeout = 60 * time.Second

// session is one control connection.
type session struct {
	srv    *Server
	id     int
	tcp    *net.TCPConn
	ctl    net.Conn    // tcp, or the TLS connection over it after AUTH TLS
	tlsCfg *tls.Config // this session's TLS server side: its own ticket keys

	lines   chan string   // commands, from the reader goroutine
	gone    chan error    // why the control connection ended
	upgrade chan net.Conn // after AUTH: the connection to read from next (nil: unchanged)
	done    chan struct{} // the session is over

	user     string
	loggedIn bool
	secure   bool // the control connection is TLS
	prot     byte // 'C' or 'P'
	sscn     bool // SSCN ON in force
	cwd      string
	rest     int64
	from     string // RNFR's path

	pasv net.Listener // PASV/EPSV/CPSV listener for the next transfer
	cpsv bool         // the next data connection was asked for with CPSV
	port string       // PORT/EPRT address for the next transfer
}

func newSession(s *Server, id int, c *net.TCPConn) *session {
	ss := &session{srv: s, id: id, tcp: c, ctl: c, cwd: "/", prot: 'C',
		lines: make(chan string, 16), gone: make(chan error, 1),
		upgrade: make(chan net.Conn), done: make(chan struct{})}
	if s.TLS {
		ss.tlsCfg = &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12, MaxVersion: s.maxTLS()}
		// Tickets of this session only: a data connection can resume only
		// this control connection's session (see Options.RequireReuse).
		var key [32]byte
		_, _ = rand.Read(key[:])
		ss.tlsCfg.SetSessionTicketKeys([][32]byte{key})
	}
	return ss
}

func (ss *session) reply(format string, args ...any) {
	_ = ss.ctl.SetWriteDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(ss.ctl, format+"\r\n", args...)
}

func (ss *session) run() {
	defer ss.closeData()
	defer close(ss.done)
	go ss.read()
	ss.reply("220 ftpstest %s ready", ss.srv.Name)
	for {
		var line string
		var ok bool
		select {
		case line, ok = <-ss.lines:
			if !ok {
				return
			}
		case <-ss.srv.closed:
			return
		case <-time.After(idleTimeout):
			ss.reply("421 Idle timeout")
			return
		}
		ss.srv.logCmd(ss.id, line)
		verb, arg, _ := strings.Cut(line, " ")
		if !ss.handle(strings.ToUpper(verb), arg) {
			return
		}
	}
}

// read delivers the control connection's lines; after AUTH it waits to be
// told which connection to read next (the TLS one once the handshake is
// done).
func (ss *session) read() {
	br := bufio.NewReader(ss.tcp)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			ss.gone <- err
			close(ss.lines)
			return
		}
		line = strings.TrimRight(line, "\r\n")
		select {
		case ss.lines <- line:
		case <-ss.done:
			return
		}
		if v, _, _ := strings.Cut(line, " "); strings.EqualFold(v, "AUTH") {
			select {
			case nc := <-ss.upgrade:
				if nc != nil {
					br = bufio.NewReader(nc)
				}
			case <-ss.done:
				return
			}
		}
	}
}

// handle runs one command; false ends the session.
func (ss *session) handle(verb, arg string) bool {
	switch verb {
	case "AUTH":
		return ss.auth(arg)
	case "USER":
		ss.user, ss.loggedIn = arg, false
		ss.reply("331 Password required for %s", arg)
		return true
	case "PASS":
		if ss.user == ss.srv.User && arg == ss.srv.Password {
			ss.loggedIn = true
			ss.reply("230 User %s logged in", ss.user)
		} else {
			ss.reply("530 Login incorrect")
		}
		return true
	case "QUIT":
		ss.reply("221 Goodbye")
		return false
	case "FEAT":
		ss.feat()
		return true
	case "SYST":
		ss.reply("215 UNIX Type: L8")
		return true
	case "PBSZ":
		ss.reply("200 PBSZ=0")
		return true
	case "PROT":
		ss.protCmd(arg)
		return true
	case "NOOP", "TYPE", "MODE", "STRU", "OPTS", "ALLO":
		ss.reply("200 %s OK", verb)
		return true
	}
	if !ss.loggedIn {
		ss.reply("530 Please login with USER and PASS")
		return true
	}
	switch verb {
	case "SSCN":
		ss.sscnCmd(arg)
	case "CPSV":
		switch e := ss.srv.opts.CPSV; {
		case e == ExtRefused:
			ss.reply("504 CPSV not allowed here")
		case !e.accepts():
			ss.reply("500 'CPSV': command not understood")
		default:
			ss.passive("CPSV")
		}
	case "PASV", "EPSV":
		ss.passive(verb)
	case "PORT", "EPRT":
		ss.active(verb, arg)
	case "REST":
		n, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || n < 0 {
			ss.reply("501 Bad REST offset")
			break
		}
		ss.rest = n
		ss.reply("350 Restarting at %d. Send STOR or RETR", n)
	case "RETR", "STOR", "APPE", "MLSD", "LIST", "NLST":
		return ss.transfer(verb, arg)
	case "ABOR":
		ss.reply("225 No transfer to abort")
	default:
		ss.fileCmd(verb, arg)
	}
	return true
}

// auth switches the control connection to TLS.
func (ss *session) auth(arg string) bool {
	a := strings.ToUpper(strings.TrimSpace(arg))
	if ss.srv.opts.NoTLS || ss.secure || (a != "TLS" && a != "SSL" && a != "TLS-C") {
		ss.reply("504 AUTH %s not available", arg)
		return ss.unchanged()
	}
	ss.reply("234 AUTH %s successful", a)
	tc := tls.Server(ss.tcp, ss.tlsCfg)
	_ = ss.tcp.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		return false
	}
	_ = ss.tcp.SetDeadline(time.Time{})
	ss.ctl, ss.secure = tc, true
	select {
	case ss.upgrade <- tc:
		return true
	case <-ss.srv.closed:
		return false
	}
}

// unchanged tells the reader to go on reading the same connection.
func (ss *session) unchanged() bool {
	select {
	case ss.upgrade <- nil:
		return true
	case <-ss.srv.closed:
		return false
	}
}

func (ss *session) feat() {
	o := ss.srv.opts
	feats := []string{"MLST type*;size*;modify*;UNIX.mode*;", "SIZE", "MDTM", "MFMT", "REST STREAM", "EPSV", "UTF8"}
	if ss.srv.TLS {
		feats = append(feats, "AUTH TLS", "PBSZ", "PROT")
	}
	if o.SSCN.listed() {
		feats = append(feats, "SSCN")
	}
	if o.CPSV.listed() {
		feats = append(feats, "CPSV")
	}
	ss.reply("211-Features:\r\n %s\r\n211 End", strings.Join(feats, "\r\n "))
}

func (ss *session) protCmd(arg string) {
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "P":
		if !ss.secure {
			ss.reply("503 PROT P needs AUTH TLS first")
			return
		}
		ss.prot = 'P'
		ss.reply("200 Protection set to Private")
	case "C":
		if ss.secure && ss.srv.opts.ClearData == ClearRefusedAtProt {
			ss.reply("534 PROT C refused: data connections must be encrypted")
			return
		}
		ss.prot = 'C'
		ss.reply("200 Protection set to Clear")
	default:
		ss.reply("504 PROT %s not supported", arg)
	}
}

func (ss *session) sscnCmd(arg string) {
	e := ss.srv.opts.SSCN
	switch {
	case e == ExtRefused:
		ss.reply("504 SSCN not allowed here")
		return
	case !e.accepts():
		ss.reply("500 'SSCN': command not understood")
		return
	case !ss.secure:
		ss.reply("503 SSCN needs AUTH TLS first")
		return
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "ON":
		ss.sscn = true
	case "OFF":
		ss.sscn = false
	case "":
	default:
		ss.reply("501 SSCN ON or OFF")
		return
	}
	if ss.sscn {
		ss.reply("200 SSCN:CLIENT METHOD")
	} else {
		ss.reply("200 SSCN:SERVER METHOD")
	}
}
