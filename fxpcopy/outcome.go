package fxpcopy

import (
	"context"
	"errors"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Reasons a file was relayed rather than copied by FXP (Record.Reason of a
// relay, keys of Counters.RelayReasons).
const (
	RelayPolicy     = "fxp off"                  // fxp = "off" on either server
	RelayRefused    = "fxp refused"              // refused now, in every orientation tried
	RelayRemembered = "fxp refused (remembered)" // refused by this pair earlier: not tried (RefusalMemory)
	RelayFailed     = "fxp failed"               // an FXP attempt failed otherwise (stall, transfer error)
)

// failureKind is the short reason of a failed copy (Record.Reason of a
// failure, keys of Counters.FailedReasons), from the sentinel the error wraps.
func failureKind(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, ErrFXPRefused):
		return "fxp refused"
	case errors.Is(err, ErrVerify):
		return "verification"
	case errors.Is(err, ftpclient.ErrNoSpace):
		return "no space"
	case errors.Is(err, ftpclient.ErrPermission):
		return "permission"
	case errors.Is(err, ftpclient.ErrNotFound):
		return "not found"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, ftpclient.ErrTimeout):
		return "timeout"
	case errors.Is(err, ftpclient.ErrIsDir), errors.Is(err, ftpclient.ErrNotDir),
		errors.Is(err, ftpclient.ErrExists), errors.Is(err, ftpclient.ErrBadName):
		return "bad target"
	case errors.Is(err, ftpclient.ErrUnsupported):
		return "unsupported"
	case errors.Is(err, ftpclient.ErrUnavailable), errors.Is(err, ftpclient.ErrClosed):
		return "server unavailable"
	case errors.Is(err, ftpclient.ErrProtocol):
		return "protocol error"
	}
	return "other"
}

// finalErr reports a failure no other way of copying would avoid: the file
// itself is refused (missing, no permission, no space). (An interrupted
// copy is told by its ctx, not by its error: an attempt's own deadlines
// also end in context.DeadlineExceeded.)
func finalErr(err error) bool {
	var di *dstIntact
	var fe *fileError
	return errors.As(err, &di) || errors.As(err, &fe)
}

// fileError marks a reply that concerns the file, not the way it is copied
// (a 550 to RETR, a 552 at the end of STOR): trying another orientation or
// the relay would fail the same way.
type fileError struct{ error }

func (e *fileError) Unwrap() error { return e.error }
