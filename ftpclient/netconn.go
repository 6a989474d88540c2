package ftpclient

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"net"
	"sync/atomic"
	"time"
)

// maxCtlLine bounds one control-channel line as read by anyone (our reply
// reader and jlaffaye's textproto): a server sending an endless line gets an
// ErrProtocol instead of our memory.
const maxCtlLine = 64 << 10

// ctlConn is the control connection under both our reply reader and
// jlaffaye's ServerConn. Every Read and Write gets a fresh deadline
// (CmdTimeout), every line written is counted as a command (Stats.Commands,
// so jlaffaye's commands count too), lines are traced at Debug with PASS
// redacted, and any I/O error marks the connection broken for good so that
// the pool never reuses it.
type ctlConn struct {
	net.Conn // *net.TCPConn or *tls.Conn
	cl       *Client
	id       int64
	timeout  time.Duration
	replay   []byte // a synthetic greeting for jlaffaye's Dial (see conn.ftp)
	broken   atomic.Bool
	lineLen  int    // bytes read since the last '\n'
	rx       []byte // partial received line, for tracing
	trace    bool
}

func (c *ctlConn) Read(p []byte) (int, error) {
	if len(c.replay) > 0 {
		n := copy(p, c.replay)
		c.replay = c.replay[n:]
		return n, nil
	}
	if c.timeout > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	}
	n, err := c.Conn.Read(p)
	if err != nil {
		c.broken.Store(true)
	}
	if n > 0 {
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
	if c.timeout > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	}
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

// dataConn is a data connection: a deadline of DataTimeout on every Read and
// Write (no progress for that long is an error) and byte counters. It hides
// TCPConn.ReadFrom on purpose so that every byte passes through Read/Write.
type dataConn struct {
	net.Conn
	cl      *Client
	timeout time.Duration
}

func (d *dataConn) Read(p []byte) (int, error) {
	if d.timeout > 0 {
		_ = d.Conn.SetReadDeadline(time.Now().Add(d.timeout))
	}
	n, err := d.Conn.Read(p)
	d.cl.stats.bytesIn.Add(int64(n))
	return n, err
}

func (d *dataConn) Write(p []byte) (int, error) {
	if d.timeout > 0 {
		_ = d.Conn.SetWriteDeadline(time.Now().Add(d.timeout))
	}
	n, err := d.Conn.Write(p)
	d.cl.stats.bytesOut.Add(int64(n))
	return n, err
}

// Handshake lets jlaffaye complete TLS on an empty upload (StorFrom looks for it).
func (d *dataConn) Handshake() error {
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
