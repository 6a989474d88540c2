package ftpclient

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxCtlLine bounds one control-channel line: a server sending an endless
// line gets an ErrProtocol instead of our memory.
const maxCtlLine = 64 << 10

// ctlConn is the control connection under our reply reader. Deadlines are
// per reply, not per read: writing a command arms one (CmdTimeout) for the
// whole of its reply, so a server trickling a byte a second never keeps us
// past it; the end of a data connection arms one for the transfer's final
// reply (dataConn.Close); a transfer's final reply has none while its data
// flows (xfer.watch), nor in FXP (its caller's ctx governs it:
// RawConn.ReadReply). Every line written is counted as a command
// (Stats.Commands), lines are traced at Debug with PASS redacted, and any
// I/O error marks the connection broken for good so that the scheduler
// never reuses it.
type ctlConn struct {
	net.Conn // *net.TCPConn or *tls.Conn
	cl       *Client
	id       int64
	timeoutN atomic.Int64 // CmdTimeout, lowered while an early close waits (see timeout)
	broken   atomic.Bool
	soft     atomic.Bool // a read timeout now is expected (waitMore), not a failure
	lineLen  int         // bytes read since the last '\n'
	rx       []byte      // partial received line, for tracing
	trace    bool
	last     atomic.Pointer[string] // the last command sent ("PASV", "SITE CHMOD"), see withCmd
}

// lastCmd is the verb of the last command sent ("SITE CHMOD" for SITE),
// which the next reply answers.
func (c *ctlConn) lastCmd() string {
	if p := c.last.Load(); p != nil {
		return *p
	}
	return ""
}

// verbOf is the command name of a command line: its first word upper-cased,
// with the second for SITE and OPTS.
func verbOf(line []byte) string {
	f := strings.Fields(strings.ToUpper(string(line[:min(len(line), 32)])))
	switch {
	case len(f) == 0:
		return ""
	case len(f) > 1 && (f[0] == "SITE" || f[0] == "OPTS"):
		return f[0] + " " + f[1]
	}
	return f[0]
}

// timeout is the bound of one reply (and of one control write). It is read
// by a data connection's Close while the connection's holder may lower it,
// hence atomic.
func (c *ctlConn) timeout() time.Duration { return time.Duration(c.timeoutN.Load()) }

func (c *ctlConn) setTimeout(d time.Duration) { c.timeoutN.Store(int64(d)) }

// arm starts the deadline of one reply: all of it must have arrived within
// timeout (CmdTimeout) from now, however slowly it trickles in.
func (c *ctlConn) arm() {
	if t := c.timeout(); t > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(t))
	}
}

// unbounded lifts the read deadline, for a transfer's final reply that the
// caller's ctx governs (FXP: the transfer may last hours).
func (c *ctlConn) unbounded() { _ = c.Conn.SetReadDeadline(time.Time{}) }

func (c *ctlConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && !(c.soft.Load() && isTimeout(err)) {
		c.broken.Store(true)
	}
	if err != nil && isTimeout(err) && !c.soft.Load() {
		err = &timeoutError{fmt.Sprintf("no complete reply to %s within %v", c.lastCmd(), c.timeout()), err}
	}
	if n > 0 {
		c.cl.touch()
		if perr := c.account(p[:n]); perr != nil {
			c.broken.Store(true)
			return 0, perr
		}
	}
	return n, err
}

// account enforces maxCtlLine and traces complete lines.
func (c *ctlConn) account(b []byte) error {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		seg := b
		if i >= 0 {
			seg = b[:i]
		}
		c.lineLen += len(seg)
		if c.lineLen > maxCtlLine {
			return errProtocolf("control line longer than %d bytes", maxCtlLine)
		}
		if c.trace && len(c.rx) < 1024 {
			c.rx = append(c.rx, seg[:min(len(seg), 1024-len(c.rx))]...)
		}
		if i < 0 {
			return nil
		}
		if c.trace {
			c.cl.traceLine(c.id, "<", string(bytes.TrimRight(c.rx, "\r")))
			c.rx = c.rx[:0]
		}
		c.lineLen = 0
		b = b[i+1:]
	}
	return nil
}

func (c *ctlConn) Write(p []byte) (int, error) {
	if t := c.timeout(); t > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(t))
	}
	c.arm() // a command: its whole reply is due within timeout
	v := verbOf(p)
	c.last.Store(&v)
	lines := bytes.Count(p, []byte{'\n'})
	c.cl.stats.commands.Add(int64(lines))
	if c.trace {
		for _, l := range bytes.Split(bytes.TrimRight(p, "\r\n"), []byte{'\n'}) {
			c.cl.traceLine(c.id, ">", string(bytes.TrimRight(l, "\r")))
		}
	}
	n, err := c.Conn.Write(p)
	if err != nil {
		c.broken.Store(true)
	}
	return n, err
}

func (c *ctlConn) Close() error {
	c.broken.Store(true)
	return c.Conn.Close()
}

// dataConn is a data connection: a deadline of DataTimeout on Read and
// Write (no progress for that long is an error) and byte counters. It hides
// TCPConn.ReadFrom on purpose so that every byte passes through Read/Write.
//
// The deadline is moved forward at most every rearm (100 ms, less for short
// timeouts) rather than on every call, which costs a runtime timer update
// per socket read: a stall then fails after between timeout-rearm and
// timeout. Reads and writes each come from one goroutine at a time.
type dataConn struct {
	net.Conn
	cl      *Client
	ctl     *ctlConn // its control connection: its end arms the final reply's deadline
	timeout time.Duration
	wrote   atomic.Bool   // an upload: close gracefully
	aborted atomic.Bool   // close with a reset so the server sees a failure
	ended   atomic.Bool   // the final reply ended the transfer (see xfer.watch): reads give EOF
	replied atomic.Bool   // the final reply said the transfer is complete (2xx)
	got     atomic.Int64  // bytes received
	expect  atomic.Int64  // bytes the download is to bring, -1 if unknown
	wake    chan struct{} // Read's signal to endWhenQuiet: every expected byte is in
	last    atomic.Int64  // UnixNano of the last byte moved (or of the start)
	closed  chan struct{}
	once    sync.Once
	rArmed  time.Time // when the read deadline was last set
	wArmed  time.Time // when the write deadline was last set
}

func newDataConn(nc net.Conn, c *Client, ctl *ctlConn) *dataConn {
	d := &dataConn{Conn: nc, cl: c, ctl: ctl, timeout: c.cfg.DataTimeout, closed: make(chan struct{}), wake: make(chan struct{}, 1)}
	d.last.Store(time.Now().UnixNano())
	d.expect.Store(-1)
	return d
}

// rearm is how stale a deadline may get before it is moved forward.
func (d *dataConn) rearm() time.Duration { return min(100*time.Millisecond, d.timeout/4) }

func (d *dataConn) Read(p []byte) (int, error) {
	if d.timeout > 0 {
		if now := time.Now(); now.Sub(d.rArmed) >= d.rearm() {
			_ = d.Conn.SetReadDeadline(now.Add(d.timeout))
			d.rArmed = now
		}
	}
	// After the rearm: endNow's deadline, set after ended, is never undone.
	if d.ended.Load() {
		return 0, io.EOF
	}
	n, err := d.Conn.Read(p)
	if n > 0 {
		d.cl.stats.bytesIn.Add(int64(n))
		d.cl.touch()
		d.last.Store(time.Now().UnixNano())
		if got := d.got.Add(int64(n)); d.replied.Load() && d.whole(got) {
			select { // see complete
			case d.wake <- struct{}{}:
			default:
			}
		}
	}
	if err != nil && d.ended.Load() {
		return n, io.EOF // what the server sent is all there is: its final reply says so
	}
	if err != nil && isTimeout(err) {
		err = &timeoutError{fmt.Sprintf("data connection: nothing received for %v", d.timeout), err}
	}
	return n, err
}

// tailQuiet is how long a download that has every expected byte and its
// 2xx waits for more before it ends without the server closing the data
// connection (see complete).
const tailQuiet = 100 * time.Millisecond

// whole reports whether got bytes are exactly what the download is to
// bring. More than that means the file is not what the caller expected
// (it grew, or was replaced): the download then reads on as one of unknown
// size.
func (d *dataConn) whole(got int64) bool {
	return got == d.expect.Load()
}

// complete is told that the server's final reply says the transfer is
// complete (2xx) while the data connection may still be open, and ends it
// once nothing arrives for a while (endNow: reads give EOF): tailQuiet
// once exactly the expected bytes are in, else grace (a server that never
// closes its data connection). Not at once even with every expected byte
// in: the server sent all its data before its 226, but across two TCP
// connections the last of it may come later, and a file that grew since
// the caller looked brings more than expected, which must not be cut off
// silently at the old size.
func (d *dataConn) complete(grace time.Duration) {
	d.replied.Store(true)
	d.endWhenQuiet(grace)
}

// endNow ends the data connection because the final reply came: reads
// return EOF at once, a blocked write fails.
func (d *dataConn) endNow() {
	d.ended.Store(true)
	_ = d.Conn.SetDeadline(time.Now())
}

// endWhenQuiet ends the data connection (endNow) once nothing arrived on
// it for its quiet window (see complete), unless it is closed first.
func (d *dataConn) endWhenQuiet(grace time.Duration) {
	window := func() time.Duration {
		if d.whole(d.got.Load()) {
			return min(grace, tailQuiet)
		}
		return grace
	}
	t := time.NewTimer(window())
	defer t.Stop()
	for {
		select {
		case <-d.closed:
			return
		case <-d.wake:
		case <-t.C:
		}
		w := window()
		quiet := time.Since(time.Unix(0, d.last.Load()))
		if quiet >= w {
			if w == grace {
				d.cl.log.Info("ftp server ended a transfer without closing its data connection",
					slog.String("server", d.cl.cfg.Name), slog.Duration("quiet", quiet))
			}
			d.endNow()
			return
		}
		t.Reset(w - quiet)
	}
}

func (d *dataConn) Write(p []byte) (int, error) {
	if d.timeout > 0 {
		if now := time.Now(); now.Sub(d.wArmed) >= d.rearm() {
			_ = d.Conn.SetWriteDeadline(now.Add(d.timeout))
			d.wArmed = now
		}
	}
	d.wrote.Store(true)
	n, err := d.Conn.Write(p)
	if n > 0 {
		d.cl.stats.bytesOut.Add(int64(n))
		d.cl.touch()
		d.last.Store(time.Now().UnixNano())
	}
	if err != nil && isTimeout(err) {
		err = &timeoutError{fmt.Sprintf("data connection: nothing sent for %v", d.timeout), err}
	}
	return n, err
}

// timeoutError says which bound expired, in words; it unwraps to the
// network timeout (os.ErrDeadlineExceeded) for errors.Is and isTimeout.
type timeoutError struct {
	what string
	err  error
}

func (e *timeoutError) Error() string { return e.what }
func (e *timeoutError) Unwrap() error { return e.err }

// tcp returns the TCP connection under TLS, if any.
func (d *dataConn) tcp() *net.TCPConn {
	nc := d.Conn
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	tc, _ := nc.(*net.TCPConn)
	return tc
}

// Close ends an upload with a half-close: TLS close_notify and TCP FIN, so
// the server reads to the end. The socket itself stays open until the final
// reply is in (finish, called by the scheduler): closing it now would turn into
// a TCP reset whenever unread bytes are pending (a TLS 1.3 session ticket,
// say), and the server could lose the tail of the upload ("426 Failure
// reading network stream" from vsftpd). Downloads, and aborted uploads,
// close at once.
func (d *dataConn) Close() error {
	d.once.Do(func() { close(d.closed) })
	if d.ctl != nil {
		d.ctl.arm() // the transfer's final reply is due within CmdTimeout of its end
	}
	if d.aborted.Load() {
		if tc := d.tcp(); tc != nil {
			_ = tc.SetLinger(0)
		}
		return d.Conn.Close()
	}
	if !d.wrote.Load() {
		return d.Conn.Close()
	}
	var err error
	if tc, ok := d.Conn.(*tls.Conn); ok {
		err = tc.CloseWrite()
	}
	if tc := d.tcp(); tc != nil {
		if cerr := tc.CloseWrite(); err == nil {
			err = cerr
		}
	} else {
		err = errors.Join(err, d.Conn.Close())
	}
	return err
}

// finish closes the socket for good.
func (d *dataConn) finish() {
	d.once.Do(func() { close(d.closed) })
	_ = d.Conn.Close()
}

// abort makes the next Close a reset, and closes now.
func (d *dataConn) abort() {
	d.aborted.Store(true)
	d.Close()
}

// Handshake completes TLS on an empty upload (servers want one: proftpd
// refuses the transfer otherwise).
func (d *dataConn) Handshake() error {
	d.wrote.Store(true)
	if tc, ok := d.Conn.(*tls.Conn); ok {
		return tc.Handshake()
	}
	return nil
}

// traceLine logs one control line at Debug. PASS arguments never appear.
func (c *Client) traceLine(id int64, dir, line string) {
	if len(line) >= 5 && bytes.EqualFold([]byte(line[:5]), []byte("PASS ")) {
		line = line[:5] + "****"
	}
	c.log.Debug("ftp "+dir+" "+c.redact(line), slog.String("server", c.cfg.Name), slog.Int64("conn", id))
}

// redact removes the password from text that came from the server (in case
// it echoes it) before it goes into a log or an error.
func (c *Client) redact(s string) string {
	if pw := c.cfg.Password.Reveal(); len(pw) >= 4 {
		return string(bytes.ReplaceAll([]byte(s), []byte(pw), []byte("****")))
	}
	return s
}
