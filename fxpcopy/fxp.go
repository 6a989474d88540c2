package fxpcopy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// refusal is an FXP attempt that failed before any data reached the
// destination: the other orientation or the relay may still work.
type refusal struct {
	step   string // "PASV", "PORT", "RETR", "STOR", "connect", "transfer", ...
	server string
	reply  string // "500 Illegal PORT command." or ""
	err    error

	dstTouched bool // STOR/APPE was sent: the destination may exist now
	// remember: the refusal says FXP between these two servers does not
	// work in this orientation (a step refused, or no data connection came
	// about), not that something went wrong this once.
	remember bool
}

func (r *refusal) Error() string {
	if r.step == "transfer" && r.err != nil {
		return r.err.Error() // names both servers already
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s", r.step, r.server)
	if r.reply != "" {
		b.WriteString(" refused: " + r.reply)
	} else if r.err != nil {
		b.WriteString(" failed: " + r.err.Error())
	}
	return b.String()
}

func (r *refusal) Unwrap() error { return r.err }

// replyText is a server reply as fxpcopy quotes it in errors, records and
// logs: one line, at most 200 bytes of it, control characters (and bytes
// that are not UTF-8) escaped, so that a server cannot steer a terminal.
func replyText(r ftpclient.Reply) string {
	msg := strings.ReplaceAll(r.Msg, "\n", " / ")
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return fmt.Sprintf("%d %s", r.Code, ftpclient.Printable(msg))
}

// side is one server's part in an FXP attempt.
type side struct {
	ep      Endpoint
	conn    *ftpclient.RawConn
	path    string // server-absolute path
	role    string // "source" or "destination"
	cmd     string // RETR, STOR or APPE
	passive bool   // this server got PASV/EPSV (it listens for the data connection)

	// Reply state, owned by the goroutine running the attempt.
	sent    bool             // the transfer command was sent
	prelim  bool             // a 1xx reply came
	final   *ftpclient.Reply // the transfer command's final reply
	err     error            // the control connection failed
	endedAt time.Time        // when final or err came
	aborted bool             // ABOR was sent

	// Reader state (see attempt.send).
	mu      sync.Mutex
	expect  int  // final replies still to read
	reading bool // a reader goroutine runs
}

func (s *side) name() string { return s.ep.Client.Name() }

// ended reports that the transfer command has its final reply (or the
// control connection failed).
func (s *side) ended() bool { return s.final != nil || s.err != nil }

// succeeded reports a 2xx final reply.
func (s *side) succeeded() bool { return s.final != nil && s.final.Code/100 == 2 && s.err == nil }

// fxp runs one FXP attempt in the given orientation. It returns nil on
// success, a *refusal when nothing reached the destination, else the error.
// The attempt's connections are released (a failed attempt's destroyed)
// before it returns.
func (e *Engine) fxp(ctx context.Context, t *transfer, src, dst Endpoint, mode Mode, size, off int64) error {
	a := &attempt{e: e, t: t, mode: mode, size: size, off: off,
		s:   &side{ep: src, role: "source"},
		d:   &side{ep: dst, role: "destination"},
		log: e.log.With("mode", string(mode), "src", src.String(), "dst", dst.String()),
	}
	err := a.run(ctx)
	a.prot.settle(ctx, err) // TLS: remember how the plan fared, put the sessions back
	a.close(err)
	if err == nil {
		// After close: the check's SIZE must not wait for a connection
		// the attempt itself holds.
		if err = a.checkEnd(ctx); err != nil {
			a.prot.settle(ctx, err) // the plan failed after all
		}
		return err
	}
	var ref *refusal
	if errors.As(err, &ref) || finalErr(err) || ctx.Err() != nil || a.pasv == nil {
		return err
	}
	if !a.d.sent { // the source's transfer failed before the destination was asked for anything
		return &refusal{step: "transfer", server: a.pasv.name(), err: err, remember: a.noDataConn}
	}
	// Both transfers had been asked for: did any data arrive? The attempt's
	// connections are released by now, so this cannot wait on ourselves.
	if t.bytes.Load() > off {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.timing.removeWait)
	defer cancel()
	n, serr := dst.Client.Size(cctx, dst.Path)
	if (serr == nil && n <= off) || errors.Is(serr, ftpclient.ErrNotFound) {
		return &refusal{step: "transfer", server: a.pasv.name(), err: err, dstTouched: true,
			remember: a.noDataConn}
	}
	return err
}

// attempt is one FXP attempt: two control connections, one passive side.
type attempt struct {
	e         *Engine
	t         *transfer
	mode      Mode
	size, off int64
	s, d      *side       // source, destination
	pasv      *side       // the side that got PASV/EPSV
	port      *side       // the side that got PORT/EPRT
	prot      *protection // how the data connection is protected (protect.go)
	pasvAddr  string
	pasvRTT   time.Duration
	log       *slog.Logger

	// Watching (watch.go).
	events   chan event
	stop     chan struct{} // closed when the attempt no longer reads events
	readers  sync.WaitGroup
	sentAt   time.Time
	prog     progress
	released bool // the passive server's data connection was opened from here
	// noDataConn: the passive server never accepted a data connection
	// (no 1xx) while its peer ended: it refused the peer's address.
	noDataConn bool
	giveUp     error // why the watch gave up, if it did
}

// run acquires both connections and drives the attempt to its end. An
// attempt the TLS rules refuse outright takes no connection.
func (a *attempt) run(ctx context.Context) error {
	s, d := a.s, a.d
	prot, err := a.e.protect(ctx, s, d, a.mode)
	if err != nil {
		return err
	}
	for _, sd := range []*side{s, d} {
		c, err := sd.ep.Client.AcquireRaw(ctx)
		if err != nil {
			return &refusal{step: "connect", server: sd.name(), err: err}
		}
		sd.conn = c
		p, err := c.ServerPath(sd.ep.Path)
		if err != nil {
			return fmt.Errorf("%s path: %w", sd.role, err)
		}
		sd.path = p
	}
	a.prot = prot
	if err := prot.prepare(ctx, a.t); err != nil {
		return err
	}

	a.pasv, a.port = d, s
	if a.mode == ModeFXPRev {
		a.pasv, a.port = s, d
	}
	a.pasv.passive = true
	addr, err := a.passiveAddr(ctx)
	if err != nil {
		return err
	}
	a.pasvAddr = addr
	if err := a.activeAddr(ctx, addr); err != nil {
		return err
	}

	s.cmd, d.cmd = "RETR", "STOR"
	if a.off > 0 {
		if r, err := s.conn.Cmd(ctx, "REST %d", a.off); err != nil || r.Code != 350 {
			return refusalOf("REST", s, r, err)
		}
		d.cmd = "APPE"
		if f, ferr := d.ep.Client.Features(ctx); ferr == nil && f.REST {
			if r, err := d.conn.Cmd(ctx, "REST %d", a.off); err == nil && r.Code == 350 {
				d.cmd = "STOR"
			}
		}
	}
	if err := a.watch(ctx); err != nil {
		return err
	}
	a.t.bytes.Store(a.size)
	return nil
}

// checkEnd makes sure that an encrypted FXP whose TLS client was the
// sending server left the whole file, though both servers reported
// success. Such a client only writes, so it never reads the session
// tickets a TLS 1.3 server sends after the handshake, and its close with
// them unread is a reset: a receiver still reading loses the rest, and one
// that takes any end of the connection for the end of the file says 226
// (proftpd sending to such a server, measured in TestEncryptedFXPRealPeers).
// Left to verification, the copy would fail with the plan counted as
// working, every time; as a failed attempt, the plan is remembered as
// failed and the next way is tried. One SIZE, unless progress polling saw
// the whole file already; a server without SIZE leaves it to verification.
// Called once the attempt's connections are released.
func (a *attempt) checkEnd(ctx context.Context) error {
	p := a.prot
	if p == nil || p.mode != protTLS || p.client != a.s {
		return nil
	}
	if polled, last, _, _ := a.prog.snapshot(); polled && last == a.size {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, a.e.timing.removeWait)
	defer cancel()
	n, err := a.d.ep.Client.Size(cctx, a.d.ep.Path)
	if err != nil || n == a.size {
		return nil
	}
	return &transferError{
		msg: fmt.Sprintf("FXP transfer incomplete: both servers reported success, but %s holds %d of %d bytes (%s, the TLS client, sent)",
			a.d.ep, n, a.size, a.s.name()),
		err: ErrVerify,
	}
}

// passiveAddr asks the passive side for a port to listen on: PASV, or EPSV
// where PASV is refused or the server is reached over IPv6. The address
// handed to the other server is always the passive server's own control
// address (the one fxpfs connected to) with the port from the reply: a
// PASV reply naming a third host is never passed on, so a server cannot
// point its peer at another host.
func (a *attempt) passiveAddr(ctx context.Context) (string, error) {
	p := a.pasv
	host := p.conn.Host()
	ipv4 := net.ParseIP(host).To4() != nil
	var firstErr error
	if ipv4 {
		start := time.Now()
		named, err := a.prot.passive(ctx, a.t) // PASV, or CPSV for encrypted FXP
		a.pasvRTT = time.Since(start)
		if err == nil {
			// Pasv already gives the server's own address (and logs a reply
			// naming another); only its port is taken here all the same.
			_, port, _ := net.SplitHostPort(named)
			return net.JoinHostPort(host, port), nil
		}
		var ref *refusal
		if errors.As(err, &ref) {
			return "", err // no allowed protection left (protect.go): says why itself
		}
		var oe *ftpclient.OpError
		if !errors.As(err, &oe) || oe.Code == 0 || ctx.Err() != nil {
			return "", &refusal{step: "PASV", server: p.name(), err: err}
		}
		firstErr = err // refused by a reply: EPSV may still work
	}
	start := time.Now()
	port, err := p.conn.Epsv(ctx)
	a.pasvRTT = time.Since(start)
	if err != nil {
		if firstErr != nil {
			err = fmt.Errorf("%w; %w", firstErr, err)
		}
		return "", &refusal{step: "PASV/EPSV", server: p.name(), err: err, remember: true}
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// activeAddr tells the active side where to connect: PORT for IPv4, EPRT
// for IPv6. Some servers connect at once and answer only then (pyftpdlib),
// so the reply is awaited StartWait at most, not CmdTimeout: a data
// connection that does not come about within it will not.
func (a *attempt) activeAddr(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, a.e.timing.startWait)
	defer cancel()
	p := a.port
	host, _, _ := net.SplitHostPort(addr)
	step := "PORT " + addr
	var r ftpclient.Reply
	var err error
	if net.ParseIP(host).To4() != nil {
		r, err = p.conn.Port(ctx, addr)
	} else {
		step = "EPRT " + addr
		r, err = p.conn.Eprt(ctx, addr)
	}
	if err != nil {
		return &refusal{step: step, server: p.name(), err: err}
	}
	if r.Code/100 != 2 {
		return &refusal{step: step, server: p.name(), reply: replyText(r),
			err: p.conn.ReplyError("PORT", "", r), remember: true}
	}
	return nil
}

// dstIntact marks a failure that left the destination as it was (its STOR
// was refused, or the copy went to a temporary): it must not be removed,
// it may be someone's file.
type dstIntact struct{ error }

func (e *dstIntact) Unwrap() error { return e.error }

// DestinationIntact reports whether a failed Copy left the destination as it
// was before (the server refused to write it, or an existing file was being
// replaced by way of a temporary), rather than removing it.
func DestinationIntact(err error) bool {
	var di *dstIntact
	return errors.As(err, &di)
}

// fileRefusal reports replies to RETR/STOR that concern the file, not the
// data connection: 450/550 (unavailable, not found, permission), 452/552 (no
// space), 553 (name not allowed). Refused data connections are 425/426, and
// refused foreign addresses are answered at PORT/PASV already.
func fileRefusal(code int) bool {
	switch code {
	case 450, 452, 550, 552, 553:
		return true
	}
	return false
}

// fileRefusalErr is fileRefusal for an error from ftpclient.
func fileRefusalErr(err error) bool {
	var oe *ftpclient.OpError
	return errors.As(err, &oe) && fileRefusal(oe.Code)
}

func refusalOf(step string, sd *side, r ftpclient.Reply, err error) *refusal {
	if err != nil {
		return &refusal{step: step, server: sd.name(), err: err}
	}
	return &refusal{step: step, server: sd.name(), reply: replyText(r),
		err: sd.conn.ReplyError(step, sd.ep.Path, r), remember: true}
}

// transferError names what each side said; it unwraps to the error that
// classifies the failure (a reply as an ftpclient error, a broken control
// connection, ftpclient.ErrTimeout for a stall).
type transferError struct {
	msg string
	err error
}

func (e *transferError) Error() string { return e.msg }
func (e *transferError) Unwrap() error { return e.err }

func dataTimeout(c *ftpclient.Client) time.Duration {
	if d := c.Config().DataTimeout; d > 0 {
		return d
	}
	return 60 * time.Second
}
