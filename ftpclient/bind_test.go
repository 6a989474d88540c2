package ftpclient

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// slowClose is a connection whose Close takes a moment (as a TLS
// close_notify can).
type slowClose struct {
	net.Conn
	closed atomic.Bool
}

func (s *slowClose) Close() error {
	time.Sleep(2 * time.Millisecond)
	s.closed.Store(true)
	return s.Conn.Close()
}

// TestBindStopAfterCancel: when ctx ends as an operation finishes, stop
// reports the connection lost only once it is closed (and marked broken),
// so that it is never given back as reusable and closed a moment later
// (seen with the FXP progress poll, stopped as its SIZE returned: the
// pooled connection then failed the next PORT with "use of closed network
// connection").
func TestBindStopAfterCancel(t *testing.T) {
	for range 20 {
		a, b := net.Pipe()
		sc := &slowClose{Conn: a}
		cn := &conn{ctl: &ctlConn{Conn: sc}}
		ctx, cancel := context.WithCancel(context.Background())
		stop := cn.bind(ctx)
		cancel() // starts the close, in a goroutine of its own
		if stop() {
			t.Fatal("stop after ctx ended reported the connection alive")
		}
		if !sc.closed.Load() || !cn.ctl.broken.Load() {
			t.Fatal("stop returned before the connection was closed and marked broken")
		}
		b.Close()
	}
}
