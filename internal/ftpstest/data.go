package ftpstest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// acceptWait bounds the wait for a passive data connection.
const acceptWait = 30 * time.Second

// passive opens the listener of the next transfer: PASV, EPSV, or CPSV
// (PASV, and this server is the TLS client of the connection it accepts).
func (ss *session) passive(verb string) {
	ss.closeData()
	if verb != "EPSV" && net.ParseIP(ss.srv.Host).To4() == nil {
		ss.reply("500 %s not available over IPv6: use EPSV", verb)
		return
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ss.srv.Host, "0"))
	if err != nil {
		ss.reply("425 Cannot listen: %v", err)
		return
	}
	ss.pasv, ss.cpsv = l, verb == "CPSV"
	port := l.Addr().(*net.TCPAddr).Port
	if verb == "EPSV" {
		ss.reply("229 Entering Extended Passive Mode (|||%d|)", port)
		return
	}
	ss.reply("227 Entering Passive Mode (%s,%d,%d)", strings.ReplaceAll(ss.srv.Host, ".", ","), port>>8, port&0xff)
}

// active takes PORT or EPRT's address for the next transfer.
func (ss *session) active(verb, arg string) {
	addr, err := parseActive(verb, arg)
	if err != nil {
		ss.reply("501 %v", err)
		return
	}
	ss.closeData()
	ss.port = addr
	ss.reply("200 %s command successful", verb)
}

// closeData forgets the data connection set up for the next transfer.
func (ss *session) closeData() {
	if ss.pasv != nil {
		ss.pasv.Close()
		ss.pasv = nil
	}
	ss.port, ss.cpsv = "", false
}

// role is the TLS role of the next data connection: "clear", "server",
// "client", or "broken" (a broken extension asked for the client role).
func (ss *session) role() string {
	if !ss.secure || ss.prot != 'P' {
		return "clear"
	}
	o := ss.srv.opts
	switch {
	case ss.cpsv && o.CPSV.works(), ss.sscn && o.SSCN.works():
		return "client"
	case ss.cpsv && o.CPSV == ExtBroken, ss.sscn && o.SSCN == ExtBroken:
		return "broken"
	}
	return "server"
}

// Outcomes of session.during.
const (
	ended   = iota // the work ended by itself
	aborted        // ABOR: the work was cut short
	gone           // QUIT, the client went away, or the server closes: end the session
)

// during runs fn while it watches the control connection: ABOR, QUIT, the
// client's going or the server's closing call cut, which must make fn
// return soon.
func (ss *session) during(fn func() error, cut func()) (how int, err error) {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	for {
		select {
		case err := <-done:
			return ended, err
		case line, ok := <-ss.lines:
			if !ok {
				cut()
				<-done
				return gone, nil
			}
			ss.srv.logCmd(ss.id, line)
			switch strings.ToUpper(strings.TrimSpace(line)) {
			case "ABOR":
				cut()
				<-done
				return aborted, nil
			case "QUIT":
				cut()
				<-done
				ss.reply("221 Goodbye")
				return gone, nil
			default:
				ss.reply("503 A transfer is in progress")
			}
		case <-ss.srv.closed:
			cut()
			<-done
			return gone, nil
		}
	}
}

// transfer runs RETR, STOR, APPE or a listing; false ends the session.
func (ss *session) transfer(verb, arg string) bool {
	o := ss.srv.opts
	off := ss.rest
	ss.rest = 0
	listing := verb == "MLSD" || verb == "LIST" || verb == "NLST"
	if listing {
		var keep []string
		for _, f := range strings.Fields(arg) {
			if !strings.HasPrefix(f, "-") {
				keep = append(keep, f)
			}
		}
		arg = strings.Join(keep, " ")
	}
	p := ss.resolve(arg)
	rec := &DataConn{Session: ss.id, Cmd: verb, Path: p, Passive: ss.pasv != nil}
	defer func() {
		ss.closeData()
		ss.srv.logData(*rec)
	}()
	final := func(format string, args ...any) {
		rec.Reply = fmt.Sprintf(format, args...)
		ss.reply("%s", rec.Reply)
	}

	// What the command needs before any data connection. An upload
	// creates (or truncates) its file first, as vsftpd does: a transfer
	// that fails later leaves it behind.
	src, dst, err := ss.open(verb, p, off)
	if err != nil {
		final("%s", err.Error())
		return true
	}
	if f, ok := src.(*os.File); ok {
		defer f.Close()
	}
	if dst != nil {
		defer dst.Close()
	}
	if ss.pasv == nil && ss.port == "" {
		final("425 Use PORT or PASV first")
		return true
	}
	role := ss.role()
	switch {
	case role == "clear" && ss.secure && o.ClearData == ClearRefusedAtTransfer:
		final("522 Data connections must be encrypted.")
		return true
	case role == "broken":
		final("%s", o.BrokenReply)
		return true
	}

	c, cont := ss.connect(final)
	if c == nil {
		return cont
	}
	defer ss.srv.untrack(c)
	rec.Peer, _, _ = net.SplitHostPort(c.RemoteAddr().String())
	ss.reply("150 Opening BINARY mode data connection for %s", p)

	dc, how, err := ss.protect(c, role, rec)
	switch {
	case how == aborted:
		final("426 Transfer aborted")
		ss.reply("226 ABOR command successful")
		return true
	case how == gone:
		return false
	case err != nil:
		final("%s", err.Error())
		return true
	}

	var n atomic.Int64
	limit := int64(0)
	if role == "client" {
		limit = o.BreakAfter
	}
	how, err = ss.during(func() error {
		if dst != nil {
			err := ss.receive(dc, c, dst, limit, &n)
			if err != nil && err != errCut && o.LaxEnd {
				return nil
			}
			return err
		}
		return ss.send(dc, c, src, role == "client", limit, &n)
	}, func() { c.Close() })
	rec.Bytes = n.Load()
	switch {
	case how == aborted:
		final("426 Transfer aborted")
		ss.reply("226 ABOR command successful")
	case how == gone:
		return false
	case err != nil:
		final("426 Transfer failed: %v", err)
	default:
		final("226 Transfer complete")
	}
	return true
}

// open prepares what a transfer reads (a file, or a listing) or writes;
// an error is the reply refusing it.
func (ss *session) open(verb, p string, off int64) (src io.Reader, dst *os.File, err error) {
	fp := ss.srv.Path(p)
	switch verb {
	case "RETR":
		f, err := os.Open(fp)
		if err != nil {
			return nil, nil, fmt.Errorf("550 %s: No such file", p)
		}
		if fi, err := f.Stat(); err != nil || fi.IsDir() {
			f.Close()
			return nil, nil, fmt.Errorf("550 %s: Not a plain file", p)
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("550 %s: cannot seek", p)
		}
		return f, nil, nil
	case "STOR", "APPE":
		flags := os.O_WRONLY | os.O_CREATE
		switch {
		case verb == "APPE":
			flags |= os.O_APPEND
		case off == 0:
			flags |= os.O_TRUNC
		}
		f, err := os.OpenFile(fp, flags, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("553 %s: cannot create", p)
		}
		if verb == "STOR" && off > 0 {
			if f.Truncate(off) != nil {
				f.Close()
				return nil, nil, fmt.Errorf("553 %s: cannot restart", p)
			}
			_, _ = f.Seek(off, io.SeekStart)
		}
		return nil, f, nil
	}
	lines, err := listing(fp, verb == "MLSD")
	if err != nil {
		return nil, nil, fmt.Errorf("550 %s: No such directory", p)
	}
	var b bytes.Buffer
	for _, l := range lines {
		if verb == "NLST" {
			l = l[strings.LastIndex(l, " ")+1:]
		}
		b.WriteString(l + "\r\n")
	}
	return &b, nil, nil
}

// connect makes the data connection: opened to the PORT address (from the
// server's own address), or accepted on the passive listener while the
// control connection is watched. nil and the session's fate when none came
// about (the reply is sent).
func (ss *session) connect(final func(string, ...any)) (net.Conn, bool) {
	if ss.port != "" {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ss.srv.Host)}}
		addr := ss.port
		ss.port = ""
		c, err := d.Dial("tcp", addr)
		if err != nil {
			final("425 Cannot open data connection to %s", addr)
			return nil, true
		}
		if !ss.srv.track(c) {
			return nil, false
		}
		return c, true
	}
	l := ss.pasv.(*net.TCPListener)
	_ = l.SetDeadline(time.Now().Add(acceptWait))
	var c net.Conn
	how, err := ss.during(func() error {
		var err error
		c, err = l.Accept()
		return err
	}, func() { l.Close() })
	switch {
	case how == aborted:
		final("426 Data connection aborted")
		ss.reply("226 ABOR command successful")
		return nil, true
	case how == gone:
		return nil, false
	case err != nil:
		final("425 No data connection within %v", acceptWait)
		return nil, true
	}
	if !ss.srv.track(c) {
		return nil, false
	}
	return c, true
}

// protect sets up the data connection's TLS in the role given, within
// HandshakeTimeout; an error is the reply refusing the transfer.
func (ss *session) protect(c net.Conn, role string, rec *DataConn) (net.Conn, int, error) {
	o := ss.srv.opts
	rec.TLS = role
	if role == "clear" {
		return c, ended, nil
	}
	var tc *tls.Conn
	if role == "server" {
		tc = tls.Server(c, ss.tlsCfg)
	} else {
		tc = tls.Client(c, &tls.Config{
			Certificates:       []tls.Certificate{ss.srv.cert},
			ServerName:         rec.Peer,
			RootCAs:            ss.srv.roots,
			InsecureSkipVerify: !o.VerifyPeer, //nolint:gosec // a test switch (Options.VerifyPeer)
			MinVersion:         tls.VersionTLS12,
			MaxVersion:         ss.srv.maxTLS(),
		})
	}
	_ = c.SetDeadline(time.Now().Add(o.HandshakeTimeout))
	how, err := ss.during(tc.Handshake, func() { c.Close() })
	if how != ended {
		return nil, how, nil
	}
	if err != nil {
		return nil, ended, fmt.Errorf("425 Unable to build data connection: TLS handshake as %s failed: %v", role, oneLine(err))
	}
	_ = c.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	rec.Resumed, rec.Verified = st.DidResume, role == "client" && o.VerifyPeer
	if role == "server" && o.RequireReuse && !st.DidResume {
		tc.Close()
		return nil, ended, errors.New("522 SSL connection failed: session reuse required")
	}
	return tc, ended, nil
}

func oneLine(err error) string {
	return strings.ReplaceAll(strings.ReplaceAll(err.Error(), "\r", " "), "\n", " ")
}

// errCut is a data connection cut on purpose (Options.BreakAfter).
var errCut = errors.New("TLS data connection cut by the test server (BreakAfter)")

// send writes src to the data connection dc (over the TCP connection c),
// then ends it: close_notify and FIN, and as TLS client, reads until the
// peer closes, so that its unread session tickets do not turn the close
// into a reset that could cost the peer the tail of the data.
func (ss *session) send(dc, c net.Conn, src io.Reader, tlsClient bool, limit int64, n *atomic.Int64) error {
	buf := make([]byte, 32<<10)
	for {
		k, rerr := src.Read(buf)
		if k > 0 {
			chunk := buf[:k]
			if limit > 0 && n.Load()+int64(k) >= limit {
				chunk = chunk[:limit-n.Load()]
				_, _ = dc.Write(chunk)
				n.Add(int64(len(chunk)))
				c.Close()
				return errCut
			}
			if _, err := dc.Write(chunk); err != nil {
				return err
			}
			n.Add(int64(k))
			ss.pace(k)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if tc, ok := dc.(*tls.Conn); ok {
		if err := tc.CloseWrite(); err != nil {
			return err
		}
		if tlsClient && ss.srv.opts.ResetOnClose {
			// crypto/tls reads the tickets with the handshake: a reset
			// must be asked for.
			if tcp, ok := c.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0)
			}
			c.Close()
			return nil
		}
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.CloseWrite()
	}
	if tlsClient {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(io.Discard, dc)
	}
	return nil
}

// receive writes what comes on dc into dst until the sender ends (for TLS,
// with close_notify: a connection that just stops is truncated).
func (ss *session) receive(dc, c net.Conn, dst io.Writer, limit int64, n *atomic.Int64) error {
	buf := make([]byte, 32<<10)
	for {
		k, err := dc.Read(buf)
		if k > 0 {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return werr
			}
			n.Add(int64(k))
			ss.pace(k)
			if limit > 0 && n.Load() >= limit {
				c.Close()
				return errCut
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// pace sleeps as Options.Rate requires after k bytes.
func (ss *session) pace(k int) {
	if r := ss.srv.opts.Rate; r > 0 {
		time.Sleep(time.Duration(float64(k) / float64(r) * float64(time.Second)))
	}
}

// parseActive decodes a PORT or EPRT argument into "ip:port".
func parseActive(verb, arg string) (string, error) {
	if verb == "EPRT" {
		if len(arg) < 2 {
			return "", errors.New("bad EPRT argument")
		}
		parts := strings.Split(arg, arg[:1])
		if len(parts) != 5 || net.ParseIP(parts[2]) == nil {
			return "", errors.New("bad EPRT argument")
		}
		return net.JoinHostPort(parts[2], parts[3]), nil
	}
	f := strings.Split(arg, ",")
	if len(f) != 6 {
		return "", errors.New("bad PORT argument")
	}
	hi, err1 := strconv.Atoi(f[4])
	lo, err2 := strconv.Atoi(f[5])
	ip := net.ParseIP(strings.Join(f[:4], "."))
	if err1 != nil || err2 != nil || ip == nil {
		return "", errors.New("bad PORT argument")
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(hi<<8|lo)), nil
}

// maxTLS is the newest TLS version offered (0: crypto/tls's newest).
func (s *Server) maxTLS() uint16 {
	if s.opts.TLS12 {
		return tls.VersionTLS12
	}
	return 0
}
