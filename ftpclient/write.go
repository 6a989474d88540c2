package ftpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// WriteMode selects how an upload starts.
type WriteMode int

// Upload modes.
const (
	WriteTruncate WriteMode = iota // STOR (off must be 0)
	WriteAt                        // REST off + STOR
	WriteAppend                    // APPE
)

// Upload is a streaming STOR/APPE. Write feeds the data channel; Close ends
// the data and waits for the server's final reply: its error is the upload's
// result. Abort stops the transfer (ABOR) and returns; the partial file is
// left for the caller to delete.
type Upload interface {
	io.Writer
	Close() error
	Abort() error
}

var errAborted = errors.New("upload aborted")

// OpenWrite starts an upload to p. It holds one connection (a slot of the
// server's scheduler) until Close/Abort. It returns once the server has
// accepted the STOR/APPE (so a refusal is reported here); ctx governs that
// opening only. Uploads are never retried: a failure after data was sent
// is the caller's to handle. WriteAt needs a working REST: where the server
// has none (or ignores it) it fails with ErrUnsupported, never writing at 0.
func (c *Client) OpenWrite(ctx context.Context, p string, off int64, mode WriteMode) (Upload, error) {
	op := "STOR"
	if mode == WriteAppend {
		op = "APPE"
	}
	sp, err := c.sp(p)
	if err != nil {
		return nil, c.translate(op, p, err)
	}
	c.forgetMtime(sp)
	if off < 0 || (mode == WriteTruncate || mode == WriteAppend) && off != 0 {
		return nil, c.translate(op, p, fmt.Errorf("offset %d with write mode %d: %w", off, mode, ErrUnsupported))
	}
	if off > 0 && c.noRest.Load() {
		return nil, c.translate(op, p, fmt.Errorf("writing at offset %d: the server has no working REST: %w", off, ErrUnsupported))
	}
	var cn *conn
	err = retry(ctx, func() (bool, error) { // acquiring only: nothing sent yet
		var err error
		cn, err = c.sched.acquire(ctx, classXfer)
		return shouldRetry(ctx, err), err
	})
	if err != nil {
		return nil, c.translate(op, p, err)
	}
	var x *xfer
	stop := cn.bind(ctx)
	if off > 0 {
		// REST is checked on the file itself (it holds off bytes) before
		// it is trusted to place an upload: see rest.go.
		var start int64
		if start, err = cn.restOffset(sp, off, &Expect{Size: off}); err == nil && start != off {
			err = errRestIgnored
		}
		if errors.Is(err, errRestIgnored) {
			err = fmt.Errorf("writing at offset %d: %w: %w", off, err, ErrUnsupported)
		}
	}
	var r Reply
	if err == nil {
		x, r, err = cn.startXfer(op+" "+sp, off, true)
	}
	if err == nil && x == nil {
		err = withCmd(cn, expect(r, 125, 150))
	}
	survived := stop()
	if !survived && ctx.Err() != nil {
		if err == nil {
			err = errAborted
		}
		err = fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	}
	if err != nil {
		err = withCmd(cn, err)
		c.restRefused(err)
		c.sched.release(cn, err)
		return nil, c.explain(ctx, op, p, c.translate(op, p, err))
	}
	return &upload{c: c, p: p, op: op, cn: cn, x: x}, nil
}

type upload struct {
	c     *Client
	p, op string
	cn    *conn
	x     *xfer
	mu    sync.Mutex // serialises Write and finish
	werr  error      // sticky error of a failed Write
	// rmu guards released: Abort may reset the data connection while a
	// Write is blocked in it, but never once the connection is back with
	// the scheduler.
	rmu      sync.Mutex
	released bool
}

// Write sends b on the data connection.
func (u *upload) Write(b []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.werr != nil {
		return 0, u.werr
	}
	if u.released {
		return 0, u.c.translate(u.op, u.p, ErrClosed)
	}
	n, err := u.x.dc.Write(b)
	if err != nil {
		// The transfer is over: the final reply says why (552 quota,
		// 426...). It is due within CmdTimeout of the data's end.
		u.x.dc.abort()
		<-u.x.done
		if rerr := u.x.result(); rerr != nil {
			err = rerr
		}
		u.werr = u.c.translate(u.op, u.p, err)
		return n, u.werr
	}
	return n, nil
}

// Abort stops the transfer; the connection is not reused.
func (u *upload) Abort() error {
	u.finish(errAborted)
	return nil
}

func (u *upload) finish(abort error) error {
	if abort != nil && !u.mu.TryLock() {
		// A Write is blocked in the data connection: reset it (which the
		// server sees as a failed upload) so that the Write returns.
		u.rmu.Lock()
		if !u.released {
			u.cn.abortData()
		}
		u.rmu.Unlock()
		u.mu.Lock()
	} else if abort == nil {
		u.mu.Lock()
	}
	defer u.mu.Unlock()
	if u.released {
		return nil
	}
	var err error
	switch {
	case abort != nil:
		// A reset: the server must not take the file as complete. Its
		// reply (due within CmdTimeout) says the upload has ended, so
		// that a caller removing the file does not race the server.
		u.cn.dirty = true // never reuse an aborted upload's connection
		u.cn.abortData()
		<-u.x.done
		err = errors.Join(abort, u.x.result())
	case u.werr != nil:
		err = u.werr
	default:
		err = u.x.finish()
	}
	u.rmu.Lock()
	u.released = true
	u.rmu.Unlock()
	u.c.sched.release(u.cn, err)
	if abort != nil || err == nil || u.werr != nil {
		if abort == nil && u.werr != nil {
			return u.werr
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), u.c.cfg.CmdTimeout)
	defer cancel()
	return u.c.explain(ctx, u.op, u.p, u.c.translate(u.op, u.p, err))
}

// Close ends the data stream and returns the server's verdict: its final
// reply, and for a name servers are known to rewrite, whether the file is
// there under that name (names.go).
func (u *upload) Close() error {
	u.mu.Lock()
	again := u.released
	u.mu.Unlock()
	if err := u.finish(nil); err != nil || again || u.op != "STOR" {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), u.c.cleanupWait())
	defer cancel()
	return u.c.checkStored(ctx, u.op, u.p, false)
}
