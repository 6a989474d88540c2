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
	if off < 0 || (mode == WriteTruncate || mode == WriteAppend) && off != 0 {
		return nil, c.translate(op, p, fmt.Errorf("offset %d with write mode %d: %w", off, mode, ErrUnsupported))
	}
	var cn *conn
	err = retry(ctx, func() (bool, error) { // acquiring only: nothing sent yet
		var err error
		cn, err = c.pool.acquire(ctx)
		return shouldRetry(ctx, err), err
	})
	if err != nil {
		return nil, c.translate(op, p, err)
	}
	u := &upload{c: c, p: p, op: op, cn: cn, done: make(chan struct{})}
	pr, pw := io.Pipe()
	u.pw = pw
	started := make(chan struct{})
	sr := &startReader{r: pr, started: started}
	stop := cn.bind(ctx)
	go func() {
		defer close(u.done)
		sc, err := cn.ftp()
		if err == nil {
			cn.transfer = true
			switch mode {
			case WriteAppend:
				err = sc.Append(sp, sr)
			default:
				err = sc.StorFrom(sp, sr, uint64(off))
			}
			if replyCode(err) >= 200 || err == nil {
				cn.transfer = false // the final reply was read
			}
		}
		u.err = err
		if err == nil {
			err = io.ErrClosedPipe
		}
		pr.CloseWithError(err)
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
		c.pool.release(cn, err)
		return nil, c.explain(ctx, op, p, c.translate(op, p, err))
	default:
	}
	if !survived {
		u.Abort()
		return nil, c.translate(op, p, context.Cause(ctx))
	}
	return u, nil
}

// startReader tells OpenWrite that jlaffaye started copying, i.e. the
// server answered 150 to STOR/APPE.
type startReader struct {
	r       io.Reader
	started chan struct{}
	once    sync.Once
}

func (s *startReader) Read(b []byte) (int, error) {
	s.once.Do(func() { close(s.started) })
	return s.r.Read(b)
}

type upload struct {
	c     *Client
	p, op string
	cn    *conn
	pw    *io.PipeWriter
	done  chan struct{}
	err   error // jlaffaye's result, valid after done
	mu    sync.Mutex
	ended bool
}

func (u *upload) Write(b []byte) (int, error) {
	n, err := u.pw.Write(b)
	if err != nil {
		<-u.done
		if u.err != nil {
			err = u.err
		}
		return n, u.c.translate(u.op, u.p, err)
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
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ended {
		return nil
	}
	u.ended = true
	if abort != nil {
		u.cn.mu.Lock()
		if u.cn.data != nil {
			u.cn.data.aborted.Store(true) // a reset: the server must not take the file as complete
		}
		u.cn.mu.Unlock()
		u.cn.dirty = true // never reuse an aborted upload's connection
		u.pw.CloseWithError(abort)
	} else {
		u.pw.Close()
	}
	<-u.done
	err := u.err
	if abort != nil {
		err = errors.Join(abort, err)
	}
	u.c.pool.release(u.cn, err)
	if abort != nil || err == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), u.c.cfg.CmdTimeout)
	defer cancel()
	return u.c.explain(ctx, u.op, u.p, u.c.translate(u.op, u.p, err))
}
