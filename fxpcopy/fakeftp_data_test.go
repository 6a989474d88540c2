package fxpcopy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The data connections of fakeFTP (fakeftp_test.go): transfers and their
// misbehaviours.

// earlyConn is a data connection accepted at once by an asynchronous
// server (pyftpdlib): its first bytes (or its end) are read as soon as they
// come; if they come before a transfer command, the connection is dropped.
type earlyConn struct {
	net.Conn
	ready   chan struct{} // the first read returned
	first   []byte
	err     error
	dropped bool
}

func (c *earlyConn) Read(p []byte) (int, error) {
	<-c.ready
	if len(c.first) > 0 {
		n := copy(p, c.first)
		c.first = c.first[n:]
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(p)
}

// acceptEarly accepts at once and stops listening (one connection per
// PASV), then watches the connection for data arriving before a transfer
// command: pyftpdlib drops such a connection.
func (s *fakeSession) acceptEarly(l net.Listener, out chan<- *earlyConn) {
	c, err := l.Accept()
	l.Close()
	if err != nil {
		return
	}
	ec := &earlyConn{Conn: c, ready: make(chan struct{})}
	out <- ec
	buf := make([]byte, 32<<10)
	n, rerr := c.Read(buf)
	s.mu.Lock()
	ec.first, ec.err = buf[:n], rerr
	if !s.cmdPending {
		ec.dropped = true
		c.Close()
		s.f.mu.Lock()
		s.f.dropped++
		s.f.mu.Unlock()
	}
	s.mu.Unlock()
	close(ec.ready)
}

// setPending marks a transfer command as received (before its 150 goes out,
// as pyftpdlib queues the transfer in the same step).
func (s *fakeSession) setPending() {
	s.mu.Lock()
	s.cmdPending = true
	s.mu.Unlock()
}

// takeEarly returns the early connection for the command received (see
// setPending), or nil when it was dropped (or none came before idleTimeout).
func (s *fakeSession) takeEarly(upload bool) *earlyConn {
	defer func() {
		s.mu.Lock()
		s.cmdPending = false
		s.mu.Unlock()
	}()
	var ec *earlyConn
	select {
	case ec = <-s.early:
	case <-time.After(s.f.idleTimeout):
		return nil
	case <-s.f.closed:
		return nil
	}
	s.early = nil
	if upload {
		<-ec.ready
		s.mu.Lock()
		dropped := ec.dropped
		s.mu.Unlock()
		if dropped {
			return nil
		}
	}
	return ec
}

// dataConn gets the data connection for a listing (no misbehaviour).
func (s *fakeSession) dataConn() net.Conn {
	switch {
	case s.port != "":
		c, err := s.dialActive()
		if err != nil {
			s.reply("425 cannot connect")
			return nil
		}
		return c
	case s.early != nil:
		s.setPending()
		if c := s.takeEarly(false); c != nil {
			return c
		}
		s.reply("425 no connection")
		return nil
	case s.pasvConn != nil:
		c := s.pasvConn
		s.pasvConn = nil
		return c
	case s.pasv != nil:
		l := s.pasv.(*net.TCPListener)
		_ = l.SetDeadline(time.Now().Add(5 * time.Second))
		c, err := l.Accept()
		s.closeData()
		if err != nil {
			s.reply("425 no connection")
			return nil
		}
		return c
	}
	s.reply("425 use PASV or PORT first")
	return nil
}

// transfer runs RETR/STOR/APPE with the session's misbehaviours.
func (s *fakeSession) transfer(verb, p string) bool {
	f := s.f
	if f.transferLag > 0 {
		time.Sleep(f.transferLag)
	}
	off := s.rest
	s.rest = 0
	f.mu.Lock()
	ff, exists := f.files[p]
	f.mu.Unlock()
	if verb == "RETR" && !exists {
		s.reply("550 %s: no such file", p)
		return true
	}
	if verb != "RETR" && f.storReply != nil {
		if r := f.storReply(p); r != "" {
			s.reply("%s", r)
			return true
		}
	}
	if verb != "RETR" {
		f.mu.Lock()
		ff = f.files[p]
		if ff == nil {
			ff = &fakeFile{mtime: time.Now()}
			f.files[p] = ff
		}
		switch {
		case verb == "APPE":
		case int64(len(ff.data)) > off:
			ff.data = ff.data[:off]
		}
		ff.writers++
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			ff.writers--
			f.mu.Unlock()
		}()
	}

	var dc net.Conn
	active := s.port != ""
	switch {
	case active:
		c, err := s.dialActive()
		if err != nil {
			s.reply("425 cannot open data connection: %v", err)
			return true
		}
		dc = c
		s.reply("150 opening data connection")
	case s.early != nil:
		s.setPending()
		s.reply("150 about to open data connection")
		c := s.takeEarly(verb != "RETR")
		if c == nil {
			// Its data came before the command: dropped, and nothing
			// listens any more. The command is never answered.
			return s.waitForever()
		}
		dc = c
	case s.pasvConn != nil:
		dc, s.pasvConn = s.pasvConn, nil
		s.reply("150 data connection already open")
	case s.pasv != nil:
		c, ok := s.acceptPassive()
		if !ok {
			return false
		}
		dc = c
		s.reply("150 accepted data connection")
	default:
		s.reply("425 use PASV or PORT first")
		return true
	}
	defer dc.Close()

	// Move the data in the background; the control connection is watched
	// for ABOR meanwhile.
	done := make(chan error, 1)
	stopData := make(chan struct{})
	endData := sync.OnceFunc(func() { close(stopData) })
	defer endData()
	var n atomic.Int64
	go func() {
		if verb == "RETR" {
			f.mu.Lock()
			data := append([]byte(nil), ff.data[min(off, int64(len(ff.data))):]...)
			f.mu.Unlock()
			stall := f.stallAfter > 0 && int64(len(data)) > f.stallAfter
			if stall {
				data = data[:f.stallAfter]
			}
			err := s.pace(data, func(b []byte) error { _, err := dc.Write(b); n.Add(int64(len(b))); return err })
			if err == nil && (stall || active && f.neverEndActive) {
				// Every byte sent; the transfer never ends.
				select {
				case <-stopData:
				case <-f.closed:
				}
				err = errors.New("stopped")
			}
			done <- err
			return
		}
		buf := make([]byte, 32<<10)
		for {
			k, err := dc.Read(buf)
			if k > 0 {
				f.mu.Lock()
				ff.data = append(ff.data, buf[:k]...)
				f.mu.Unlock()
				n.Add(int64(k))
			}
			if err == io.EOF {
				done <- nil
				return
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	for {
		select {
		case err := <-done:
			if verb != "RETR" && f.storFinal != nil {
				if r := f.storFinal(p, n.Load()); r != "" {
					s.reply("%s", r)
					return true
				}
			}
			if err != nil {
				s.reply("426 transfer failed: %v", err)
			} else {
				s.reply("226 transfer complete")
			}
			return true
		case line, ok := <-s.lines:
			if (!ok || strings.EqualFold(line, "ABOR")) && verb != "RETR" && f.stopLag > 0 {
				time.Sleep(f.stopLag) // the upload goes on meanwhile
			}
			if !ok {
				return false
			}
			f.mu.Lock()
			f.cmds = append(f.cmds, fmt.Sprintf("%d %s", s.id, line))
			f.mu.Unlock()
			if strings.EqualFold(line, "ABOR") {
				dc.Close()
				endData()
				<-done
				s.reply("426 transfer aborted")
				s.reply("226 ABOR successful")
				return true
			}
			if strings.EqualFold(line, "QUIT") {
				dc.Close()
				endData()
				<-done
				s.reply("221 bye")
				return false
			}
			s.reply("500 not now")
		case <-f.closed:
			return false
		}
	}
}

// dialActive connects to the PORT address from the server's own address,
// as real servers do.
func (s *fakeSession) dialActive() (net.Conn, error) {
	if c := s.portConn; c != nil {
		s.port, s.portConn = "", nil
		return c, nil
	}
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(s.f.ip)}}
	addr := s.port
	s.port = ""
	return d.Dial("tcp4", addr)
}

// pace writes data in chunks at the server's rate.
func (s *fakeSession) pace(data []byte, write func([]byte) error) error {
	const chunk = 32 << 10
	for len(data) > 0 {
		k := min(chunk, len(data))
		if err := write(data[:k]); err != nil {
			return err
		}
		data = data[k:]
		if r := s.f.rate; r > 0 {
			time.Sleep(time.Duration(float64(k) / float64(r) * float64(time.Second)))
		}
	}
	return nil
}

// acceptPassive waits for the data connection in the transfer command, as
// vsftpd and pure-ftpd do. With refuseForeign a connection from another
// address is dropped and the wait goes on, without reading the control
// connection: only its reset (or idleTimeout) ends it (pure-ftpd).
func (s *fakeSession) acceptPassive() (net.Conn, bool) {
	f := s.f
	l := s.pasv.(*net.TCPListener)
	defer s.closeData()
	type acc struct {
		c   net.Conn
		err error
	}
	accepted := make(chan acc, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				accepted <- acc{nil, err}
				return
			}
			if h, _, _ := net.SplitHostPort(c.RemoteAddr().String()); f.refuseForeign && h != s.peerIP() {
				c.Close()
				f.mu.Lock()
				f.dropped++
				f.mu.Unlock()
				continue
			}
			accepted <- acc{c, nil}
			return
		}
	}()
	idle := time.After(f.idleTimeout)
	for {
		select {
		case a := <-accepted:
			if a.err != nil {
				s.reply("425 no data connection")
				return nil, true
			}
			return a.c, true
		case err := <-s.gone:
			if errors.Is(err, syscall.ECONNRESET) {
				return nil, false // a reset: the session dies at once
			}
			// An orderly close goes unnoticed while waiting in accept.
		case <-idle:
			return nil, false
		case <-f.closed:
			return nil, false
		}
	}
}

// waitForever is a session whose transfer command will never be answered
// (pyftpdlib after dropping an early data connection): it answers ABOR with
// 225 and ends when the client goes away.
func (s *fakeSession) waitForever() bool {
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				return false
			}
			s.f.mu.Lock()
			s.f.cmds = append(s.f.cmds, fmt.Sprintf("%d %s", s.id, line))
			s.f.mu.Unlock()
			switch strings.ToUpper(line) {
			case "QUIT":
				s.reply("221 bye")
				return false
			case "ABOR":
				s.reply("225 no transfer to abort")
			default:
				s.reply("500 transfer pending")
			}
		case <-time.After(s.f.idleTimeout):
			return false
		case <-s.f.closed:
			return false
		}
	}
}
