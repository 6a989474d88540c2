package fxpcopy

import (
	"context"
	"fmt"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// What the engine remembers between copies, so that a pair of servers pays
// for a refused FXP once, not per file:
//   - refusals per (source server, destination server, orientation), for
//     RefusalMemory: such an attempt is not made again meanwhile;
//   - the orientation that last worked per (source, destination), tried
//     first next time;
//   - per passive server and its active peer, whether the passive server
//     answers a transfer command before the data connection exists
//     ("early", like pyftpdlib) or only once it does ("late", like vsftpd
//     and pure-ftpd); see Engine.earlyWait. A server whose greeting names
//     an implementation known to answer late starts out as late
//     (answersLate). It is learnt per pair because a late server answers
//     at once too where its peer connected on PORT, before the command
//     (Twisted, pyftpdlib): inetutils' ftpd, marked early that way, was
//     waited for 1 s on every later FXP with vsftpd.

type pair struct{ src, dst *ftpclient.Client }

type pairMode struct {
	pair
	mode Mode
}

type refusalNote struct {
	at, until time.Time
	why       string
}

type earlyState int

// fxpSides keys the early-reply memory: the passive server and the active
// one it was paired with.
type fxpSides struct{ pasv, port *ftpclient.Client }

const (
	earlyUnknown earlyState = iota
	earlyYes
	earlyNo
)

// fxpOrder returns the FXP orientations to try for src→dst, the one that
// last worked first, with those remembered as refused left out and named
// in skipped.
func (e *Engine) fxpOrder(src, dst *ftpclient.Client) (modes []Mode, skipped []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	order := []Mode{ModeFXP, ModeFXPRev}
	if e.worked[pair{src, dst}] == ModeFXPRev {
		order = []Mode{ModeFXPRev, ModeFXP}
	}
	now := time.Now()
	for _, m := range order {
		k := pairMode{pair{src, dst}, m}
		if n, ok := e.refused[k]; ok {
			if now.Before(n.until) {
				// Stable text (no "ago"): summaries count files per reason.
				skipped = append(skipped, fmt.Sprintf("%s: refused by this pair at %s, not tried again before %s (%s)",
					m, n.at.Format("15:04:05"), n.until.Format("15:04:05"), n.why))
				continue
			}
			delete(e.refused, k)
		}
		modes = append(modes, m)
	}
	return modes, skipped
}

// rememberRefused notes that FXP src→dst in mode was refused.
func (e *Engine) rememberRefused(src, dst *ftpclient.Client, mode Mode, why string) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refused[pairMode{pair{src, dst}, mode}] = refusalNote{at: now, until: now.Add(e.timing.refusalMemory), why: why}
	if e.worked[pair{src, dst}] == mode {
		delete(e.worked, pair{src, dst})
	}
}

// rememberWorked notes that FXP src→dst in mode worked.
func (e *Engine) rememberWorked(src, dst *ftpclient.Client, mode Mode) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.worked[pair{src, dst}] = mode
	delete(e.refused, pairMode{pair{src, dst}, mode})
	delete(e.unended, pairMode{pair{src, dst}, mode})
}

// unendedLimit: this many attempts in a row of one pair and orientation
// whose data all arrived but whose transfer never ended (a server that
// never closes its data connection, so its peer never sees the end) make
// the orientation remembered as refused. Once may be a server's passing
// bug (pyftpdlib under load); every time costs CompleteSilence and a
// cleanup per file.
const unendedLimit = 2

// noteUnended counts such an attempt (see unendedLimit) and reports whether
// the orientation is now to be remembered as refused.
func (e *Engine) noteUnended(src, dst *ftpclient.Client, mode Mode) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := pairMode{pair{src, dst}, mode}
	e.unended[k]++
	if e.unended[k] < unendedLimit {
		return false
	}
	delete(e.unended, k)
	return true
}

// earlyWait is how long to wait for the passive server's first reply to its
// transfer command before the other server is sent its own. A server that
// answers early (pyftpdlib: 150 on STOR at once, and it drops a data
// connection arriving before the command) is waited for, so that the data
// connection cannot overtake the command; a server known to answer only
// once the data connection exists is not. An unknown one is waited for
// once per active peer (k), a few round trips of its control connection (rtt, measured on
// PASV), within earlyWaitMin..earlyWaitMax — unless its greeting names an
// implementation known to answer late (answersLate): then not even once.
// 0 means do not wait.
func (e *Engine) earlyWait(ctx context.Context, k fxpSides, rtt time.Duration) time.Duration {
	e.mu.Lock()
	st := e.early[k]
	e.mu.Unlock()
	if st == earlyNo {
		return 0
	}
	if st == earlyUnknown {
		if f, err := k.pasv.Features(ctx); err == nil && answersLate[f.Software] {
			return 0
		}
	}
	w := min(max(4*rtt, earlyWaitMin), earlyWaitMax)
	if st == earlyYes {
		// It will answer: wait longer rather than race the data connection.
		return 4 * w
	}
	return w
}

// answersLate are the implementations that answer a transfer command in
// passive mode only once they have accepted its data connection, and
// accept it only then: a connection arriving before the command waits in
// the listen backlog, so it cannot be dropped (vsftpd, pure-ftpd and
// ProFTPD call accept in their RETR/STOR handler). The first FXP with such
// a server (as Features.Software names it from its greeting) skips the
// early-reply wait, 250 ms to 1 s per process otherwise. A server that
// only claims to be one of them and drops such connections (pyftpdlib
// under another banner) costs one attempt: the watch then marks it early
// (watch.go), and the copy is made another way.
var answersLate = map[string]bool{
	ftpclient.SoftwareVsftpd: true, ftpclient.SoftwarePureFTPd: true, ftpclient.SoftwareProFTPD: true,
}

func (e *Engine) earlyOf(k fxpSides) earlyState {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.early[k]
}

func (e *Engine) setEarly(k fxpSides, st earlyState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.early[k] = st
}
