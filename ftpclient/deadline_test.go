package ftpclient_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Bounds checked here, with the test config: DialTimeout 300 ms,
// CmdTimeout 400 ms, DataTimeout 500 ms (so a whole listing: 2.5 s).
const (
	tDial = 300 * time.Millisecond
	tCmd  = 400 * time.Millisecond
	tData = 500 * time.Millisecond
	slack = 700 * time.Millisecond // scheduling, -race, a loaded machine
)

// trickle writes s one byte every d until the connection fails or stop closes.
func trickle(c net.Conn, s string, d time.Duration, stop <-chan struct{}) {
	for i := 0; ; i++ {
		if _, err := c.Write([]byte{s[i%len(s)]}); err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-time.After(d):
		}
	}
}

// timedFake starts a fake server with the short test timeouts.
func timedFake(t *testing.T, setup func(s *fakeServer, stop <-chan struct{}), mod ...func(*ftpclient.ServerConfig)) (*fakeServer, *ftpclient.Client) {
	t.Helper()
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	s := newFakeServer(t, func(s *fakeServer) { setup(s, stop) })
	cfg := s.config()
	cfg.DialTimeout, cfg.CmdTimeout, cfg.DataTimeout = tDial, tCmd, tData
	for _, m := range mod {
		m(&cfg)
	}
	c, err := ftpclient.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, c
}

// boundedBy runs op and checks that it fails with want within bound
// (plus slack for scheduling), and not before min.
func boundedBy(t *testing.T, what string, lo, bound time.Duration, want error, op func() error) {
	t.Helper()
	start := time.Now()
	var err error
	within(t, bound+5*time.Second, func() { err = op() })
	took := time.Since(start)
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
	if took > bound+slack || took < lo {
		t.Errorf("%s: failed after %v, want within [%v, %v]", what, took.Round(time.Millisecond), lo, bound)
	}
	t.Logf("%s: failed after %v (bound %v): %v", what, took.Round(time.Millisecond), bound, err)
}

// TestTricklingReplyTimesOut: a reply that never ends, one byte at a time
// (each byte well within CmdTimeout of the previous), fails at CmdTimeout
// after the command: the deadline is on the whole reply.
func TestTricklingReplyTimesOut(t *testing.T) {
	for _, tc := range []struct {
		name string
		verb string
		op   func(c *ftpclient.Client) error
	}{
		{"single line", "SIZE", func(c *ftpclient.Client) error { _, err := c.Size(context.Background(), "/f"); return err }},
		{"multi-line", "MKD", func(c *ftpclient.Client) error { return c.Mkdir(context.Background(), "/d") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := timedFake(t, func(s *fakeServer, stop <-chan struct{}) {
				s.handlers[tc.verb] = func(fc *fakeConn, _ string) {
					body := "213 1234567890"
					if tc.verb == "MKD" {
						fc.reply("257-created, and here is why:")
						body = " a line that never ends and never is the last"
					}
					trickle(fc, body, 50*time.Millisecond, stop)
				}
			})
			if err := c.Connect(context.Background()); err != nil {
				t.Fatal(err)
			}
			boundedBy(t, tc.verb, tCmd-50*time.Millisecond, tCmd, ftpclient.ErrTimeout, func() error { return tc.op(c) })
			if n := countPrefix(s.lines(), tc.verb+" "); n != 1 {
				t.Errorf("%s sent %d times, want 1 (a timeout is not retried)", tc.verb, n)
			}
		})
	}
}

// TestSilentDataConnection: the server accepts the listing's data
// connection and then sends nothing, ever: the listing fails after
// DataTimeout, is not retried, and does not wait for a final reply too.
func TestSilentDataConnection(t *testing.T) {
	s, c := timedFake(t, func(s *fakeServer, stop <-chan struct{}) {
		s.handlers["LIST"] = func(fc *fakeConn, _ string) {
			fc.reply("150 here it comes")
			if dc := fc.acceptData(); dc != nil {
				defer dc.Close()
				<-stop
			}
		}
	})
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	boundedBy(t, "LIST", tData-50*time.Millisecond, tData, ftpclient.ErrTimeout, func() error {
		_, err := c.List(context.Background(), "/dir")
		return err
	})
	if n := countPrefix(s.lines(), "LIST"); n != 1 {
		t.Errorf("LIST sent %d times, want 1", n)
	}
}

// TestEndlessListing: a listing that never ends, fast: it fails on the
// size limit (32 MiB), long before it could fill memory.
func TestEndlessListing(t *testing.T) {
	_, c := timedFake(t, func(s *fakeServer, stop <-chan struct{}) {
		s.handlers["LIST"] = func(fc *fakeConn, _ string) {
			fc.reply("150 here it comes")
			dc := fc.acceptData()
			if dc == nil {
				return
			}
			defer dc.Close()
			chunk := []byte(strings.Repeat("-rw-r--r-- 1 u g 5 Mar  1  2020 "+strings.Repeat("n", 200)+"\r\n", 256))
			for {
				if _, err := dc.Write(chunk); err != nil {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}
	}, func(cfg *ftpclient.ServerConfig) { cfg.DataTimeout = 10 * time.Second }) // the size limit comes first
	var err error
	within(t, 30*time.Second, func() { _, err = c.List(context.Background(), "/dir") })
	if !errors.Is(err, ftpclient.ErrProtocol) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("got %v, want a size-limit ErrProtocol", err)
	}
}

// TestTricklingListing: a listing that keeps sending a byte more often
// than DataTimeout, forever, fails at the whole-listing bound
// (5 × DataTimeout), not never.
func TestTricklingListing(t *testing.T) {
	_, c := timedFake(t, func(s *fakeServer, stop <-chan struct{}) {
		s.handlers["LIST"] = func(fc *fakeConn, _ string) {
			fc.reply("150 here it comes")
			if dc := fc.acceptData(); dc != nil {
				defer dc.Close()
				trickle(dc, "-rw-r--r-- 1 u g 5 Mar  1  2020 f\r\n", 100*time.Millisecond, stop)
			}
		}
	})
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	boundedBy(t, "LIST", 5*tData-50*time.Millisecond, 5*tData, ftpclient.ErrTimeout, func() error {
		_, err := c.List(context.Background(), "/dir")
		return err
	})
}

// TestTricklingFinalReply: a download's data ends and its final reply
// trickles forever: the read fails CmdTimeout after the data ended.
func TestTricklingFinalReply(t *testing.T) {
	_, c := timedFake(t, func(s *fakeServer, stop <-chan struct{}) {
		s.handlers["RETR"] = func(fc *fakeConn, _ string) {
			fc.reply("150 here it comes")
			if dc := fc.acceptData(); dc != nil {
				dc.Write([]byte("data"))
				dc.Close()
			}
			trickle(fc, "226 done, and some more text", 50*time.Millisecond, stop)
		}
	})
	rc, err := c.OpenRead(context.Background(), "/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 4)
	if _, err := rc.Read(buf); err != nil {
		t.Fatal(err)
	}
	boundedBy(t, "RETR final reply", tCmd-50*time.Millisecond, tCmd, ftpclient.ErrTimeout, func() error {
		for {
			if _, err := rc.Read(buf); err != nil {
				return err
			}
		}
	})
}
