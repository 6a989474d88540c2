package vfs

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/fxpcopy"
	"github.com/fxpfs/fxpfs/internal/vfs/streammatch"
)

// Stream matching (issue 6 §1): programs that copy by reading and writing
// (rsync, gio copy, shutil.copyfile, dd, tar) write a file on one server
// with the bytes they have just read through the mount from a file on
// another. vfs recognises that from the data (package streammatch) and
// carries the copy out server-to-server by FXP instead of uploading it.
//
// Reader side: every read-only handle of a file has a Tap, fed with every
// byte the mount serves before the reply goes to the kernel.
//
// Writer side: a handle writing a new or truncated file from offset 0
// holds its first block (streammatch's block size, 256 KiB) in memory and
// feeds a streammatch.Writer. When the block is complete:
//   - no source agrees, or the source is below Options.MatchMin (an upload
//     costs less than an FXP's round trips): the block is sent by STOR and
//     the handle streams on as for any upload;
//   - a source agrees (Likely): the written bytes go on to a local spool
//     (0600, in the private spool directory, unnamed) instead of the
//     network, the source's SIZE and MDTM are taken, and an FXP copy of the
//     source to a temporary name next to the destination starts at once
//     (fxpcopy, Origin "matched write stream"), so that it ends about when
//     the program ends.
//
// At close (flush) the handle waits for the FXP, and accepts it only when
// all of these hold: the matcher proves that every written byte equals the
// source's byte at the same offset and the lengths are equal (Verdict
// Proven, for the FXP's source); the FXP succeeded (fxpcopy verifies the
// destination's size, and a common hash where both servers have one); the
// source's SIZE and MDTM are the same after the FXP as before it and as
// the version the program read; and, where the destination server can hash
// a file (HASH, XSHA1, XMD5, XCRC), its digest of the copy equals the
// digest of the written bytes. The temporary is then renamed into place as
// for any upload (replace.go). Anything else (a mismatch, a seek or a write
// elsewhere, a read of the written file, a truncate, a source changed on
// its server, a failed FXP) cancels the FXP, removes its temporary, and
// uploads the spool: nothing is lost, the upload just happens. Times,
// modes and renames that follow (rsync -a sets them on its temporary name,
// then renames it) apply to the file as for any upload.
//
// What the checks cannot see: a source rewritten on its server with the
// same size and the same MDTM second between the program's read and the
// FXP, on a destination that cannot hash. MDTM has seconds; LIST-only
// servers without MDTM are compared at the listing's precision.

// matching is a writing handle's stream matching (state stateMatching).
type matching struct {
	w    *streammatch.Writer
	buf  []byte               // the first block, until the decision (then nil: the spool holds it)
	src  streammatch.SourceID // the FXP's source, once started
	at   srcVersion           // the source's SIZE and MDTM when the FXP started
	cl   *ftpclient.Client    // the source's server
	algs []streammatch.Algo   // digests the destination can check
	feat ftpclient.Features   // the destination's
}

// srcVersion is a file's SIZE and MDTM (zero if the server has none).
type srcVersion struct {
	size  int64
	mtime time.Time
}

// versionOf asks p's server for its SIZE and MDTM; SIZE's reply time is
// a round trip for link.go.
func (v *VFS) versionOf(ctx context.Context, cl *ftpclient.Client, p string) (srcVersion, error) {
	t0 := time.Now()
	size, err := cl.Size(ctx, p)
	if err != nil {
		return srcVersion{}, err
	}
	v.link(cl).roundTrip(time.Since(t0))
	mt, err := cl.ModTime(ctx, p)
	if err != nil && !errors.Is(err, ftpclient.ErrUnsupported) {
		return srcVersion{}, err
	}
	return srcVersion{size: size, mtime: mt}, nil
}

// sameTime reports whether the server's time t is the listed time l, at
// the listing's precision (LIST gives minutes: no seconds).
func sameTime(l, t time.Time) bool {
	if l.IsZero() || t.IsZero() {
		return true // nothing to compare with
	}
	prec := time.Second
	if l.Second() == 0 && l.Nanosecond() == 0 {
		prec = time.Minute
	}
	return l.Truncate(prec).Equal(t.Truncate(prec))
}

// mayMatch reports whether a write of a new file from offset 0 should be
// matched: an engine to copy with, and sources read recently.
func (v *VFS) mayMatch() bool {
	if v.ix == nil || v.copyFn == nil {
		return false
	}
	v.served.flush() // what was served so far, to the matcher (served.go)
	return v.ix.Stats().Sources > 0
}

// startMatching puts a handle about to write a new file from 0 into
// stateMatching. wmu held.
func (h *Handle) startMatching() {
	m := &matching{buf: make([]byte, 0, h.v.opts.MatchBlock)}
	if f, err := h.cl.Features(h.ctx); err == nil {
		m.feat = f
		for _, a := range fxpcopy.HashAlgorithms(f) {
			if a != "SHA-512" {
				m.algs = append(m.algs, streammatch.Algo(a))
			}
		}
	}
	m.w = h.v.ix.NewWriter(m.algs...)
	h.m, h.st = m, stateMatching
}

// matchWrite writes data at off (the end of the stream) in stateMatching.
// wmu held.
func (h *Handle) matchWrite(data []byte, off int64) (int, error) {
	m := h.m
	h.v.served.flush() // served bytes go to the matcher at once while this goes on
	m.w.Write(off, data)
	h.dirty = true
	if h.spool == nil { // the first block, in memory
		m.buf = append(m.buf, data...)
		h.size += int64(len(data))
		if len(m.buf) < h.v.opts.MatchBlock {
			return len(data), nil
		}
		if err := h.decide(); err != nil {
			return len(data), h.failLocked(err)
		}
		return len(data), nil
	}
	n, err := h.spool.WriteAt(data, off)
	h.size = max(h.size, off+int64(n))
	if err != nil {
		return n, errorf("write spool of", h.path, err)
	}
	if _, ok := m.w.Likely(); !ok && h.job != nil {
		h.v.log.Debug("written stream no longer matches its source: FXP cancelled, the spool will be uploaded",
			"server", h.cl.Name(), "path", h.path, "src", m.src, "why", m.w.Verdict().Reason)
		h.abandonJob("the written bytes no longer match the source")
	}
	return n, nil
}

// decide is taken when the first block is written: FXP from a matching
// source (the bytes go on to the spool), else the stream's upload. wmu
// held.
func (h *Handle) decide() error {
	src, ok := h.m.w.Likely()
	if !ok {
		return h.stream("no file read through the mount has these bytes")
	}
	why, err := h.beginFXP(src)
	switch {
	case err != nil:
		return err
	case why != "":
		return h.stream(why)
	}
	f, err := h.newSpool(h.m.buf)
	if err != nil {
		return err
	}
	h.spool, h.m.buf = f, nil
	return nil
}

// beginFXP starts the FXP of src for this handle, after checking that src
// is another file, still the version read, and worth an FXP (link.go); if
// not, it says why (and the caller uploads). wmu held.
func (h *Handle) beginFXP(src streammatch.SourceID) (why string, err error) {
	m := h.m
	srcCl := h.v.client(src.Server)
	if srcCl == nil || (srcCl == h.cl && src.Path == h.currentPath()) {
		return "no other file to copy from", nil
	}
	at, err := h.v.versionOf(h.ctx, srcCl, src.Path)
	if err != nil {
		return "the source's size and time could not be checked: " + err.Error(), nil
	}
	if at.size != src.Size || !sameTime(src.Mtime, at.mtime) {
		return "the source changed on its server since it was read", nil
	}
	if min := h.v.matchMin(srcCl, h.cl); src.Size < min {
		return fmt.Sprintf("the source has %d bytes: below %d, an upload costs less than an FXP", src.Size, min), nil
	}
	m.src, m.at, m.cl = src, at, srcCl
	if _, err := h.startJob(srcCl, src.Path, true); err != nil {
		return "", err
	}
	h.v.log.Debug("written stream matches a file read through the mount: FXP instead of the upload",
		"server", h.cl.Name(), "path", h.path, "src", src)
	return "", nil
}

// stream ends matching before any FXP: the bytes written so far (the
// buffer) go out by STOR and the handle streams on. wmu held.
func (h *Handle) stream(why string) error {
	m := h.m
	h.m, h.st = nil, stateStreaming
	h.v.log.Debug("written stream not matched: uploading", "server", h.cl.Name(), "path", h.path, "why", why)
	up, err := h.openStor()
	if err != nil {
		return err
	}
	h.setUp(up)
	if _, err := up.Write(m.buf); err != nil {
		return err
	}
	return nil
}

// unmatch ends matching for good, keeping every written byte locally: the
// FXP (if any) is cancelled and its temporary removed, and the handle is
// spooled (uploaded at flush). wmu held.
func (h *Handle) unmatch() error {
	m := h.m
	h.m = nil
	h.abandonJob("the written stream is no copy of it after all")
	if h.spool == nil {
		f, err := h.newSpool(m.buf)
		if err != nil {
			return err
		}
		h.spool = f
	}
	h.st = stateSpooled
	return nil
}

// settleMatch is the end of matching at flush: it waits for the FXP and
// accepts it (true: the temporary holds the file) or gives it up (the
// handle is then streaming or spooled, to be uploaded as usual). wmu held.
func (h *Handle) settleMatch() (bool, error) {
	m := h.m
	small := h.spool == nil // shorter than a block: the whole file is in m.buf
	if small {
		// No FXP was started while writing; whether the whole file is a
		// copy shows now.
		v := m.w.Verdict()
		if v.Result != streammatch.Proven {
			return false, h.stream("shorter than one block, and " + v.Reason)
		}
		why, err := h.beginFXP(v.Source)
		switch {
		case err != nil:
			return false, err
		case why != "":
			return false, h.stream(why)
		}
	}
	j := h.job
	if j == nil {
		return false, h.unmatch()
	}
	<-j.done // the FXP's own timeouts bound it; the job never takes wmu
	why := h.checkMatch(m, j)
	if why != "" {
		h.v.log.Info("matched FXP not accepted: uploading what was written", "server", h.cl.Name(), "path", h.path,
			"src", m.src, "why", why)
		h.abandonJob(why)
		if small {
			return false, h.stream(why)
		}
		return false, h.unmatch()
	}
	h.job, h.m, h.st = nil, nil, stateSpooled
	if small {
		h.st = stateStreaming // uploaded, nothing local: later writes at the end append
	}
	h.v.log.Debug("matched FXP accepted", "server", h.cl.Name(), "path", h.path, "src", m.src, "bytes", h.size)
	return true, nil
}

// checkMatch says why the finished FXP j cannot stand for what was
// written, or "" if it can (see the top of this file).
func (h *Handle) checkMatch(m *matching, j *copyJob) string {
	if j.err != nil {
		return "the FXP failed: " + j.err.Error()
	}
	v := m.w.Verdict()
	switch {
	case v.Result != streammatch.Proven:
		return "the written bytes are not proven equal to a source: " + v.Reason
	case !sameSource(v.Source, m.src):
		return fmt.Sprintf("the bytes equal %s, the FXP copied %s", v.Source, m.src)
	case v.Size != h.size || j.rec.Size != h.size:
		return fmt.Sprintf("sizes differ: written %d, proven %d, copied %d", h.size, v.Size, j.rec.Size)
	}
	now, err := h.v.versionOf(h.ctx, m.cl, m.src.Path)
	if err != nil {
		return "the source's size and time could not be checked: " + err.Error()
	}
	if now.size != m.at.size || !now.mtime.Equal(m.at.mtime) {
		return fmt.Sprintf("the source changed on its server during the FXP (size %d→%d, time %v→%v)",
			m.at.size, now.size, m.at.mtime, now.mtime)
	}
	if len(m.algs) == 0 {
		return ""
	}
	a := m.algs[0] // the strongest the destination has
	want, err := m.w.Sum(a)
	if err != nil {
		return "no digest of the written bytes: " + err.Error()
	}
	got, err := fxpcopy.Digest(h.ctx, fxpcopy.Endpoint{Client: h.cl, Path: h.target}, m.feat, string(a))
	if err != nil {
		h.v.log.Info("matched FXP: the destination did not hash the copy; size and source checks only",
			"server", h.cl.Name(), "algo", a, "err", err)
		return ""
	}
	if got != hex.EncodeToString(want) {
		return fmt.Sprintf("the copy's %s is %s, the written bytes' %x", a, got, want)
	}
	return ""
}

// sameSource reports whether a and b name the same source version.
func sameSource(a, b streammatch.SourceID) bool {
	return a.Server == b.Server && a.Path == b.Path && a.Size == b.Size && a.Mtime.Equal(b.Mtime)
}
