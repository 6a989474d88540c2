package fxpcopy

import (
	"context"
	"net"
	"sync"
	"time"
)

// releaseDialTimeout bounds the data connection fxpfs opens to a passive
// server to end its wait (see releasePassive).
const releaseDialTimeout = 2 * time.Second

// abort ends both transfers: ABOR on each control connection whose transfer
// has not ended, the passive server's data connection opened from here if
// it still waits for one, then up to AbortWait until each transfer has its
// final reply. Servers differ in what follows ABOR (426 then 226, or a
// lone 226 from pure-ftpd for a download), so once both transfers have
// ended, trailing replies get only trailWait; close resets a connection
// whose replies are still due.
func (a *attempt) abort() {
	ctx, cancel := context.WithTimeout(context.Background(), a.e.timing.abortWait)
	defer cancel()
	for _, sd := range []*side{a.pasv, a.port} {
		if sd.sent && !sd.ended() && !sd.aborted {
			sd.aborted = true
			if err := a.send(ctx, sd, "ABOR"); err != nil {
				a.log.Debug("ABOR not sent", "server", sd.name(), "err", err)
			}
		}
	}
	p := a.pasv
	if p.sent && !p.prelim && !p.ended() {
		// Waiting in accept, a server may not read its control connection
		// at all (pure-ftpd): only a data connection ends its wait.
		a.releasePassive()
	}
	running := func() bool {
		return (p.sent && !p.ended() && p.busy()) || (a.port.sent && !a.port.ended() && a.port.busy())
	}
	for running() {
		select {
		case ev := <-a.events:
			a.handle(ev)
		case <-ctx.Done():
			a.drain()
			return
		}
	}
	trail := time.NewTimer(trailWait)
	defer trail.Stop()
	for p.busy() || a.port.busy() {
		select {
		case ev := <-a.events:
			a.handle(ev)
		case <-trail.C:
			a.drain()
			return
		}
	}
	a.drain()
}

// trailWait is how long replies trailing an aborted transfer's final reply
// are awaited (the 226 that answers ABOR itself).
const trailWait = 300 * time.Millisecond

// releasePassive opens the passive server's data connection from this host
// (the address the server accepts its client's data connections from) and
// closes it: an upload of nothing, or a download cut short. This ends the
// wait of a server that refused its peer's connection and keeps waiting
// for another (pure-ftpd without FXP allowed, until its idle timeout), so
// that its session does not outlive the attempt.
func (a *attempt) releasePassive() {
	if a.released || a.pasvAddr == "" {
		return
	}
	a.released = true
	p := a.pasv
	a.log.Info("opening the passive server's data connection from this host to end its wait",
		"server", p.name(), "addr", a.pasvAddr)
	d := net.Dialer{Timeout: releaseDialTimeout}
	if ip := net.ParseIP(p.conn.LocalHost()); ip != nil {
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	upload := p == a.d
	a.readers.Add(1)
	go func() {
		defer a.readers.Done()
		c, err := d.Dial("tcp", a.pasvAddr)
		if err != nil {
			a.log.Debug("passive data connection from this host", "server", p.name(), "err", err)
			return
		}
		if tc, ok := c.(*net.TCPConn); ok && !upload {
			_ = tc.SetLinger(0) // a download: cut it short with a reset
		}
		_ = c.Close() // an upload: end it, empty
	}()
}

// close releases the attempt's connections: kept for reuse after a success;
// after a failure, QUIT and destroyed, or reset where a reply is still due
// (the server is busy or stuck: a reset ends even a session that waits in
// accept). It waits for the attempt's goroutines.
func (a *attempt) close(err error) {
	var wg sync.WaitGroup
	for _, sd := range []*side{a.s, a.d} {
		switch {
		case sd.conn == nil:
		case sd.busy():
			if sd == a.d && !sd.ended() {
				a.t.dstUnsettled.Store(true) // its upload may still run
			}
			a.log.Info("resetting a control connection whose transfer did not end", "server", sd.name())
			sd.conn.Reset()
		case err == nil:
			sd.conn.Release(nil)
		default:
			wg.Add(1)
			go func(sd *side) {
				defer wg.Done()
				a.quit(sd, err)
			}(sd)
		}
	}
	if a.stop != nil {
		close(a.stop)
	}
	a.readers.Wait()
	wg.Wait()
}

// quit says QUIT on a connection being dropped (its answer awaited
// QuitWait at most) and destroys it. A passive side given up before its
// transfer command is not waited for: a server may read no command while
// its PASV port waits for a connection (Twisted), so the answer would come
// only after QuitWait, on every refused PORT of the other side.
func (a *attempt) quit(sd *side, why error) {
	ctx, cancel := context.WithTimeout(context.Background(), a.e.timing.quitWait)
	defer cancel()
	listening := sd == a.pasv && !sd.sent
	if err := sd.conn.Send(ctx, "QUIT"); err == nil && !listening {
		_, _ = sd.conn.ReadReply(ctx)
	}
	sd.conn.Release(why)
}
