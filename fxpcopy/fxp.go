package fxpcopy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// refusal is an FXP attempt that failed before any data reached the
// destination: the other orientation or the relay may still work.
type refusal struct {
	step   string // "PASV", "PORT", "RETR", "STOR", "connect", ...
	server string
	reply  string // "500 Illegal PORT command." or ""
	err    error

	dstTouched bool // STOR/APPE was sent: the destination may exist now
}

func (r *refusal) Error() string {
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

// finalGrace is how long the other side may take to answer once one side has
// failed (its transfer is then most likely dead too).
const finalGrace = 10 * time.Second

func replyText(r ftpclient.Reply) string {
	msg := strings.ReplaceAll(r.Msg, "\n", " / ")
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return fmt.Sprintf("%d %s", r.Code, msg)
}

// side is one server's part in an FXP attempt.
type side struct {
	ep   Endpoint
	conn *ftpclient.RawConn
	path string // server-absolute path
	role string // "source" or "destination"
}

func (s *side) name() string { return s.ep.Client.Name() }

// fxp runs one FXP attempt in the given orientation. It returns nil on
// success, a *refusal when nothing reached the destination, else the error.
func (e *Engine) fxp(ctx context.Context, t *transfer, src, dst Endpoint, mode Mode, size, off int64) error {
	started, err := e.fxpAttempt(ctx, t, src, dst, mode, size, off)
	if err == nil {
		return nil
	}
	var ref *refusal
	if errors.As(err, &ref) || ctx.Err() != nil || !started {
		return err
	}
	// Both transfers had started: did any data arrive? The attempt's
	// connections are released by now, so this cannot wait on ourselves.
	if t.bytes.Load() > off {
		return err
	}
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	n, serr := dst.Client.Size(cctx, dst.Path)
	if (serr == nil && n <= off) || errors.Is(serr, ftpclient.ErrNotFound) {
		return &refusal{step: "transfer", server: dst.Client.Name(), err: err, dstTouched: true}
	}
	return err
}

// fxpAttempt does the work of fxp; started reports that both servers had
// accepted their transfer command.
func (e *Engine) fxpAttempt(ctx context.Context, t *transfer, src, dst Endpoint, mode Mode, size, off int64) (started bool, err error) {
	s := &side{ep: src, role: "source"}
	d := &side{ep: dst, role: "destination"}
	// Until the attempt succeeds, its connections are destroyed on release:
	// that also aborts whatever a failed attempt left running on the servers.
	defer func() {
		for _, sd := range []*side{s, d} {
			if sd.conn != nil {
				sd.conn.Release(err)
			}
		}
	}()
	for _, sd := range []*side{s, d} {
		c, aerr := sd.ep.Client.AcquireRaw(ctx)
		if aerr != nil {
			return false, &refusal{step: "connect", server: sd.name(), err: aerr}
		}
		sd.conn = c
		p, perr := c.ServerPath(sd.ep.Path)
		if perr != nil {
			return false, fmt.Errorf("%s path: %w", sd.role, perr)
		}
		sd.path = p
	}

	// With a TLS server in the pair: encrypted (SSCN/CPSV), or clear where
	// the config allows it, or refused (protect.go).
	prot, err := e.protect(ctx, t, s, d, mode)
	if err != nil {
		return false, err
	}
	defer prot.settle(ctx, off, &err)

	port := prot.port
	addr, err := prot.passive(ctx, t) // PASV, or CPSV
	if err != nil {
		return false, err
	}
	r, err := port.conn.Port(ctx, addr)
	if err != nil {
		return false, &refusal{step: "PORT " + addr, server: port.name(), err: err}
	}
	if r.Code/100 != 2 {
		return false, &refusal{step: "PORT " + addr, server: port.name(), reply: replyText(r)}
	}

	retr, stor := "RETR", "STOR"
	if off > 0 {
		if r, err := s.conn.Cmd(ctx, "REST %d", off); err != nil || r.Code != 350 {
			return false, refusalOf("REST", s, r, err)
		}
		stor = "APPE"
		if f, ferr := dst.Client.Features(ctx); ferr == nil && f.REST {
			if r, err := d.conn.Cmd(ctx, "REST %d", off); err == nil && r.Code == 350 {
				stor = "STOR"
			}
		}
	}
	// The PORT side goes first: it connects to the PASV side's listening
	// socket (the kernel queues the connection) and answers 150; the PASV
	// side then accepts it. The other order would block: the PASV side
	// answers only once a connection arrives.
	type step struct {
		sd  *side
		cmd string
	}
	steps := []step{{s, retr}, {d, stor}}
	if port == d {
		steps = []step{{d, stor}, {s, retr}}
	}
	finals := map[*side]*ftpclient.Reply{}
	touched := false
	for i, st := range steps {
		touched = touched || st.sd == d
		r, err := st.sd.conn.Cmd(ctx, "%s %s", st.cmd, st.sd.path)
		if err == nil && fileRefusal(r.Code) {
			// The file itself is refused (missing, no permission, no
			// space): no orientation or relay would fare better.
			err := st.sd.conn.ReplyError(st.cmd, st.sd.ep.Path, r)
			if st.sd == d {
				err = &dstIntact{err} // refused before anything was written
			}
			return i > 0, err
		}
		if err != nil || (r.Code/100 != 1 && r.Code/100 != 2) {
			ref := refusalOf(st.cmd, st.sd, r, err)
			ref.dstTouched = touched
			// If this is the second command, the first side's transfer is
			// running into the void; dropping both control connections
			// (deferred) aborts it.
			return i > 0, ref
		}
		if r.Code/100 == 2 { // final reply straight away (no 150)
			final := r
			finals[st.sd] = &final
		}
	}

	if err := e.waitFinals(ctx, t, s, d, finals); err != nil {
		return true, err
	}
	t.bytes.Store(size)
	return true, nil
}

// dstIntact marks a failure that left the destination as it was (its STOR
// was refused): it must not be removed, it may be someone's file.
type dstIntact struct{ error }

func (e *dstIntact) Unwrap() error { return e.error }

// DestinationIntact reports whether a failed Copy left the destination as it
// was before (the server refused to write it), rather than removing it.
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
	return &refusal{step: step, server: sd.name(), reply: replyText(r)}
}

type finalReply struct {
	sd  *side
	r   ftpclient.Reply
	err error
}

// waitFinals waits for both final replies, polling the destination's size for
// progress. If one side fails, the other gets finalGrace to answer; if the
// destination stops growing for its DataTimeout, the copy fails. A transfer
// may last far longer than one command, so RawConn.ReadReply must wait for a
// final reply as long as ctx allows (ctx is cancelled here on a stall).
func (e *Engine) waitFinals(ctx context.Context, t *transfer, s, d *side, have map[*side]*ftpclient.Reply) error {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ch := make(chan finalReply, 2)
	pending := 0
	for _, sd := range []*side{s, d} {
		if have[sd] != nil {
			continue
		}
		pending++
		go func(sd *side) {
			r, err := sd.conn.ReadReply(wctx)
			ch <- finalReply{sd, r, err}
		}(sd)
	}
	pollDone := make(chan struct{})
	pollStopped := make(chan struct{})
	go func() {
		defer close(pollStopped)
		e.pollProgress(wctx, t, d, pollDone, cancel)
	}()
	defer func() {
		close(pollDone)
		<-pollStopped
	}()

	results := map[*side]finalReply{}
	for sd, r := range have {
		results[sd] = finalReply{sd: sd, r: *r}
	}
	var grace <-chan time.Time
	for pending > 0 {
		select {
		case fr := <-ch:
			pending--
			results[fr.sd] = fr
			if pending > 0 && grace == nil {
				wait := finalGrace
				if fr.err == nil && fr.r.Code/100 == 2 {
					// Normal: the source finishes first while the
					// destination drains its buffers.
					wait = dataTimeout(d.ep.Client)
				}
				grace = time.After(wait)
			}
		case <-grace:
			cancel(errors.New("the other side did not finish in time"))
			grace = nil
		}
	}
	var problems []string
	var firstErr error
	for _, sd := range []*side{s, d} {
		fr := results[sd]
		switch {
		case fr.err != nil:
			if c := context.Cause(wctx); c != nil && ctx.Err() == nil && !errors.Is(fr.err, c) {
				fr.err = fmt.Errorf("%w (%v)", fr.err, c)
			}
			problems = append(problems, fmt.Sprintf("%s %s: %v", sd.role, sd.name(), fr.err))
			if firstErr == nil {
				firstErr = fr.err
			}
		case fr.r.Code/100 != 2:
			problems = append(problems, fmt.Sprintf("%s %s: %s", sd.role, sd.name(), replyText(fr.r)))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("FXP interrupted: %w", ctx.Err())
	}
	return &transferError{msg: "FXP transfer failed: " + strings.Join(problems, "; "), err: firstErr}
}

// transferError names what each side said; it unwraps to the first I/O error.
type transferError struct {
	msg string
	err error
}

func (e *transferError) Error() string { return e.msg }
func (e *transferError) Unwrap() error { return e.err }

// pollProgress samples the destination's SIZE (on the slot its scheduler
// keeps for metadata) every poll interval, until done. It
// cancels the wait when the size has not changed for the data timeout.
func (e *Engine) pollProgress(ctx context.Context, t *transfer, d *side, done <-chan struct{}, cancel context.CancelCauseFunc) {
	tick := time.NewTicker(e.poll)
	defer tick.Stop()
	last := t.bytes.Load()
	lastChange := time.Now()
	stall := dataTimeout(d.ep.Client)
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pctx, pcancel := context.WithTimeout(ctx, max(4*e.poll, 2*time.Second))
		n, err := d.ep.Client.Size(pctx, d.ep.Path) // on the slot kept for metadata
		pcancel()
		switch {
		case err != nil:
			e.log.Debug("progress poll failed", "dst", d.ep.String(), "err", err)
		case n != last:
			last, lastChange = n, time.Now()
			t.bytes.Store(n)
		case time.Since(lastChange) > stall:
			cancel(fmt.Errorf("%w: destination %s did not grow for %v", ftpclient.ErrTimeout, d.ep, stall))
			return
		}
	}
}

func dataTimeout(c *ftpclient.Client) time.Duration {
	if d := c.Config().DataTimeout; d > 0 {
		return d
	}
	return 60 * time.Second
}
