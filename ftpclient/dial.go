package ftpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"syscall"
	"time"
)

// dialError is a failure while opening a control connection, with the phase
// it happened in, so the pool can tell "server full" from "server down".
type dialError struct {
	phase string // "connect", "greeting", "tls", "login", "setup"
	err   error
}

func (e *dialError) Error() string { return e.phase + ": " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// tooMany reports whether a dial failure means "the server has enough
// connections from us": 421 (vsftpd max_clients / max_per_ip, pure-ftpd -c/-C),
// 530 at login although the same credentials logged in before (ProFTPD
// MaxClientsPerUser), or the server hanging up during greeting or login.
// Only meaningful while we hold at least one connection to the server.
func (c *Client) tooMany(err error) bool {
	var de *dialError
	if !errors.As(err, &de) || de.phase == "connect" {
		return false
	}
	switch replyCode(err) {
	case 421:
		return true
	case 530:
		return de.phase == "login" && c.loggedIn.Load()
	}
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// dial opens, secures and logs in one control connection. The whole of it is
// bounded by DialTimeout.
func (c *Client) dial(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	addr := net.JoinHostPort(c.cfg.Host, strconv.Itoa(c.cfg.Port))
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &dialError{"connect", err}
	}
	c.stats.dials.Add(1)
	id := c.connID.Add(1)
	unhook := context.AfterFunc(ctx, func() { nc.Close() })
	cn, err := c.setup(ctx, nc, id)
	if !unhook() {
		nc.Close()
		if err == nil || ctx.Err() != nil {
			err = &dialError{"connect", fmt.Errorf("dialing %s: %w", addr, context.Cause(ctx))}
		}
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	if c.log.Enabled(ctx, slog.LevelDebug) {
		c.log.Debug("ftp connected", slog.String("server", c.cfg.Name), slog.Int64("conn", id))
	}
	return cn, nil
}

func (c *Client) newConn(nc net.Conn, id int64) *conn {
	ctl := &ctlConn{Conn: nc, cl: c, id: id,
		trace: c.log.Enabled(context.Background(), slog.LevelDebug)}
	ctl.setTimeout(c.cfg.CmdTimeout)
	tcp, _ := nc.(*net.TCPConn)
	if tc, ok := nc.(*tls.Conn); ok {
		tcp, _ = tc.NetConn().(*net.TCPConn)
	}
	ctl.arm() // the greeting (and the TLS reply) is due like any reply
	return &conn{cl: c, id: id, ctl: ctl, tcp: tcp, br: bufio.NewReaderSize(ctl, 4096)}
}

func (c *Client) setup(ctx context.Context, nc net.Conn, id int64) (*conn, error) {
	sessions := &sessionStore{} // this connection's, for its data connections
	if c.cfg.TLS == TLSImplicit {
		tc := tls.Client(nc, c.tlsConfig(sessions))
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, &dialError{"tls", err}
		}
		sessions.setCert(tc.ConnectionState())
		nc = tc
	}
	cn := c.newConn(nc, id)
	r, err := cn.readReply()
	for err == nil && r.Code == 120 { // "service ready in nnn minutes"
		r, err = cn.readReply()
	}
	if err == nil {
		err = expect(r, 220)
	}
	if err != nil {
		return nil, &dialError{"greeting", err}
	}
	if c.cfg.TLS == TLSExplicit {
		if _, err := cn.cmdExpect([]int{234, 334}, "AUTH TLS"); err != nil {
			return nil, &dialError{"tls", err}
		}
		tc := tls.Client(nc, c.tlsConfig(sessions))
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, &dialError{"tls", err}
		}
		sessions.setCert(tc.ConnectionState())
		cn = c.newConn(tc, id)
	}
	cn.sessions = sessions
	if err := c.login(cn); err != nil {
		return nil, &dialError{"login", err}
	}
	c.loggedIn.Store(true)
	if err := c.configure(cn, r.Msg); err != nil {
		return nil, &dialError{"setup", err}
	}
	return cn, nil
}

// login sends USER and PASS. The password goes out only in the PASS line,
// which the trace redacts; errors carry the server's reply, never the password.
func (c *Client) login(cn *conn) error {
	r, err := cn.cmd("USER %s", c.cfg.User)
	if err != nil {
		return err
	}
	if r.Code == 331 || r.Code == 332 {
		pw := c.cfg.Password.Reveal()
		if err := checkArg(pw); err != nil {
			return fmt.Errorf("password contains CR, LF or NUL: %w", ErrBadName)
		}
		r, err = cn.cmd("PASS %s", pw)
		if err != nil {
			return err
		}
	}
	return expect(r, 230, 202)
}

// configure asks FEAT once per Client (greeting is the first login's, for
// Features.Software), then TYPE I, UTF8, the MLSD facts (modes, see
// mlstOpts) and TLS data protection.
func (c *Client) configure(cn *conn, greeting string) error {
	f := c.features.Load()
	if f == nil {
		r, err := cn.cmd("FEAT")
		if err != nil {
			return err
		}
		nf := Features{}
		if r.Code == 211 {
			nf = parseFeat(r.Msg)
		} else if nf.MDTM, err = cn.probeMDTM(); err != nil {
			return err
		}
		nf.Software = software(greeting)
		c.features.CompareAndSwap(nil, &nf)
		f = c.features.Load()
	}
	if _, err := cn.cmdExpect([]int{200}, "TYPE I"); err != nil {
		return err
	}
	if f.UTF8 {
		if _, err := cn.cmd("OPTS UTF8 ON"); err != nil { // refusal is fine
			return err
		}
	}
	if f.mlstOpts != "" && !c.cfg.DisableMLSD {
		// Per session: modes in MLSD/MLST (pyftpdlib). A refusal is fine.
		if _, err := cn.cmd("OPTS MLST %s", f.mlstOpts); err != nil {
			return err
		}
	}
	if c.cfg.TLS != TLSNone {
		if _, err := cn.cmdExpect([]int{200}, "PBSZ 0"); err != nil {
			return err
		}
		if _, err := cn.cmdExpect([]int{200}, "PROT P"); err != nil {
			return err
		}
	}
	return nil
}

// probeMDTM asks a server without FEAT (older than RFC 2389: netkit's and
// other BSD-derived ftpds) whether it knows MDTM, which most of them do:
// without it LIST's minute- or day-precision times would be all the mount
// shows, and a same-size rewrite within the minute would go unnoticed. Any
// answer but "unknown command" (500, 502) or a syntax error (501, 504) says
// it does: 213, or 550 for a directory (netkit: "not a plain file").
func (cn *conn) probeMDTM() (bool, error) {
	r, err := cn.cmd("MDTM .")
	if err != nil {
		return false, err
	}
	switch r.Code {
	case 500, 501, 502, 504:
		return false, nil
	}
	return r.Code == 213 || r.Code >= 400, nil
}

// dialData connects a data connection to addr (TLS when the channel is
// protected). ctx is the running operation's, if any.
func (cn *conn) dialData(addr string) (net.Conn, error) {
	cn.mu.Lock()
	ctx := cn.opCtx
	cn.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	c := cn.cl
	d := net.Dialer{Timeout: c.cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("data connection to %s: %w", addr, err)
	}
	// Until the first Read or Write moves them on: bounds a TLS handshake
	// that an upload's first Handshake call would otherwise wait for forever.
	_ = nc.SetDeadline(time.Now().Add(c.cfg.DataTimeout))
	if c.cfg.TLS != TLSNone {
		// The handshake happens on first use, once the server has the
		// transfer command. It resumes the control connection's session:
		// servers may require that (see sessionStore).
		nc = tls.Client(nc, c.tlsConfig(cn.sessions))
	}
	dc := newDataConn(nc, c, cn.ctl)
	cn.mu.Lock()
	if cn.data != nil {
		cn.data.finish() // the previous transfer's, half-closed
	}
	cn.data = dc
	cn.mu.Unlock()
	return dc, nil
}
