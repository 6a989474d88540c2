package ftpclient

import (
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// Restarting a download at an offset (REST). Servers without REST (502)
// are read from the start, the bytes before the offset dropped: slower,
// right. Worse are servers that answer "350" and then send the file from
// its start anyway: the bytes would land at the wrong offset, silently. A
// server whose FEAT says "REST STREAM" (RFC 3659: vsftpd, pure-ftpd,
// proftpd, pyftpdlib, IIS, FileZilla Server...) is trusted; any other is
// checked once, on the first transfer at an offset: REST size-1 of that
// file must bring exactly one byte. A server that sends more is treated as
// one without REST from then on.

// errRestIgnored: the server accepted REST and sent the file from its start.
var errRestIgnored = errors.New("server ignores REST (sends the file from its start)")

// restOffset says where a download meant to start at off starts on the
// wire: off, or 0 where REST does not work (the caller drops the bytes
// before off). The first time REST is needed it is checked (see the top of
// this file), with the size SIZE gives (want's only without SIZE).
func (cn *conn) restOffset(sp string, off int64, want *Expect) (int64, error) {
	c := cn.cl
	if off == 0 || c.noRest.Load() {
		return 0, nil
	}
	if c.restChecked.Load() || c.feats().REST {
		return off, nil
	}
	// The file's size now, not the caller's (want): a file replaced since
	// it was listed would make a working REST look ignored. want only
	// where the server has no SIZE.
	size := int64(-1)
	if r, err := cn.cmd("SIZE %s", sp); err == nil && r.Code == 213 {
		size, _ = strconv.ParseInt(strings.TrimSpace(r.Msg), 10, 64)
	} else if want != nil {
		size = want.Size
	}
	if size < 2 {
		return off, nil // nothing to check it with: trust it this once
	}
	ignored, err := cn.probeRest(sp, size)
	if err != nil {
		return 0, err
	}
	if ignored {
		c.noRest.Store(true)
		c.log.Warn("ftp server ignores REST: downloads at an offset start at byte 0 from now on",
			slog.String("server", c.cfg.Name))
		return 0, errRestIgnored
	}
	c.restChecked.Store(true)
	return off, nil
}

// probeRest downloads the last byte of a file of size bytes with REST and
// reports whether more than that one byte came. A connection that got more
// is out of step and marked broken.
func (cn *conn) probeRest(sp string, size int64) (ignored bool, err error) {
	x, r, err := cn.startXfer("RETR "+sp, size-1, false, -1)
	if err != nil {
		return false, err
	}
	if x == nil {
		return false, withCmd(cn, expect(r, 125, 150))
	}
	var buf [2]byte
	n, rerr := io.ReadFull(x.dc, buf[:])
	if n == 2 {
		cn.ctl.broken.Store(true)
		cn.abortData()
		return true, nil
	}
	if ferr := x.finish(); ferr != nil {
		return false, ferr
	}
	if rerr != nil && !errors.Is(rerr, io.ErrUnexpectedEOF) && !errors.Is(rerr, io.EOF) {
		return false, rerr
	}
	return false, nil
}

// restRefused reports a REST the server does not know (500, 502, 504), and
// remembers it: later downloads start at 0 and drop what comes before.
func (c *Client) restRefused(err error) bool {
	var re *replyError
	if !errors.As(err, &re) || re.cmd != "REST" {
		return false
	}
	switch replyCode(err) {
	case 500, 502, 504:
		if !c.noRest.Swap(true) {
			c.log.Info("ftp server has no REST: downloads at an offset start at byte 0",
				slog.String("server", c.cfg.Name))
		}
		return true
	}
	return false
}
