package fxpcopy

import "errors"

// ErrNotAccepted is the error a rejected copy's record shows (see Reject).
var ErrNotAccepted = errors.New("copy not accepted")

// Reject marks the finished copy id as not accepted by the one who asked
// for it, saying why: the transfer itself went well, but what it copied is
// not what was wanted (vfs's stream matching: the written bytes turned out
// to differ from the source, or the source changed on its server during
// the copy, and the copy is replaced by an upload). Its record then shows
// the failure (Err, Reason "not accepted") and the counters move it from
// its outcome to Failed. The destination is the caller's to remove. A copy
// not in the history, or already failed, is left alone.
func (e *Engine) Reject(id int64, why string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.recent {
		rec := &e.recent[i]
		if rec.ID != id || rec.Err != "" {
			continue
		}
		e.counters.uncount(*rec)
		rec.Err = ErrNotAccepted.Error() + ": " + why
		rec.Reason = "not accepted"
		e.counters.count(*rec, ErrNotAccepted)
		return
	}
}
