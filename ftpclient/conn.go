package ftpclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jlaffaye/ftp"
)

// conn is one logged-in control connection, as pooled.
//
// Why our own control channel next to jlaffaye's: jlaffaye/ftp exports no way
// to send a raw command (FXP needs PASV/PORT/RETR/STOR split across two
// servers), and its List parses and silently drops lines it does not
// understand (and fails on lines over 64 KiB), which we must log and skip.
// So both share one TCP/TLS connection (ctl): our bufio reader (br) and
// jlaffaye's textproto reader take turns. Between two operations every reply
// has been read completely, so neither reader holds buffered bytes and the
// hand-over is safe; a connection whose state we cannot vouch for (I/O
// error, transfer in flight, stray bytes) is destroyed, never pooled.
type conn struct {
	cl  *Client
	id  int64
	ctl *ctlConn
	tcp *net.TCPConn // under ctl (and TLS), for peekSocket
	br  *bufio.Reader
	sc  *ftp.ServerConn // created on first use (transfers, simple commands)

	idleSince time.Time
	transfer  bool // a transfer is in flight: a final reply is outstanding
	dirty     bool // a state-changing raw command (REST, RNFR, ...) was sent
	suspect   bool // a transfer ended early: check for stray replies before reuse

	mu    sync.Mutex
	data  net.Conn        // open data connection, closed on interrupt
	opCtx context.Context // ctx of the operation running, for data dials
}

// Reply is one complete server reply.
type Reply struct {
	Code int
	Msg  string // all lines joined with "\n", codes stripped from continuation lines
}

// maxReplyLines bounds a multi-line reply.
const maxReplyLines = 10000

func (cn *conn) readLine() (string, error) {
	var buf []byte
	for {
		b, isPrefix, err := cn.br.ReadLine()
		if err != nil {
			return "", err
		}
		buf = append(buf, b...)
		if len(buf) > maxCtlLine {
			cn.ctl.broken.Store(true)
			return "", errProtocolf("control line longer than %d bytes", maxCtlLine)
		}
		if !isPrefix {
			return string(buf), nil
		}
	}
}

// readReply reads one reply, single or multi-line (RFC 959 4.2).
func (cn *conn) readReply() (Reply, error) {
	line, err := cn.readLine()
	if err != nil {
		return Reply{}, err
	}
	code, sep, ok := splitReply(line)
	if !ok {
		cn.ctl.broken.Store(true)
		return Reply{}, errProtocolf("malformed reply %q", truncate(line, 80))
	}
	r := Reply{Code: code, Msg: strings.TrimPrefix(line[3:], string(sep))}
	if sep != '-' {
		return r, nil
	}
	lines := []string{r.Msg}
	prefix := line[:3]
	for n := 0; ; n++ {
		if n > maxReplyLines {
			cn.ctl.broken.Store(true)
			return Reply{}, errProtocolf("reply of more than %d lines", maxReplyLines)
		}
		l, err := cn.readLine()
		if err != nil {
			return Reply{}, err
		}
		if strings.HasPrefix(l, prefix+" ") || l == prefix {
			lines = append(lines, strings.TrimPrefix(l[3:], " "))
			break
		}
		lines = append(lines, strings.TrimPrefix(l, prefix+"-"))
	}
	r.Msg = strings.Join(lines, "\n")
	return r, nil
}

// splitReply parses "ddd text", "ddd-text" or "ddd".
func splitReply(line string) (code int, sep byte, ok bool) {
	if len(line) < 3 {
		return 0, 0, false
	}
	code, err := strconv.Atoi(line[:3])
	if err != nil || code < 100 || code > 599 || line[0] == '+' || line[0] == '-' {
		return 0, 0, false
	}
	if len(line) == 3 {
		return code, ' ', true
	}
	if line[3] != ' ' && line[3] != '-' {
		return 0, 0, false
	}
	return code, line[3], true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// cmd sends one command line and reads its reply. The formatted line is
// checked for CR, LF and NUL before anything is written.
func (cn *conn) cmd(format string, args ...any) (Reply, error) {
	line := fmt.Sprintf(format, args...)
	if err := checkArg(line); err != nil {
		return Reply{}, err
	}
	if _, err := cn.ctl.Write([]byte(line + "\r\n")); err != nil {
		return Reply{}, err
	}
	return cn.readReply()
}

// expect turns a reply with an unexpected code into a *textproto.Error.
func expect(r Reply, codes ...int) error {
	for _, c := range codes {
		if r.Code == c {
			return nil
		}
	}
	return &textproto.Error{Code: r.Code, Msg: r.Msg}
}

// cmdExpect is cmd + expect.
func (cn *conn) cmdExpect(codes []int, format string, args ...any) (Reply, error) {
	r, err := cn.cmd(format, args...)
	if err != nil {
		return r, err
	}
	return r, expect(r, codes...)
}

// ftp returns the jlaffaye ServerConn sharing this control connection. It is
// made without network traffic: Dial reads a replayed greeting, and we never
// call its Login (we logged in ourselves and know the features).
func (cn *conn) ftp() (*ftp.ServerConn, error) {
	if cn.sc != nil {
		return cn.sc, nil
	}
	handed := false
	dial := func(network, addr string) (net.Conn, error) {
		if !handed {
			handed = true
			return cn.ctl, nil
		}
		return cn.dialData(addr)
	}
	cn.ctl.replay = []byte("220 fxpfs\r\n")
	sc, err := ftp.Dial(cn.ctl.RemoteAddr().String(),
		ftp.DialWithDialFunc(dial),
		ftp.DialWithDisabledEPSV(cn.cl.cfg.DisableEPSV || cn.cl.epsvBroken.Load()),
		ftp.DialWithLocation(time.UTC),
	)
	cn.ctl.replay = nil
	if err != nil {
		return nil, fmt.Errorf("attaching jlaffaye/ftp: %w", err)
	}
	cn.sc = sc
	return sc, nil
}

// bind makes ctx govern the connection until the returned stop is called:
// when ctx is done the control and data connections are closed, which
// interrupts whatever jlaffaye or we are blocked in. stop reports whether
// the connection survived.
func (cn *conn) bind(ctx context.Context) (stop func() bool) {
	cn.mu.Lock()
	cn.opCtx = ctx
	cn.mu.Unlock()
	unhook := context.AfterFunc(ctx, func() {
		cn.ctl.Close()
		cn.mu.Lock()
		if cn.data != nil {
			cn.data.Close()
		}
		cn.mu.Unlock()
	})
	return func() bool {
		ok := unhook()
		cn.mu.Lock()
		cn.opCtx = nil
		cn.mu.Unlock()
		return ok
	}
}

// close destroys the connection (no QUIT: it would count as a command and
// the server cleans up after a closed socket anyway).
func (cn *conn) close() {
	cn.ctl.Close()
	cn.mu.Lock()
	if cn.data != nil {
		cn.data.Close()
	}
	cn.mu.Unlock()
}

// reusable says whether the connection may go back to the pool after an
// operation that ended with err.
func (cn *conn) reusable(err error) bool {
	if cn.ctl.broken.Load() || cn.transfer || cn.dirty {
		return false
	}
	if cn.br.Buffered() > 0 {
		return false // stray bytes: out of sync
	}
	if err == nil {
		return true
	}
	if errors.Is(err, ErrBadName) {
		return true // rejected before anything was sent
	}
	code := replyCode(err)
	if code < 200 || code == 421 || isNetErr(err) || errors.Is(err, ErrProtocol) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe textproto.ProtocolError
	return !errors.As(err, &pe)
}

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

// sync sends NOOP and reads replies until its own, swallowing a stray final
// reply left by a transfer that ended early (some servers send 426 and 226).
func (cn *conn) sync() error {
	if _, err := cn.ctl.Write([]byte("NOOP\r\n")); err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
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
