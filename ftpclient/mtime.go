package ftpclient

import (
	"bytes"
	"context"
	"log/slog"
	"path"
	"strings"
	"time"
)

// Precise mtimes for LIST listings (see MtimePolicy).
const (
	// maxPreciseMtimes bounds the MDTM commands of one listing; files
	// beyond keep LIST's time.
	maxPreciseMtimes = 10000
	// mdtmBatch is how many MDTM commands go out before their replies are
	// read (pipelined: one round trip per batch, not per file).
	mdtmBatch = 64
	// mtimeMemoAge: an MDTM answer is reused for a later listing of the
	// same file only if the time it gave was this much older than the
	// moment it was asked, and LIST gave that time to the minute. A file
	// written later gets the time of its writing, which shows as another
	// listed minute; only a time set explicitly (rsync -a, cp -p, tar x,
	// MFMT) into the same minute, on a file of the same size, would not
	// (README "mtime precision"). The margin covers a server clock that is
	// off by less than this.
	mtimeMemoAge = time.Hour
	// mtimeMemoSize bounds the reused answers kept per server.
	mtimeMemoSize = 1 << 16
)

// mtimeMemo is an MDTM answer kept for reuse, with what LIST said then.
type mtimeMemo struct {
	size   int64
	listed time.Time // LIST's time
	mtime  time.Time // MDTM's
}

// imprecise reports a listed time without seconds (LIST gives minutes for
// recent files, days for older ones).
func imprecise(t time.Time) bool {
	return !t.IsZero() && t.Second() == 0 && t.Nanosecond() == 0
}

// reusable reports whether an MDTM answer may stand for a file listed with
// time listed (see mtimeMemoAge): LIST gave it to the minute. A day (LIST's
// "Mar  4  2021" for files over six months old, parsed as midnight) is never
// reused: rsync -a, cp -p or tar x setting a same-size file's time to
// another hour of the same day would not show. A minute-precision time at
// 00:00 is taken for a day too, which costs only its reuse.
func reusable(listed time.Time) bool {
	return listed.Hour() != 0 || listed.Minute() != 0
}

// forgetMtime drops the MDTM answer kept for server path sp: this client
// changed the file (wrote, removed, renamed it, or set its time), so a
// later listing must ask again even if it shows the same size and time.
func (c *Client) forgetMtime(sp string) {
	c.mtimes.Remove(sp)
}

// preciseMtimes replaces the minute- or day-precision times that LIST gave
// for files (only the one named only, if set: a Stat) by MDTM's, as the
// policy says (see MtimePolicy): pipelined in batches of mdtmBatch, at most
// maxPreciseMtimes per listing. A server that
// fails a batch (e.g. drops pipelined commands) gets one command per round
// trip from then on; the listing keeps its LIST times where MDTM failed and
// the connection, out of step, is not reused.
func (cn *conn) preciseMtimes(sp string, ents []Entry, only string) {
	c := cn.cl
	policy := c.cfg.PreciseMtime
	if policy == MtimeNever || !c.feats().MDTM {
		return
	}
	var todo []int
	for i, e := range ents {
		if e.Type != TypeFile || !imprecise(e.Mtime) || only != "" && e.Name != only {
			continue
		}
		if policy != MtimeAlways && reusable(e.Mtime) {
			if m, ok := c.mtimes.Get(path.Join(sp, e.Name)); ok && m.size == e.Size && m.listed.Equal(e.Mtime) {
				ents[i].Mtime = m.mtime
				continue
			}
		}
		todo = append(todo, i)
	}
	if len(todo) > maxPreciseMtimes {
		c.log.Info("ftp listing: too many files for MDTM, the rest keep LIST's time", slog.String("server", c.cfg.Name),
			slog.String("dir", sp), slog.Int("files", len(todo)), slog.Int("max", maxPreciseMtimes))
		todo = todo[:maxPreciseMtimes]
	}
	batch := mdtmBatch
	if c.mdtmSerial.Load() {
		batch = 1
	}
	for len(todo) > 0 {
		n := min(batch, len(todo))
		if err := cn.mdtmBatch(sp, ents, todo[:n], policy); err != nil {
			cn.ctl.broken.Store(true) // replies may still be on their way
			if n > 1 && isTimeout(err) {
				c.mdtmSerial.Store(true)
			}
			c.log.Warn("ftp listing: MDTM failed; LIST's times kept", slog.String("server", c.cfg.Name),
				slog.String("dir", sp), slog.Int("pipelined", n), slog.Any("err", err))
			return
		}
		todo = todo[n:]
	}
}

// mdtmBatch sends MDTM for the entries at idx at once and reads the replies in order.
func (cn *conn) mdtmBatch(sp string, ents []Entry, idx []int, policy MtimePolicy) error {
	var b bytes.Buffer
	for _, i := range idx {
		line := "MDTM " + path.Join(sp, ents[i].Name)
		if err := checkArg(line); err != nil {
			return err
		}
		b.WriteString(line + "\r\n")
	}
	asked := time.Now()
	if _, err := cn.ctl.Write(b.Bytes()); err != nil {
		return err
	}
	for _, i := range idx {
		r, err := cn.readReply()
		if err != nil {
			return err
		}
		if r.Code != 213 {
			continue // e.g. 550 for a file removed since the listing
		}
		t, err := parseMLSxTime(strings.TrimSpace(r.Msg))
		if err != nil {
			continue
		}
		t = cn.cl.mdtmTime(t)
		if policy != MtimeAlways && reusable(ents[i].Mtime) && t.Before(asked.Add(-mtimeMemoAge)) {
			cn.cl.mtimes.Add(path.Join(sp, ents[i].Name), mtimeMemo{size: ents[i].Size, listed: ents[i].Mtime, mtime: t})
		}
		ents[i].Mtime = t
	}
	return nil
}

// MDTM in local time. RFC 3659 says MDTM answers in UTC; some servers
// (old IIS, Serv-U, others configured so) answer in their local time, and
// every precise time would be off by their UTC offset. Nothing in a
// listing tells, but setting a time does: the first time a file's time is
// set (MFMT or SITE UTIME take UTC), MDTM reads it back once, and an
// answer off by a whole number of quarter hours (at most 14 h) is that
// server's offset, taken off every MDTM answer from then on.

// mdtmTime is an MDTM answer in UTC (see above).
func (c *Client) mdtmTime(t time.Time) time.Time {
	return t.Add(-time.Duration(c.mdtmOffset.Load()))
}

// learnMdtmOffset reads back the time just set on p (see above).
func (c *Client) learnMdtmOffset(ctx context.Context, p string, set time.Time) {
	if c.mdtmChecked.Load() || !c.feats().MDTM {
		return
	}
	r, err := c.simple(ctx, "MDTM", p, true, []int{213}, "MDTM %s", spArg)
	if err != nil {
		return // a directory, or gone: another time
	}
	got, err := parseMLSxTime(strings.TrimSpace(r.Msg))
	if err != nil || c.mdtmChecked.Swap(true) {
		return
	}
	off := got.Truncate(time.Second).Sub(set.Truncate(time.Second))
	if off != 0 && off%(15*time.Minute) == 0 && off.Abs() <= 14*time.Hour {
		c.mdtmOffset.Store(int64(off))
		c.mtimes.Purge()
		c.log.Warn("ftp server answers MDTM in local time, not UTC: correcting its times",
			slog.String("server", c.cfg.Name), slog.Duration("offset", off))
	}
}
