package ftpclient

import (
	"context"
	"net"
	"syscall"
	"time"
)

// alive checks an idle connection before reuse. A zero-cost peek at the
// socket finds connections the server closed (EOF) or wrote to while idle
// (a "421 timeout" notice, or stray replies: out of sync); a NOOP is sent
// only after a long idle time, after an early-closed transfer, or when TLS
// records are pending (session tickets look like data to the peek).
func (cn *conn) alive(ctx context.Context, keepaliveAfter time.Duration) bool {
	if cn.br.Buffered() > 0 || cn.ctl.broken.Load() {
		return false
	}
	needSync := cn.suspect || time.Since(cn.idleSince) >= keepaliveAfter
	switch peekSocket(cn.tcp) {
	case peekEOF:
		return false
	case peekData:
		if cn.cl.cfg.TLS == TLSNone {
			return false
		}
		needSync = true
	}
	if needSync {
		stop := cn.bind(ctx)
		err := cn.sync()
		if !stop() || err != nil {
			return false
		}
		cn.suspect = false
	}
	return true
}

type peekResult int

const (
	peekEmpty peekResult = iota // open, nothing pending
	peekData                    // bytes are waiting
	peekEOF                     // closed by the peer, or unusable
)

// peekSocket looks at a TCP socket without consuming or blocking
// (recv MSG_PEEK|MSG_DONTWAIT).
func peekSocket(tc *net.TCPConn) peekResult {
	if tc == nil {
		return peekEmpty
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return peekEOF
	}
	res := peekEmpty
	var buf [1]byte
	cerr := rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
			res = peekEmpty
		case err != nil || n == 0:
			res = peekEOF
		default:
			res = peekData
		}
		return true // never wait for readiness
	})
	if cerr != nil {
		return peekEOF
	}
	return res
}

// waitMore reports whether more bytes arrive on the control connection
// within d (without consuming them).
func (cn *conn) waitMore(d time.Duration) bool {
	if cn.br.Buffered() > 0 {
		return true
	}
	cn.ctl.soft.Store(true)
	_ = cn.ctl.SetReadDeadline(time.Now().Add(d))
	_, err := cn.br.Peek(1)
	cn.ctl.soft.Store(false)
	cn.ctl.arm() // what arrived is a reply: due like any other
	return err == nil
}

// sync sends NOOP and reads replies until its own, swallowing the replies
// of an aborted transfer (426, then 226 or 225) and any stray one.
func (cn *conn) sync() error {
	if _, err := cn.ctl.Write([]byte("NOOP\r\n")); err != nil {
		return err
	}
	for i := 0; i < 6; i++ {
		r, err := cn.readReply()
		if err != nil {
			return err
		}
		if r.Code == 200 && cn.br.Buffered() == 0 {
			return nil
		}
	}
	return errProtocolf("no reply to NOOP")
}
