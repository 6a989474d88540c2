package ftpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
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

// OpenWrite starts an upload to p. It holds one pooled connection until
// Close/Abort. It returns once the server has accepted the STOR/APPE (so a
// refusal is reported here); ctx governs that opening only. Uploads are
// never retried: a failure after data was sent is the caller's to handle.
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
	var cn *conn
	err = retry(ctx, func() (bool, error) { // acquiring only: nothing sent yet
		var err error
		cn, err = c.sched.acquire(ctx, classXfer)
		return shouldRetry(ctx, err), err
	})
	if err != nil {
		return nil, c.translate(op, p, err)
	}
	src := &source{started: make(chan struct{}), end: make(chan error, 1)}
	u := &upload{c: c, p: p, op: op, cn: cn, src: src, done: make(chan struct{})}
	started := src.started
	stop := cn.bind(ctx)
	go func() {
		defer close(u.done)
		sc, err := cn.ftp()
		if err == nil {
			cn.transfer = true
			switch mode {
			case WriteAppend:
				err = sc.Append(sp, src)
			default:
				err = sc.StorFrom(sp, src, uint64(off))
			}
			if replyCode(err) >= 200 || err == nil {
				cn.transfer = false // the final reply was read
			}
		}
		u.err = withCmd(cn, err)
	}()
	select {
	case <-started:
	case <-u.done:
	}
	survived := stop()
	select {
	case <-u.done: // refused (or interrupted) before any data
		err := u.err
		if !survived && ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", context.Cause(ctx), err)
		}
		if err == nil {
			err = errProtocolf("upload ended before it started")
		}
		c.sched.release(cn, err)
		return nil, c.explain(ctx, op, p, c.translate(op, p, err))
	default:
	}
	if !survived {
		u.Abort()
		return nil, c.translate(op, p, context.Cause(ctx))
	}
	return u, nil
}

// source is what jlaffaye uploads from. Its io.Copy calls WriteTo with the
// data connection once the server has accepted STOR/APPE (150); WriteTo
// hands the connection to upload.Write, which writes into it directly from
// the caller's goroutine (no pipe: no copy and no goroutine switch per
// Write, one socket write per call), and returns when the upload ends.
type source struct {
	started chan struct{} // closed when WriteTo has dst
	dst     io.Writer     // the data connection, set before started
	end     chan error    // the upload's end: nil (all sent) or why it stops
	n       atomic.Int64  // bytes written to dst
}

// WriteTo waits for the end of the upload while upload.Write fills w.
func (s *source) WriteTo(w io.Writer) (int64, error) {
	s.dst = w
	close(s.started)
	err := <-s.end
	return s.n.Load(), err
}

// Read is never used: io.Copy prefers WriteTo.
func (s *source) Read([]byte) (int, error) {
	return 0, errProtocolf("upload source read without WriteTo")
}

type upload struct {
	c     *Client
	p, op string
	cn    *conn
	src   *source
	done  chan struct{}
	err   error // jlaffaye's result, valid after done
	mu    sync.Mutex
	ended bool  // the data stream was ended (src.end sent)
	werr  error // sticky error of a failed Write
	// rmu guards released: Abort may reset the data connection while a
	// Write is blocked in it, but never once the connection is back in the
	// pool.
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
	if u.ended {
		return 0, u.c.translate(u.op, u.p, ErrClosed)
	}
	n, err := u.src.dst.Write(b)
	u.src.n.Add(int64(n))
	if err != nil {
		// The transfer is over: let jlaffaye read the final reply, which
		// says why (552 quota, 426...).
		u.ended = true
		u.src.end <- err
		<-u.done
		if u.err != nil {
			err = u.err
		}
		u.werr = u.c.translate(u.op, u.p, err)
		return n, u.werr
	}
	return n, nil
}

// Close ends the data stream and returns the server's verdict.
func (u *upload) Close() error {
	return u.finish(nil)
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
	if abort != nil {
		u.cn.mu.Lock()
		if u.cn.data != nil {
			u.cn.data.aborted.Store(true) // a reset: the server must not take the file as complete
		}
		u.cn.mu.Unlock()
		u.cn.dirty = true // never reuse an aborted upload's connection
	}
	if !u.ended {
		u.ended = true
		end := abort
		if abort == nil && u.src.n.Load() == 0 {
			end = handshakeEmpty(u.src.dst)
		}
		u.src.end <- end
	}
	<-u.done
	err := u.err
	if abort != nil {
		err = errors.Join(abort, err)
	}
	u.rmu.Lock()
	u.released = true
	u.rmu.Unlock()
	u.c.sched.release(u.cn, err)
	if abort != nil || err == nil {
		if abort == nil && u.werr != nil {
			return u.werr
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), u.c.cfg.CmdTimeout)
	defer cancel()
	return u.c.explain(ctx, u.op, u.p, u.c.translate(u.op, u.p, err))
}

// handshakeEmpty completes the TLS handshake of an upload that wrote
// nothing (an empty file, ProbeWritable's APPE of nothing): crypto/tls
// shakes hands on the first Write, and a protected data connection closed
// before it is a failed upload to every server (proftpd "425 Unable to
// build data connection: Operation not permitted", pure-ftpd and vsftpd
// drop the session). jlaffaye does it for StorFrom but not for Append.
func handshakeEmpty(w io.Writer) error {
	if hs, ok := w.(interface{ Handshake() error }); ok {
		return hs.Handshake()
	}
	return nil
}
