package fxpcopy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// watchTick is how often the attempt's deadlines are checked.
const watchTick = 100 * time.Millisecond

// watch sends the two transfer commands and watches both control
// connections at once until both transfers have ended, a deadline gives
// the attempt up, or ctx is done (then both transfers are aborted).
//
// The passive server's command goes first, the active server's right
// after, without waiting for a 1xx that most servers send only once the
// data connection exists (see the package doc for why this order is safe
// in both orientations). A passive server known to answer at once (or not
// known yet) is given a moment to do so, so that the data connection
// cannot overtake its command (Engine.earlyWait).
func (a *attempt) watch(ctx context.Context) error {
	a.events = make(chan event, 16)
	a.stop = make(chan struct{})
	p, q := a.pasv, a.port
	p.sent = true
	if err := a.send(ctx, p, "%s %s", p.cmd, p.path); err != nil {
		return &refusal{step: p.cmd, server: p.name(), err: err, dstTouched: p == a.d}
	}
	if w := a.e.earlyWait(ctx, a.sides(), a.pasvRTT); w > 0 {
		a.log.Debug("waiting for the passive server's first reply", "server", p.name(), "wait", w,
			"answers_early", a.e.earlyOf(a.sides()) == earlyYes)
		if err := a.awaitEarly(ctx, w); err != nil {
			return err
		}
	}
	if p.ended() {
		// Refused (or failed) before the other server was involved.
		return a.result(ctx)
	}
	q.sent = true
	if err := a.send(ctx, q, "%s %s", q.cmd, q.path); err != nil {
		a.abort()
		return &refusal{step: q.cmd, server: q.name(), err: err, dstTouched: true}
	}
	a.sentAt = time.Now()
	stopPoll := a.startPoll()
	defer stopPoll()
	tick := time.NewTicker(watchTick)
	defer tick.Stop()
	for !(p.ended() && q.ended()) {
		select {
		case ev := <-a.events:
			a.handle(ev)
		case <-tick.C:
			if err := a.check(); err != nil {
				a.giveUp = err
				// Before abort, whose data connection from here makes the
				// passive server answer 150.
				a.noDataConn = a.noDataConn || !p.prelim
				if p.prelim && !p.ended() && q.ended() && a.e.earlyOf(a.sides()) != earlyYes {
					// It answered and then waited: most likely it answers
					// early and dropped a data connection that overtook
					// its command. Wait for its answer from now on.
					a.e.setEarly(a.sides(), earlyYes)
				}
				a.log.Info("giving up the FXP attempt", "why", err)
				a.abort()
				return a.result(ctx)
			}
		case <-ctx.Done():
			a.log.Info("FXP interrupted: aborting both transfers")
			a.abort()
			return a.result(ctx)
		}
	}
	a.quiesce(quiesceWait)
	return a.result(ctx)
}

// quiesceWait bounds how long a finished attempt waits for its reply
// readers to stop (they mark their side idle just after delivering its
// final reply).
const quiesceWait = time.Second

// quiesce waits, at most d, until no reader is collecting replies, so that
// a connection whose transfer ended is kept for reuse rather than
// reset for looking busy (a reader descheduled between its last reply and
// marking its side idle, on a loaded machine).
func (a *attempt) quiesce(d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for a.s.busy() || a.d.busy() {
		select {
		case ev := <-a.events:
			a.handle(ev)
		case <-timer.C:
			return
		}
	}
}

// sides keys what the engine learns about the passive server's replies
// (Engine.earlyWait).
func (a *attempt) sides() fxpSides { return fxpSides{a.pasv.ep.Client, a.port.ep.Client} }

// awaitEarly waits up to w for the passive server's first reply.
func (a *attempt) awaitEarly(ctx context.Context, w time.Duration) error {
	p := a.pasv
	timer := time.NewTimer(w)
	defer timer.Stop()
	for {
		select {
		case ev := <-a.events:
			a.handle(ev)
			if p.prelim {
				a.e.setEarly(a.sides(), earlyYes)
				return nil
			}
			if p.ended() {
				return nil
			}
		case <-timer.C:
			if a.e.earlyOf(a.sides()) == earlyUnknown {
				// Unknown until now: it answers only once the data
				// connection exists. (A server known to answer early
				// keeps its mark: it was slow this once.)
				a.e.setEarly(a.sides(), earlyNo)
			}
			return nil
		case <-ctx.Done():
			a.abort()
			return a.result(ctx)
		}
	}
}

// check applies the attempt's deadlines (deadlines.go); it returns why the
// attempt must be given up, or nil.
func (a *attempt) check() error {
	now := time.Now()
	tm := a.e.timing
	p, q := a.pasv, a.port
	polled, last, changes, lastChange := a.prog.snapshot()
	grown := (changes > 0 && last > a.off) || (polled && last == a.size && a.size > a.off)

	var first, other *side
	switch {
	case p.ended() && !q.ended():
		first, other = p, q
	case q.ended() && !p.ended():
		first, other = q, p
	}
	if first != nil {
		since := now.Sub(first.endedAt)
		ended := "ended"
		if first.final != nil {
			ended = "answered " + replyText(*first.final)
		} else if first.err != nil {
			ended = "failed: " + first.err.Error()
		}
		silent := fmt.Sprintf("the %s %s %s and the %s %s stayed silent for %v",
			first.role, first.name(), ended, other.role, other.name(), since.Round(100*time.Millisecond))
		switch {
		case !first.succeeded() && since >= tm.peerSilence:
			return &giveUp{msg: silent, err: a.sideError(first)}
		case other == p && !p.prelim && since >= tm.peerSilence:
			return &giveUp{msg: silent + " without accepting a data connection (does it refuse the other server's address?)",
				err: ftpclient.ErrTimeout}
		case polled && !grown && since >= tm.peerSilence:
			return &giveUp{msg: silent + ", and no data reached the destination", err: ftpclient.ErrTimeout}
		case !polled && since >= dataTimeout(a.d.ep.Client):
			return &giveUp{msg: silent, err: ftpclient.ErrTimeout}
		}
	} else if !p.prelim && !q.prelim && now.Sub(a.sentAt) >= tm.startWait {
		return &giveUp{msg: fmt.Sprintf("neither server started the transfer within %v (no data connection)", tm.startWait),
			err: ftpclient.ErrTimeout}
	}
	if polled {
		quiet := now.Sub(lastChange)
		if last == a.size && a.size > a.off && quiet >= tm.completeSilence {
			return &giveUp{msg: fmt.Sprintf("every byte reached the destination but the transfer did not end for %v",
				quiet.Round(time.Second)), err: ftpclient.ErrTimeout, unended: true}
		}
		if stall := dataTimeout(a.d.ep.Client); quiet >= stall {
			return &giveUp{msg: fmt.Sprintf("destination %s did not grow for %v", a.d.ep, stall), err: ftpclient.ErrTimeout}
		}
	}
	return nil
}

// giveUp is why the watch ended an attempt; it wraps what classifies it.
type giveUp struct {
	msg     string
	err     error
	unended bool // every byte arrived, the transfer never ended (see Engine.noteUnended)
}

func (g *giveUp) Error() string { return g.msg }
func (g *giveUp) Unwrap() error { return g.err }

// sideError is the classified error of a side that ended badly.
func (a *attempt) sideError(sd *side) error {
	switch {
	case sd.err != nil:
		return sd.err
	case sd.final != nil && sd.final.Code/100 != 2:
		return sd.conn.ReplyError(sd.cmd, sd.ep.Path, *sd.final)
	}
	return nil
}

// result classifies the attempt once both transfers ended or it was given
// up (see fxp for what the caller makes of it).
func (a *attempt) result(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		if c := context.Cause(ctx); c != nil && !errors.Is(c, err) {
			return fmt.Errorf("FXP interrupted: %w (%v)", err, c)
		}
		return fmt.Errorf("FXP interrupted: %w", err)
	}
	if a.giveUp == nil && a.s.succeeded() && a.d.succeeded() {
		return nil
	}
	// The file itself was refused before any transfer began: no other way
	// of copying fares better.
	for _, sd := range []*side{a.d, a.s} {
		if sd.final != nil && !sd.prelim && fileRefusal(sd.final.Code) {
			err := sd.conn.ReplyError(sd.cmd, sd.ep.Path, *sd.final)
			if sd == a.d {
				return &dstIntact{err} // refused before anything was written
			}
			return &fileError{err}
		}
	}
	if f := a.d.final; f != nil && (f.Code == 452 || f.Code == 552) {
		return &fileError{a.d.conn.ReplyError(a.d.cmd, a.d.ep.Path, *f)}
	}
	var problems []string
	var cause error
	if a.giveUp != nil {
		problems = append(problems, a.giveUp.Error())
		cause = a.giveUp
	}
	for _, sd := range []*side{a.s, a.d} {
		switch {
		case !sd.sent:
			continue
		case sd.err != nil:
			problems = append(problems, fmt.Sprintf("%s %s: %v", sd.role, sd.name(), sd.err))
		case sd.final == nil:
			problems = append(problems, fmt.Sprintf("%s %s: no final reply", sd.role, sd.name()))
		case sd.final.Code/100 != 2:
			problems = append(problems, fmt.Sprintf("%s %s: %s", sd.role, sd.name(), replyText(*sd.final)))
		default:
			continue
		}
		if cause == nil {
			cause = a.sideError(sd)
		}
	}
	if cause == nil {
		cause = errors.New("transfer did not complete")
	}
	if a.giveUp == nil && !a.pasv.prelim {
		a.noDataConn = true
	}
	return &transferError{msg: "FXP transfer failed: " + strings.Join(problems, "; "), err: cause}
}

// progress is what polling the destination's size has seen.
type progress struct {
	mu         sync.Mutex
	polled     bool
	last       int64
	changes    int
	lastChange time.Time
}

func (p *progress) observe(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	switch {
	case !p.polled:
		p.polled, p.lastChange = true, now
	case n != p.last:
		p.changes++
		p.lastChange = now
	}
	p.last = n
}

func (p *progress) snapshot() (polled bool, last int64, changes int, lastChange time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.polled, p.last, p.changes, p.lastChange
}

// startPoll samples the destination's SIZE every poll interval (on the slot
// its scheduler keeps for metadata), until stopped. The first sample comes
// after two intervals: a transfer done sooner (most files: 1 s by default)
// is not sampled at all, so that it costs no command and, since the copy's
// own connections are busy with the transfer, no new connection either.
// (The deadlines that need samples apply from the first one; see check.)
func (a *attempt) startPoll() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		e, d := a.e, a.d.ep
		next := time.NewTimer(2 * e.poll)
		defer next.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-next.C:
				next.Reset(e.poll)
			}
			pctx, pcancel := context.WithTimeout(ctx, max(4*e.poll, 2*time.Second))
			n, err := d.Client.Size(pctx, d.Path) // on the slot the scheduler keeps for metadata
			pcancel()
			if err != nil {
				a.log.Debug("progress poll failed", "dst", d.String(), "err", err)
				continue
			}
			a.prog.observe(n)
			a.t.bytes.Store(n)
		}
	}()
	return func() {
		cancel()
		<-finished
	}
}
