package ftpclient

import (
	"context"
	"math/rand/v2"
	"time"
)

// Retry policy: attempts in all, and the first and longest waits between them.
const (
	retryAttempts = 4
	retryMinWait  = 50 * time.Millisecond
	retryMaxWait  = 2 * time.Second
)

// retry runs fn until it succeeds, says not to retry, the attempts are used
// up or ctx is done. fn returns (retry?, err); it decides what is retryable
// (see shouldRetry) because only it knows whether the operation is
// idempotent and whether a transfer had started.
func retry(ctx context.Context, fn func() (bool, error)) error {
	wait := retryMinWait
	for attempt := 1; ; attempt++ {
		again, err := fn()
		if err == nil || !again || attempt >= retryAttempts || ctx.Err() != nil {
			return err
		}
		// Full jitter keeps parallel callers from reconnecting in lockstep.
		d := wait/2 + time.Duration(rand.Int64N(int64(wait/2)+1))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, retryMaxWait)
	}
}
