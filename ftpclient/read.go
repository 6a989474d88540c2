package ftpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// earlyCloseWait bounds how long closing a download before its end waits
// for the server's final reply before giving up on the connection.
const earlyCloseWait = 5 * time.Second

// abortSettle is how long an early close waits for a second reply to ABOR.
const abortSettle = 250 * time.Millisecond

// maxReopens bounds transparent reconnections of one download.
const maxReopens = 3

// OpenRead starts a RETR of p at offset off (REST). The returned stream holds
// one connection (a slot of the server's scheduler) until Close. Reads time
// out after DataTimeout without progress. Close before EOF aborts the
// transfer cleanly.
//
// ctx governs the opening only (FUSE cancels an open's ctx when the open
// returns); later reads are bounded by DataTimeout. A read that fails on a
// broken connection, or whose final reply is 421/426, reopens the transfer
// at the current offset (up to three times), so callers see no error for a
// server that dropped the connection. The stream is not safe for concurrent use.
func (c *Client) OpenRead(ctx context.Context, p string, off int64) (io.ReadCloser, error) {
	return c.openRead(ctx, p, off, nil)
}

// Expect is what the caller knows of a file it reads (from a listing).
type Expect struct {
	Size  int64     // the whole file's size
	Mtime time.Time // its mtime, or zero; used only when precise (see OpenReadExpect)
}

// OpenReadExpect is OpenRead for a file whose size the caller knows. A
// transfer that the server ends normally (226) before want.Size bytes is
// checked against the server: if SIZE (else the listing) still gives
// want.Size, and MDTM (where offered, and only when want.Mtime has seconds,
// i.e. came from MLSD or MDTM rather than LIST) still gives want.Mtime, the
// read fails with an error wrapping ErrShortRead; if the file changed, the
// stream ends (io.EOF) where the server ended it. A short read is never a
// silent EOF of an unchanged file.
func (c *Client) OpenReadExpect(ctx context.Context, p string, off int64, want Expect) (io.ReadCloser, error) {
	return c.openRead(ctx, p, off, &want)
}

func (c *Client) openRead(ctx context.Context, p string, off int64, want *Expect) (io.ReadCloser, error) {
	sp, err := c.sp(p)
	if err != nil {
		return nil, c.translate("RETR", p, err)
	}
	if off < 0 {
		return nil, c.translate("RETR", p, errProtocolf("negative offset %d", off))
	}
	rs := &readStream{c: c, p: p, sp: sp, off: off, res: reservationFrom(ctx), want: want}
	if err := rs.open(ctx); err != nil {
		if off > 0 && restPastEnd(err) {
			// Reading at or past the end is EOF, as for a local file;
			// some servers (pure-ftpd) refuse such a REST with 554.
			return io.NopCloser(strings.NewReader("")), nil
		}
		return nil, err
	}
	return rs, nil
}

// restPastEnd reports a refused restart offset: RFC 959's "554 Requested
// action not taken: invalid REST parameter".
func restPastEnd(err error) bool {
	var oe *OpError
	return errors.As(err, &oe) && oe.Code == 554
}

type readStream struct {
	c       *Client
	p, sp   string
	off     int64 // offset of the next byte
	mu      sync.Mutex
	cn      *conn
	x       *xfer // the transfer in flight, nil between transfers
	skip    int64 // bytes of x to drop before off (a server without REST: the transfer starts at 0)
	reopens int
	res     *Reservation // the reservation the stream's slot comes from, for reopening
	want    *Expect      // what the caller expects the file to be (OpenReadExpect)
	done    bool         // EOF delivered or closed
	err     error        // sticky error
	closing atomic.Bool
	cur     atomic.Pointer[conn] // rs.cn, for Close to interrupt a blocked Read
	used    atomic.Int64         // UnixNano of the last Read's end, for reclaim
}

// open acquires a connection and starts RETR at rs.off: after REST, or
// where the server has no working REST from the start, dropping the bytes
// before rs.off (see restOffset).
func (rs *readStream) open(ctx context.Context) error {
	c := rs.c
	err := retry(ctx, func() (bool, error) {
		cn, err := c.sched.acquire(ctx, classXfer)
		if err != nil {
			return shouldRetry(ctx, err), err
		}
		var x *xfer
		start := rs.off
		err = c.run(ctx, cn, func(cn *conn) error {
			if start, err = cn.restOffset(rs.sp, rs.off, rs.want); err != nil {
				return err
			}
			var r Reply
			if x, r, err = cn.startXfer("RETR "+rs.sp, start, false); err == nil && x == nil {
				err = withCmd(cn, expect(r, 125, 150))
			}
			return err
		})
		if err != nil {
			c.sched.release(cn, err)
			if c.restRefused(err) || errors.Is(err, errRestIgnored) {
				return true, err // again, without REST
			}
			return shouldRetry(ctx, err), err
		}
		rs.cn, rs.x, rs.skip = cn, x, rs.off-start
		rs.cur.Store(cn)
		rs.used.Store(time.Now().UnixNano())
		c.sched.setReclaimer(cn, rs)
		return false, nil
	})
	return c.explainRead(ctx, rs.p, c.translate("RETR", rs.p, err))
}

// checkShort decides what a transfer ended early by the server means: nil
// (an EOF) when the file changed on the server, else an ErrShortRead.
func (rs *readStream) checkShort() error {
	c := rs.c
	ctx, cancel := context.WithTimeout(context.Background(), 2*(c.cfg.DialTimeout+c.cfg.CmdTimeout))
	defer cancel()
	short := func(why string) error {
		err := fmt.Errorf("server ended the transfer at byte %d of %d (%s): %w", rs.off, rs.want.Size, why, ErrShortRead)
		c.log.Warn("ftp download cut short", "server", c.cfg.Name, "path", rs.p, "err", err)
		return c.translate("RETR", rs.p, err)
	}
	size, err := c.Size(ctx, rs.p)
	if err != nil {
		var e Entry
		if e, err = c.Stat(ctx, rs.p); err == nil {
			size = e.Size
		}
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return nil // removed meanwhile: what we read is what there was
	case err != nil:
		return short("and its size could not be checked: " + err.Error())
	case size != rs.want.Size:
		c.log.Info("ftp file changed while being read", "server", c.cfg.Name, "path", rs.p,
			"size_was", rs.want.Size, "size_now", size)
		return nil
	}
	if mt := rs.want.Mtime; !mt.IsZero() && !mt.Truncate(time.Minute).Equal(mt) && c.feats().MDTM {
		now, err := c.ModTime(ctx, rs.p)
		if err == nil && !now.Truncate(time.Second).Equal(mt.Truncate(time.Second)) {
			c.log.Info("ftp file changed while being read", "server", c.cfg.Name, "path", rs.p,
				"mtime_was", mt, "mtime_now", now)
			return nil
		}
	}
	return short("file unchanged")
}

// explainRead refines a refused RETR: a directory, or missing.
func (c *Client) explainRead(ctx context.Context, p string, err error) error {
	var oe *OpError
	if !errors.As(err, &oe) || oe.Code == 0 || ctx.Err() != nil {
		return err
	}
	if e, serr := c.Stat(ctx, p); serr == nil && e.Type == TypeDir {
		oe.Kind = ErrIsDir
	} else if serr == nil && errors.Is(oe.Kind, ErrNotFound) {
		oe.Kind = ErrPermission
	}
	return err
}

func (rs *readStream) Read(b []byte) (int, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	defer rs.used.Store(time.Now().UnixNano())
	for {
		if rs.err != nil {
			return 0, rs.err
		}
		if rs.closing.Load() && !rs.done {
			return 0, rs.c.translate("RETR", rs.p, ErrClosed)
		}
		if rs.done {
			return 0, io.EOF
		}
		if rs.x == nil {
			ctx, cancel := context.WithTimeout(context.Background(), rs.c.cfg.DialTimeout+rs.c.cfg.CmdTimeout)
			if rs.res != nil {
				ctx = rs.res.Bind(ctx)
			}
			err := rs.open(ctx)
			cancel()
			if err != nil {
				rs.err = err
				return 0, err
			}
		}
		buf := b
		if rs.skip > 0 {
			buf = b[:min(int64(len(b)), rs.skip)]
		}
		var n int
		var err error
		if rs.complete() {
			err = io.EOF // see complete: no wait for a data connection the server may never close
		} else {
			n, err = rs.x.dc.Read(buf)
		}
		if rs.skip > 0 {
			rs.skip -= int64(n)
			n = 0
		} else {
			rs.off += int64(n)
		}
		if err == nil {
			if n == 0 {
				continue // skipping
			}
			return n, nil
		}
		if errors.Is(err, io.EOF) {
			// The data connection ended: only the final reply says
			// whether that was the whole file.
			err = rs.x.finish()
		}
		rs.c.sched.release(rs.cn, err)
		rs.cn, rs.x = nil, nil
		rs.cur.Store(nil)
		if err == nil {
			rs.done = true
			if rs.want != nil && rs.off < rs.want.Size {
				rs.err = rs.checkShort()
			}
			if n > 0 {
				return n, nil // the error, if any, comes with the next Read
			}
			if rs.err != nil {
				return 0, rs.err
			}
			return 0, io.EOF
		}
		if rs.closing.Load() {
			rs.err = rs.c.translate("RETR", rs.p, ErrClosed)
			return n, rs.err
		}
		if !shouldRetry(context.Background(), err) || rs.reopens >= maxReopens {
			rs.err = rs.c.translate("RETR", rs.p, err)
			return n, rs.err
		}
		rs.reopens++
		rs.c.log.Info("ftp download interrupted; resuming", "server", rs.c.cfg.Name, "path", rs.p,
			"offset", rs.off, "err", err)
		if n > 0 {
			return n, nil
		}
	}
}

// complete reports whether the download has every byte the caller expects
// and the server has said the transfer is complete (2xx): the end of the
// data connection need not be waited for (a server that never closes it
// would otherwise cost finalGrace per file).
func (rs *readStream) complete() bool {
	x := rs.x
	return rs.want != nil && rs.skip == 0 && rs.off == rs.want.Size && x.ended() && x.err == nil && x.rep.Code/100 == 2
}

// Close ends the download. Before EOF it resets the data connection, sends
// ABOR (so that servers blocked in the transfer notice: pure-ftpd over TLS
// otherwise never answers), reads the transfer's reply (426/451/226) and
// ABOR's (225/226, or 500 where ABOR is unknown), then syncs with NOOP.
// Then the connection is known to be in sync and goes back to the idle list; if
// that takes longer than earlyCloseWait it is destroyed.
//
// Close may be called while a Read blocks in another goroutine: it then
// resets the data connection to end that Read at once.
func (rs *readStream) Close() error {
	rs.closing.Store(true)
	if !rs.mu.TryLock() {
		if cn := rs.cur.Load(); cn != nil {
			cn.abortData()
		}
		rs.mu.Lock()
	}
	defer rs.mu.Unlock()
	if rs.done && rs.x == nil {
		return nil
	}
	rs.done = true
	if rs.x == nil {
		return nil
	}
	rs.stop()
	return nil
}

// stop ends the transfer in flight and gives the connection back (see
// Close). Called with rs.mu held and rs.x set.
func (rs *readStream) stop() {
	cn, x := rs.cn, rs.x
	rs.cn, rs.x = nil, nil
	rs.cur.Store(nil)
	saved := cn.ctl.timeout()
	cn.ctl.setTimeout(min(saved, earlyCloseWait))
	cn.abortData()
	// RFC 959 4.1.3 says two replies come, the transfer's (426, or 226 if
	// it had finished) and ABOR's (225/226), but pure-ftpd over TLS sends
	// only ABOR's. So after a 225/226 wait briefly for a second one. NOOP
	// only afterwards: pure-ftpd discards commands that arrive while it aborts.
	_, err := cn.ctl.Write([]byte("ABOR\r\n"))
	var r Reply
	if err == nil {
		<-x.done // the first reply after the transfer's 1xx; due within earlyCloseWait
		r, err = x.rep, x.err
	}
	if err == nil && (r.Code != 225 && r.Code != 226 || cn.waitMore(abortSettle)) {
		_, err = cn.readReply()
	}
	if err == nil {
		err = cn.sync()
	}
	cn.ctl.setTimeout(saved)
	if err == nil {
		cn.transfer = false
	}
	rs.c.sched.release(cn, err)
}

// idleSince is when the stream was last read (for the scheduler's reclaim).
func (rs *readStream) idleSince() time.Time { return time.Unix(0, rs.used.Load()) }

// reclaim gives the connection back to the scheduler while nobody reads: a
// server capped below our connection count would otherwise leave a caller
// waiting forever behind open but unread streams. The next Read reopens
// the transfer at the same offset.
func (rs *readStream) reclaim() {
	if !rs.mu.TryLock() {
		return // a Read is running: not idle after all
	}
	defer rs.mu.Unlock()
	if rs.x == nil || rs.done {
		return
	}
	rs.c.log.Debug("ftp download parked to free a connection", "server", rs.c.cfg.Name, "path", rs.p,
		"offset", rs.off)
	rs.stop()
}
