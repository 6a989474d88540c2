package ftpclient

import (
	"fmt"
	"net/textproto"
	"strings"
	"time"
)

// Transfers (RETR, STOR, APPE and the listings) run on our own control
// channel, not on jlaffaye/ftp's RetrFrom/StorFrom. Servers differ in ways
// jlaffaye does not take (measured with ftptest.StartQuirky): a PASV reply
// without parentheses ("227 Entering Passive Mode h1,h2,h3,h4,p1,p2") fails
// its parser; a transfer ending with 250 instead of 226 is an error to it;
// and it reads the final reply only after the data connection ends, so a
// server that sends "226" (or "451") and never closes the data connection
// holds it until the data timeout. Here a goroutine reads the final reply
// while the data flows (watch), so such a transfer ends in a moment.

// finalGrace is how long a download's data connection may stay silent
// after the server said the transfer is complete (2xx) before it counts
// as ended: data still in flight arrives within it; a server that never
// closes the connection is not waited for until the data timeout.
func (c *Client) finalGrace() time.Duration { return min(c.cfg.DataTimeout/4, 5*time.Second) }

// xfer is one transfer in flight on a connection: its data connection and
// its final reply, read by watch while the data flows.
type xfer struct {
	cn   *conn
	verb string
	dc   *dataConn
	up   bool          // an upload
	done chan struct{} // closed once rep/err are set
	rep  Reply         // the final reply
	err  error         // reading it failed
}

// startXfer opens a passive data connection (openData), sends REST off
// when off > 0 and then cmd ("RETR /p"), and returns once the server has
// accepted the transfer (125/150). A refused REST is an error (tagged REST,
// so that translate says ErrUnsupported for 502). Any other reply to cmd
// than 1xx comes back as r with x nil: the caller decides (an empty
// listing's 226, a refusal).
func (cn *conn) startXfer(cmd string, off int64, up bool) (x *xfer, r Reply, err error) {
	nc, err := cn.openData()
	if err != nil {
		return nil, Reply{}, err
	}
	dc := nc.(*dataConn)
	if off > 0 {
		if r, err = cn.cmd("REST %d", off); err == nil {
			err = expect(r, 350)
		}
		if err != nil {
			dc.abort()
			return nil, Reply{}, withCmd(cn, err)
		}
	}
	r, err = cn.cmd("%s", cmd)
	// Other preliminary replies (110 restart markers, 120) come before the 1xx that opens the transfer.
	for i := 0; err == nil && r.Code < 200 && r.Code != 125 && r.Code != 150 && i < 4; i++ {
		r, err = cn.readReply()
	}
	if err != nil {
		dc.abort()
		return nil, Reply{}, err
	}
	if r.Code != 125 && r.Code != 150 {
		dc.abort()
		return nil, r, nil
	}
	verb, _, _ := strings.Cut(cmd, " ")
	cn.transfer = true
	x = &xfer{cn: cn, verb: verb, dc: dc, up: up, done: make(chan struct{})}
	// The final reply comes when the data ends, which may be hours away;
	// the end of the data connection (dataConn.Close) arms its deadline.
	cn.ctl.unbounded()
	go x.watch()
	return x, r, nil
}

// watch reads the transfer's final reply as soon as it comes. A refusal
// (426, 451, 452...) ends the data connection at once: a server that says
// so and keeps it open would otherwise hold a reader or a writer until the
// data timeout. A download's 2xx with the data connection still open
// ends it once no data came for finalGrace.
func (x *xfer) watch() {
	r, err := x.cn.readReply()
	x.rep, x.err = r, err
	close(x.done)
	switch {
	case err != nil:
	case r.Code/100 != 2:
		x.dc.endNow()
	case !x.up:
		x.dc.endWhenQuiet(x.cn.cl.finalGrace())
	}
}

// result is the transfer's outcome once done is closed: nil for a 2xx,
// else the reply (tagged with the transfer's command) or the read error.
func (x *xfer) result() error {
	if x.err != nil {
		return x.err
	}
	x.cn.transfer = false
	if x.rep.Code/100 == 2 {
		return nil
	}
	return &replyError{cmd: x.verb, err: &textproto.Error{Code: x.rep.Code, Msg: x.rep.Msg}}
}

// finish ends the data side (an upload's with a half-close, after a TLS
// handshake where nothing was written: servers want one), then waits for
// the final reply, due within CmdTimeout of the data's end.
func (x *xfer) finish() error {
	var herr error
	if x.up && !x.dc.wrote.Load() {
		herr = x.dc.Handshake()
	}
	cerr := x.dc.Close()
	<-x.done
	if err := x.result(); err != nil {
		return err
	}
	if herr != nil {
		return fmt.Errorf("data connection: %w", herr)
	}
	if cerr != nil && x.up {
		return fmt.Errorf("data connection: %w", cerr)
	}
	return nil
}

// ended reports whether the final reply is in.
func (x *xfer) ended() bool {
	select {
	case <-x.done:
		return true
	default:
		return false
	}
}
