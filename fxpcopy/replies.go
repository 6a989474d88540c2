package fxpcopy

import (
	"context"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// event is one reply (or failure) read from a side's control connection,
// or (idle) the news that its reader stopped: no reply is due any more.
type event struct {
	sd   *side
	r    ftpclient.Reply
	err  error
	idle bool
}

// send sends a command on sd's control connection without waiting for the
// reply, and makes sure a reader goroutine collects its replies into
// a.events: one reader per side at a time, running while final replies
// are due.
func (a *attempt) send(ctx context.Context, sd *side, format string, args ...any) error {
	sd.mu.Lock()
	sd.expect++
	start := !sd.reading
	sd.reading = true
	sd.mu.Unlock()
	if err := sd.conn.Send(ctx, format, args...); err != nil {
		sd.mu.Lock()
		sd.expect--
		if start {
			sd.reading = false
		}
		sd.mu.Unlock()
		return err
	}
	if start {
		a.readers.Add(1)
		go a.read(sd)
	}
	return nil
}

// read delivers sd's replies until none is due or the connection fails. It
// is unblocked by the connection's Reset (close) when the attempt ends with
// replies still due.
func (a *attempt) read(sd *side) {
	defer a.readers.Done()
	for {
		r, err := sd.conn.ReadReply(context.Background())
		sd.mu.Lock()
		if err == nil && r.Code >= 200 {
			sd.expect--
		}
		sd.mu.Unlock()
		select {
		case a.events <- event{sd: sd, r: r, err: err}:
		case <-a.stop:
			return
		}
		sd.mu.Lock()
		if err != nil || sd.expect <= 0 {
			// Only now: every event of this reader is in a.events. The
			// idle event wakes a loop waiting for the side to be done.
			sd.reading = false
			sd.mu.Unlock()
			select {
			case a.events <- event{sd: sd, idle: true}:
			case <-a.stop:
			}
			return
		}
		sd.mu.Unlock()
	}
}

// busy reports that a reader is still collecting replies of sd.
func (sd *side) busy() bool {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return sd.reading
}

// handle records one reply.
func (a *attempt) handle(ev event) {
	sd := ev.sd
	switch {
	case ev.idle:
	case ev.err != nil:
		if !sd.ended() {
			sd.err, sd.endedAt = ev.err, time.Now()
		}
	case ev.r.Code < 200:
		sd.prelim = true
	case !sd.ended():
		r := ev.r
		sd.final, sd.endedAt = &r, time.Now()
		a.log.Debug("FXP final reply", "side", sd.role, "server", sd.name(), "reply", replyText(r))
	}
}

// drain handles the events already delivered, without waiting.
func (a *attempt) drain() {
	for {
		select {
		case ev := <-a.events:
			a.handle(ev)
		default:
			return
		}
	}
}
