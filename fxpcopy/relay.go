package fxpcopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// relayBuffer is the only memory a relay uses for data, whatever the size.
const relayBuffer = 256 << 10

// relay streams RETR of src into STOR (or REST+STOR at off) of dst through
// this host.
func (e *Engine) relay(ctx context.Context, t *transfer, src, dst Endpoint, size, off int64) (err error) {
	rd, err := src.Client.OpenReadExpect(ctx, src.Path, off, ftpclient.Expect{Size: size})
	if err != nil {
		return fmt.Errorf("relay: read source: %w", err)
	}
	defer func() {
		if cerr := rd.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("relay: finish reading source: %w", cerr)
		}
	}()
	mode := ftpclient.WriteTruncate
	if off > 0 {
		mode = ftpclient.WriteAt
	}
	up, err := dst.Client.OpenWrite(ctx, dst.Path, off, mode)
	if err != nil && off > 0 && errors.Is(err, ftpclient.ErrUnsupported) {
		up, err = dst.Client.OpenWrite(ctx, dst.Path, off, ftpclient.WriteAppend)
	}
	if err != nil {
		err = fmt.Errorf("relay: write destination: %w", err)
		if fileRefusalErr(err) {
			return &dstIntact{err} // refused before anything was written
		}
		return err
	}
	cw := &countingWriter{w: up, n: &t.bytes}
	// Plain Read/Write loop with one fixed buffer (no ReaderFrom/WriterTo
	// shortcuts, no temp file).
	n, err := io.CopyBuffer(struct{ io.Writer }{cw}, struct{ io.Reader }{rd}, make([]byte, relayBuffer))
	if err == nil && n != size-off {
		err = fmt.Errorf("source gave %d bytes, expected %d (did it change during the copy?)", n, size-off)
	}
	if err != nil {
		if aerr := up.Abort(); aerr != nil {
			e.log.Debug("relay: abort upload", "dst", dst.String(), "err", aerr)
		}
		return fmt.Errorf("relay: %w", err)
	}
	if err := up.Close(); err != nil {
		return fmt.Errorf("relay: finish writing destination: %w", err)
	}
	return nil
}

// countingWriter adds what it writes to n (the transfer's live byte count).
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
