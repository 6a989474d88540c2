package fxpcopy

import "time"

// Deadlines of an FXP attempt and of the cleanup after one. Each bounds a
// wait on a server that may never answer; none depends on the user's
// context, so an interrupted copy still cleans up within them.
//
// Worst cases: a refused FXP (one server ends its transfer at once, the
// other waits for a data connection that never comes) is given up after
// PeerSilence; an interrupted transfer ends after at most AbortWait (+
// QuitWait) and its destination is removed within RemoveWait. A transfer
// whose destination stops growing fails after the destination server's
// DataTimeout (ftpclient.ServerConfig, 60 s by default).
const (
	// StartWait: after both transfer commands were sent, one of the
	// servers must answer (a 1xx, or a final reply) within this long, else
	// the attempt is given up as refused: no data connection came about.
	StartWait = 10 * time.Second

	// PeerSilence: once one server has given its final reply, the other may
	// stay silent this long — when the first reply was a failure, when the
	// passive server never accepted a data connection, or when no data of
	// this attempt has been seen at the destination — before the attempt
	// is given up. (A destination still receiving data is not hurried: the
	// stall rule below applies.)
	PeerSilence = 2 * time.Second

	// CompleteSilence: the destination holds every byte of the file and has
	// not changed for this long, yet a server has not ended its transfer
	// (a source that never closes its data connection): the attempt is
	// given up and the copy tried another way.
	CompleteSilence = 10 * time.Second

	// AbortWait: after ABOR is sent on both control connections
	// (cancellation, or an attempt given up), how long the servers may take
	// to end their transfers. Control connections still busy after it are
	// reset, and the destination is then removed only once its size is
	// stable (see RemoveWait).
	AbortWait = 5 * time.Second

	// QuitWait: how long the reply to QUIT is awaited on a control
	// connection being dropped after a failed attempt.
	QuitWait = time.Second

	// RemoveWait: removing a failed destination — waiting until its size is
	// stable if its server's end of the transfer was not confirmed, DELE,
	// and the check that it is gone — takes at most this long.
	RemoveWait = 15 * time.Second

	// RefusalMemory: how long an FXP refused between two servers in one
	// orientation is remembered; meanwhile copies between them go straight
	// to what worked (the other orientation or the relay).
	RefusalMemory = 10 * time.Minute
)

// timing holds the deadlines an Engine uses: the constants above, shortened
// by tests.
type timing struct {
	startWait, peerSilence, completeSilence time.Duration
	abortWait, quitWait, removeWait         time.Duration
	refusalMemory                           time.Duration
}

func defaultTiming() timing {
	return timing{
		startWait: StartWait, peerSilence: PeerSilence, completeSilence: CompleteSilence,
		abortWait: AbortWait, quitWait: QuitWait, removeWait: RemoveWait,
		refusalMemory: RefusalMemory,
	}
}

// Early-reply learning (see Engine.earlyWait).
const (
	earlyWaitMin = 250 * time.Millisecond
	earlyWaitMax = time.Second
)
