package ftpclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"
)

// conn is one logged-in control connection, as the scheduler (sched.go) keeps it.
//
// The control channel is our own (net/textproto-style replies read by
// readReply), not jlaffaye/ftp's: FXP needs raw PASV/PORT/RETR/STOR split
// across two servers, listings must log and skip lines a parser cannot
// read (jlaffaye drops them silently and fails on lines over 64 KiB), and
// transfers must cope with servers jlaffaye does not (see xfer.go). A
// connection whose state we cannot vouch for (I/O error, transfer in
// flight, bytes nobody asked for) is destroyed, never kept idle for reuse.
type conn struct {
	cl  *Client
	id  int64
	ctl *ctlConn
	tcp *net.TCPConn // under ctl (and TLS), for peekSocket
	br  *bufio.Reader

	sessions *sessionStore // TLS sessions of ctl, resumed by its data connections

	idleSince time.Time
	transfer  bool // a transfer is in flight: a final reply is outstanding
	dirty     bool // a state-changing raw command (PROT, CWD, TYPE A, ...) was sent
	pending   bool // a REST or RNFR was accepted and not yet consumed
	suspect   bool // a transfer ended early: check for stray replies before reuse
	protClear bool // PROT C is in force (FXP): not kept idle until PROT P restores it
	sscnOn    bool // SSCN ON is in force (FXP): not kept idle until SSCN OFF restores it

	mu    sync.Mutex
	data  *dataConn       // open data connection, reset on interrupt
	opCtx context.Context // ctx of the operation running, for data dials
}

// Reply is one complete server reply.
type Reply struct {
	Code int
	Msg  string // all lines joined with "\n", codes stripped from continuation lines
}

// maxReplyLines bounds a multi-line reply.
const maxReplyLines = 10000

// readLine reads one line, without its CRLF. A line cut short by an error
// (a timeout, a hang-up) is an error, never a line: bufio's ReadLine would
// return the fragment as if it were complete.
func (cn *conn) readLine() (string, error) {
	var buf []byte
	for {
		b, err := cn.br.ReadSlice('\n')
		buf = append(buf, b...)
		if len(buf) > maxCtlLine {
			cn.ctl.broken.Store(true)
			return "", errProtocolf("control line longer than %d bytes", maxCtlLine)
		}
		switch {
		case err == nil:
			buf = buf[:len(buf)-1]
			if n := len(buf); n > 0 && buf[n-1] == '\r' {
				buf = buf[:n-1]
			}
			return string(buf), nil
		case errors.Is(err, bufio.ErrBufferFull):
		default:
			if len(buf) > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
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

// bind makes ctx govern the connection until the returned stop is called:
// when ctx is done the control and data connections are closed, which
// interrupts whatever we are blocked in. stop reports whether
// the connection survived.
func (cn *conn) bind(ctx context.Context) (stop func() bool) {
	cn.mu.Lock()
	cn.opCtx = ctx
	cn.mu.Unlock()
	closed := make(chan struct{})
	unhook := context.AfterFunc(ctx, func() {
		defer close(closed)
		cn.ctl.Close()
		cn.abortData()
	})
	return func() bool {
		ok := unhook()
		if !ok {
			// ctx ended: wait until the connection is closed (and marked
			// broken), or an operation that had just succeeded could give
			// it back as reusable, closed a moment later (the FXP progress
			// poll, stopped as its SIZE returns).
			<-closed
		}
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
	cn.abortData()
}

// abortData resets the open data connection, if any.
func (cn *conn) abortData() {
	cn.mu.Lock()
	dc := cn.data
	cn.mu.Unlock()
	if dc != nil {
		dc.abort()
	}
}

// reusable says whether the connection may go back to the idle list after an
// operation that ended with err.
func (cn *conn) reusable(err error) bool {
	if cn.ctl.broken.Load() || cn.transfer || cn.dirty || cn.pending || cn.protClear || cn.sscnOn {
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
