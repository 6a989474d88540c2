package ftptest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// dataWait bounds how long a transfer waits for its data connection.
const dataWait = 10 * time.Second

func (ss *qsession) closePasv() {
	if ss.pasv != nil {
		ss.pasv.Close()
		ss.pasv = nil
	}
}

// listenData opens a passive listener on the control connection's address.
func (ss *qsession) listenData() (int, bool) {
	ss.closePasv()
	ss.port = ""
	ln, err := net.Listen("tcp", net.JoinHostPort(ss.s.host, "0"))
	if err != nil {
		ss.reply("425 Cannot open passive connection.")
		return 0, false
	}
	ss.pasv = ln
	return ln.Addr().(*net.TCPAddr).Port, true
}

func (ss *qsession) pasvCmd() {
	port, ok := ss.listenData()
	if !ok {
		return
	}
	h := strings.ReplaceAll(ss.s.host, ".", ",")
	if ss.s.q.PASVAddr != "" {
		h = ss.s.q.PASVAddr
	}
	addr := fmt.Sprintf("%s,%d,%d", h, port>>8, port&0xff)
	if ss.s.q.PASVNoParens {
		ss.reply("227 Entering Passive Mode " + addr)
	} else {
		ss.reply("227 Entering Passive Mode (" + addr + ").")
	}
}

func (ss *qsession) epsvCmd() {
	if ss.s.q.NoEPSV {
		ss.reply("502 Command not implemented.")
		return
	}
	port, ok := ss.listenData()
	if !ok {
		return
	}
	if ss.s.q.EPSVBroken {
		ss.reply(fmt.Sprintf("229 Entering Extended Passive Mode (|||%d)", port))
		return
	}
	ss.reply(fmt.Sprintf("229 Entering Extended Passive Mode (|||%d|)", port))
}

// portCmd is PORT h1,h2,h3,h4,p1,p2 or EPRT |1|ip|port|.
func (ss *qsession) portCmd(verb, arg string) {
	var addr string
	if verb == "PORT" {
		f := strings.Split(strings.TrimSpace(arg), ",")
		if len(f) == 6 {
			p1, e1 := strconv.Atoi(f[4])
			p2, e2 := strconv.Atoi(f[5])
			if e1 == nil && e2 == nil {
				addr = net.JoinHostPort(strings.Join(f[:4], "."), strconv.Itoa(p1<<8|p2))
			}
		}
	} else if f := strings.Split(arg, "|"); len(f) == 5 {
		addr = net.JoinHostPort(f[2], f[3])
	}
	if addr == "" {
		ss.reply("501 Illegal " + verb + " command.")
		return
	}
	ss.closePasv()
	ss.port = addr
	ss.reply("200 " + verb + " command successful.")
}

// openData gets the data connection of a transfer: accepted on the passive
// listener, or dialled to the PORT address.
func (ss *qsession) openData() (net.Conn, error) {
	defer func() { ss.port = "" }()
	if ss.port != "" {
		return net.DialTimeout("tcp", ss.port, dataWait)
	}
	ln := ss.pasv
	if ln == nil {
		return nil, errors.New("no PASV or PORT")
	}
	defer ss.closePasv()
	deadline := time.Now().Add(dataWait)
	for time.Now().Before(deadline) {
		_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(100 * time.Millisecond))
		dc, err := ln.Accept()
		if err == nil {
			return dc, nil
		}
		select {
		case <-ss.c.gone:
			return nil, err
		default:
		}
	}
	return nil, errors.New("no data connection")
}

// start opens the data connection and says so (the 1xx reply).
func (ss *qsession) start(what string) (net.Conn, bool) {
	dc, err := ss.openData()
	if err != nil {
		ss.reply("425 Failed to establish connection.")
		return nil, false
	}
	code := "150"
	if ss.s.q.Reply125 {
		code = "125"
	}
	if ss.s.q.Multiline150 {
		ss.reply(code+"-Accepted data connection", code+"-The computer is your friend. Trust the computer", code+" Opening "+what+" mode data connection")
	} else {
		ss.reply(code + " Opening " + what + " mode data connection.")
	}
	return dc, true
}

// final is the reply ending a transfer that went well.
func (ss *qsession) final() string {
	if ss.s.q.Final250 {
		return "250 Transfer complete."
	}
	return "226 Transfer complete."
}

// hold keeps a data connection open (a server that forgets to close it)
// until the client closes it, DataHold passes, or the session is dropped.
// The session goes on serving commands meanwhile.
func (ss *qsession) hold(dc net.Conn) {
	gone, d := ss.c.gone, ss.s.q.DataHold
	go func() {
		defer dc.Close()
		closed := make(chan struct{})
		go func() { _, _ = io.Copy(io.Discard, dc); close(closed) }()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-closed:
		case <-t.C:
		case <-gone:
		}
	}()
}

// failing reports whether FailAfter1xx and MidTransfer apply to verb.
func (ss *qsession) failing(verb string) bool {
	on := ss.s.q.FailOn
	return on == "" || slices.Contains(strings.Fields(on), verb)
}

// download sends src on a data connection with the server's transfer quirks.
func (ss *qsession) download(verb string, src io.Reader, what string) {
	q := &ss.s.q
	dc, ok := ss.start(what)
	if !ok {
		return
	}
	if !ss.failing(verb) {
		q = &Quirks{NeverCloseData: q.NeverCloseData, FinalBeforeClose: q.FinalBeforeClose}
	}
	if q.FailAfter1xx != "" {
		ss.reply(q.FailAfter1xx)
		ss.hold(dc)
		return
	}
	if q.MidTransfer != "" {
		_, _ = io.CopyN(dc, src, q.MidAfter)
		dc.Close()
		ss.reply(q.MidTransfer)
		return
	}
	if _, err := io.Copy(dc, src); err != nil {
		dc.Close()
		ss.reply("426 Connection closed; transfer aborted.")
		return
	}
	switch {
	case q.NeverCloseData:
		ss.reply(ss.final())
		ss.hold(dc)
	case q.FinalBeforeClose:
		ss.reply(ss.final())
		time.Sleep(100 * time.Millisecond)
		dc.Close()
	default:
		dc.Close()
		ss.reply(ss.final())
	}
}

func (ss *qsession) retr(arg string) {
	off := ss.rest
	ss.rest = 0
	rp, ok := ss.s.real(ss.abs(arg))
	f, err := os.Open(rp)
	if !ok || err != nil {
		ss.fail(550, "Failed to open file.")
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		ss.fail(550, "Not a plain file.")
		return
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		ss.fail(554, "Invalid REST parameter.")
		return
	}
	ss.download("RETR", f, "BINARY")
}

// stor is STOR (truncating, or writing at the REST offset) and APPE.
func (ss *qsession) stor(verb, arg string) {
	q := &ss.s.q
	off := ss.rest
	ss.rest = 0
	if verb == "APPE" && q.NoAPPE {
		ss.reply("502 Command not implemented.")
		return
	}
	p := ss.abs(arg)
	rp, exists := ss.s.real(p)
	if !exists {
		var dirOK bool
		if rp, dirOK = ss.s.newName(p); !dirOK || !writable(filepath.Dir(rp)) {
			ss.fail(553, "Could not create file.")
			return
		}
	} else if fi, err := os.Lstat(rp); err != nil || fi.IsDir() || !writable(rp) {
		ss.fail(550, "Permission denied.")
		return
	}
	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case verb == "APPE":
		flags |= os.O_APPEND
	case off == 0:
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(rp, flags, 0o644)
	if err != nil {
		ss.fail(553, "Could not create file.")
		return
	}
	defer f.Close()
	if off > 0 && verb == "STOR" {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			ss.fail(554, "Invalid REST parameter.")
			return
		}
	}
	ss.s.mu.Lock()
	ss.s.uploading[rp]++
	ss.s.mu.Unlock()
	defer func() {
		ss.s.mu.Lock()
		ss.s.uploading[rp]--
		ss.s.mu.Unlock()
	}()
	dc, ok := ss.start("BINARY")
	if !ok {
		return
	}
	switch {
	case !ss.failing(verb):
	case q.FailAfter1xx != "":
		ss.reply(q.FailAfter1xx)
		ss.hold(dc)
		return
	case q.MidTransfer != "":
		_, _ = io.CopyN(f, dc, q.MidAfter)
		if tc, ok := dc.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // unread data: a reset, as a server giving up does
		}
		dc.Close()
		ss.reply(q.MidTransfer)
		return
	}
	_, err = io.Copy(f, dc)
	dc.Close()
	if err != nil {
		ss.reply("426 Connection closed; transfer aborted.")
		return
	}
	ss.reply(ss.final())
}
