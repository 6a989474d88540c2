package ftpclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// listHandler serves a LIST whose data is body.
func listHandler(body string) func(*fakeConn, string) {
	return func(fc *fakeConn, _ string) {
		fc.reply("150 here it comes")
		if dc := fc.acceptData(); dc != nil {
			dc.Write([]byte(body))
			dc.Close()
		}
		fc.reply("226 done")
	}
}

func newFakeClient(t *testing.T, s *fakeServer, log *slog.Logger) *ftpclient.Client {
	t.Helper()
	c, err := ftpclient.New(s.config(), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// within fails the test if fn takes longer than d (a hang).
func within(t *testing.T, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("operation still running after %v", d)
	}
}

func TestHostileServer(t *testing.T) {
	line := "-rw-r--r-- 1 u g 5 Mar  1  2020 good"
	tests := []struct {
		name  string
		setup func(s *fakeServer)
		cfg   func(*ftpclient.ServerConfig)
		check func(t *testing.T, s *fakeServer, ents []ftpclient.Entry, err error)
		bound time.Duration // the stated bound the failure must come within (0: just no hang)
	}{
		{
			name: "empty directory as 550",
			setup: func(s *fakeServer) {
				s.handlers["LIST"] = func(fc *fakeConn, _ string) { fc.reply("550 No files found") }
			},
			check: func(t *testing.T, _ *fakeServer, ents []ftpclient.Entry, err error) {
				if err != nil || len(ents) != 0 {
					t.Errorf("got %v, %v; want an empty listing", ents, err)
				}
			},
		},
		{
			name:  "garbage reply",
			setup: func(s *fakeServer) { s.handlers["TYPE"] = func(fc *fakeConn, _ string) { fc.reply("hello there") } },
			check: func(t *testing.T, _ *fakeServer, _ []ftpclient.Entry, err error) {
				if !errors.Is(err, ftpclient.ErrProtocol) {
					t.Errorf("got %v, want ErrProtocol", err)
				}
			},
		},
		{
			name: "PASV names another host",
			setup: func(s *fakeServer) {
				s.pasvIP = "10,99,98,97"
				s.handlers["LIST"] = listHandler(line + "\r\n")
			},
			check: func(t *testing.T, _ *fakeServer, ents []ftpclient.Entry, err error) {
				// The data connection went to the server's own address
				// (the fake only listens there), not to 10.99.98.97.
				if err != nil || len(ents) != 1 || ents[0].Name != "good" {
					t.Errorf("got %v, %v", ents, err)
				}
			},
		},
		{
			name: "1 MB listing line",
			setup: func(s *fakeServer) {
				huge := "-rw-r--r-- 1 u g 5 Mar  1  2020 " + strings.Repeat("x", 1<<20)
				s.handlers["LIST"] = listHandler(line + "\r\n" + huge + "\r\n" + strings.Replace(line, "good", "after", 1) + "\r\n")
			},
			check: func(t *testing.T, _ *fakeServer, ents []ftpclient.Entry, err error) {
				if err != nil || len(ents) != 2 || ents[0].Name != "good" || ents[1].Name != "after" {
					t.Errorf("got %v, %v; want the two good lines", ents, err)
				}
			},
		},
		{
			name: "1 MB control line",
			setup: func(s *fakeServer) {
				s.handlers["CWD"] = func(fc *fakeConn, _ string) { fc.reply("250 " + strings.Repeat("y", 1<<20)) }
			},
			check: func(t *testing.T, _ *fakeServer, _ []ftpclient.Entry, err error) {
				if !errors.Is(err, ftpclient.ErrProtocol) {
					t.Errorf("got %v, want ErrProtocol", err)
				}
			},
		},
		{
			name:  "never greets",
			bound: 500 * time.Millisecond, // DialTimeout, not retried
			setup: func(s *fakeServer) { s.greeting = "" },
			check: func(t *testing.T, _ *fakeServer, _ []ftpclient.Entry, err error) {
				if !errors.Is(err, ftpclient.ErrTimeout) {
					t.Errorf("got %v, want ErrTimeout", err)
				}
			},
		},
		{
			name:  "never answers LIST",
			bound: 500 * time.Millisecond, // CmdTimeout, not retried
			setup: func(s *fakeServer) { s.handlers["LIST"] = func(*fakeConn, string) {} },
			check: func(t *testing.T, _ *fakeServer, _ []ftpclient.Entry, err error) {
				if !errors.Is(err, ftpclient.ErrTimeout) {
					t.Errorf("got %v, want ErrTimeout", err)
				}
			},
		},
		{
			name:  "data connection stalls",
			bound: 500 * time.Millisecond, // DataTimeout, no wait for a final reply, not retried
			setup: func(s *fakeServer) {
				s.handlers["LIST"] = func(fc *fakeConn, _ string) {
					fc.reply("150 here it comes")
					if dc := fc.acceptData(); dc != nil {
						dc.Write([]byte(line + "\r\n")) // and then nothing, never closed
						defer dc.Close()
						time.Sleep(3 * time.Second)
					}
				}
			},
			check: func(t *testing.T, _ *fakeServer, _ []ftpclient.Entry, err error) {
				if !errors.Is(err, ftpclient.ErrTimeout) {
					t.Errorf("got %v, want ErrTimeout", err)
				}
			},
		},
		{
			name:  "server full",
			bound: 2 * time.Second, // 4 attempts, backoff 50 ms .. 2 s
			setup: func(s *fakeServer) { s.greeting = "421 Too many users" },
			check: func(t *testing.T, _ *fakeServer, _ []ftpclient.Entry, err error) {
				if !errors.Is(err, ftpclient.ErrUnavailable) {
					t.Errorf("got %v, want ErrUnavailable", err)
				}
			},
		},
		{
			name: "missing directory",
			setup: func(s *fakeServer) {
				s.handlers["CWD"] = func(fc *fakeConn, _ string) { fc.reply("550 No such directory") }
			},
			check: func(t *testing.T, _ *fakeServer, _ []ftpclient.Entry, err error) {
				if !errors.Is(err, ftpclient.ErrNotFound) || !strings.Contains(err.Error(), "ftp fake: LIST /dir: ") {
					t.Errorf("got %v, want ErrNotFound", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeServer(t, tt.setup)
			cfg := s.config()
			cfg.DialTimeout, cfg.CmdTimeout, cfg.DataTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
			c, err := ftpclient.New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var ents []ftpclient.Entry
			start := time.Now()
			within(t, 10*time.Second, func() { ents, err = c.List(context.Background(), "/dir") })
			if took := time.Since(start); tt.bound > 0 && took > tt.bound+slack {
				t.Errorf("failed after %v, bound %v", took.Round(time.Millisecond), tt.bound)
			}
			tt.check(t, s, ents, err)
		})
	}
}

// TestPasswordNeverShown fails a login with a Debug trace running and checks
// that the password is in neither the trace nor the error.
func TestPasswordNeverShown(t *testing.T) {
	s := newFakeServer(t, func(s *fakeServer) {
		s.handlers["PASS"] = func(fc *fakeConn, arg string) {
			fc.reply("530 Login incorrect for " + arg) // a server that echoes it
		}
	})
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newFakeClient(t, s, log)
	err := c.Connect(context.Background())
	if !errors.Is(err, ftpclient.ErrPermission) {
		t.Fatalf("Connect: %v, want ErrPermission", err)
	}
	pw := s.config().Password.Reveal()
	for what, text := range map[string]string{"error": err.Error(), "log": buf.String(),
		"config": fmt.Sprintf("%v %+v %#v", c.Config(), c.Config(), c.Config())} {
		if strings.Contains(text, pw) {
			t.Errorf("password in %s: %s", what, text)
		}
	}
	if !strings.Contains(buf.String(), "PASS ****") || !strings.Contains(buf.String(), "USER bob") {
		t.Errorf("trace lacks the login lines:\n%s", buf.String())
	}
	if got := s.lines(); len(got) < 2 || got[1] != "PASS "+pw {
		t.Errorf("server received %q", got)
	}
}

// TestBadNamesNeverSent checks that names with CR, LF, NUL or too long are
// refused with ErrBadName before any command is sent.
func TestBadNamesNeverSent(t *testing.T) {
	s := newFakeServer(t)
	c := newFakeClient(t, s, nil)
	ctx := context.Background()
	bad := []string{"/a\r\nDELE /x", "/a\nb", "/nul\x00", "/" + strings.Repeat("n", 256), "relative", "/a/../b",
		"/" + strings.Repeat("d/", 2100)}
	for _, p := range bad {
		errs := []error{
			func() error { _, err := c.List(ctx, p); return err }(),
			func() error { _, err := c.Stat(ctx, p); return err }(),
			func() error { _, err := c.OpenRead(ctx, p, 0); return err }(),
			func() error { _, err := c.OpenWrite(ctx, p, 0, ftpclient.WriteTruncate); return err }(),
			c.Mkdir(ctx, p), c.Rmdir(ctx, p), c.Remove(ctx, p), c.Rename(ctx, "/ok", p), c.Rename(ctx, p, "/ok"),
			c.SetModTime(ctx, p, time.Now()), c.Chmod(ctx, p, 0o644),
			func() error { _, err := c.Size(ctx, p); return err }(),
		}
		for i, err := range errs {
			if !errors.Is(err, ftpclient.ErrBadName) {
				t.Errorf("%q op %d: %v, want ErrBadName", p, i, err)
			}
		}
	}
	for _, l := range s.lines() {
		switch v, _, _ := strings.Cut(l, " "); v {
		case "USER", "PASS", "FEAT", "TYPE", "OPTS":
		default:
			t.Errorf("command reached the server: %q", l)
		}
	}
	if err := ftpclient.ValidateName("a/b"); !errors.Is(err, ftpclient.ErrBadName) {
		t.Errorf("ValidateName(a/b) = %v", err)
	}
}

func TestTLS(t *testing.T) {
	for _, mode := range []ftpclient.TLSMode{ftpclient.TLSExplicit, ftpclient.TLSImplicit} {
		t.Run(string(mode), func(t *testing.T) {
			s := newFakeServer(t, func(s *fakeServer) {
				s.tlsCfg = selfSigned(t)
				s.implicit = mode == ftpclient.TLSImplicit
				s.handlers["LIST"] = listHandler("-rw-r--r-- 1 u g 5 Mar  1  2020 secret\r\n")
				s.handlers["RETR"] = listHandler("file content") // same shape: 150, data, 226
			})
			cfg := s.config()
			cfg.TLS = mode
			// The first check loads the system's roots: slow under -race
			// on a loaded machine, so more than the fake's usual 2 s.
			cfg.DialTimeout = 15 * time.Second

			// Verification is on by default: a self-signed certificate fails.
			c, err := ftpclient.New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Connect(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("untrusted certificate accepted: %v", err)
			}

			cfg.TLSInsecure = true
			c2, err := ftpclient.New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			ents, err := c2.List(context.Background(), "/")
			if err != nil || len(ents) != 1 || ents[0].Name != "secret" {
				t.Fatalf("List over TLS: %v %v", ents, err)
			}
			rc, err := c2.OpenRead(context.Background(), "/secret", 0)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || string(b) != "file content" {
				t.Fatalf("RETR over TLS: %q %v", b, err)
			}
			got := strings.Join(s.lines(), "|")
			if !strings.Contains(got, "PBSZ 0|PROT P") {
				t.Errorf("no data protection negotiated: %s", got)
			}
			if mode == ftpclient.TLSExplicit && !strings.HasPrefix(got, "AUTH TLS") {
				t.Errorf("explicit TLS did not start with AUTH TLS: %s", got)
			}
		})
	}
}

// TestCloseInterruptsBlockedRead: Close from another goroutine ends a Read
// that waits on a stalled server, well before the data timeout.
func TestCloseInterruptsBlockedRead(t *testing.T) {
	s := newFakeServer(t, func(s *fakeServer) {
		s.handlers["RETR"] = func(fc *fakeConn, _ string) {
			fc.reply("150 here it comes")
			if dc := fc.acceptData(); dc != nil {
				dc.Write([]byte("first"))
				io.Copy(io.Discard, dc) // stall until the client gives up
				dc.Close()
			}
			fc.reply("426 aborted")
		}
		s.handlers["ABOR"] = func(fc *fakeConn, _ string) { fc.reply("225 ok") }
	})
	c := newFakeClient(t, s, nil)
	rc, err := c.OpenRead(context.Background(), "/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error)
	go func() { _, err := rc.Read(buf); readErr <- err }()
	within(t, time.Second, func() {
		// Close either interrupts the blocked Read or runs before it starts;
		// both must end quickly and the Read must fail.
		rc.Close()
		if err := <-readErr; err == nil {
			t.Error("Read after Close succeeded")
		}
	})
}

// TestErrorText: replies are worded as they are, for the command that got
// them (a 550 to PASV is no "no such file"), and server and user text is
// printed with control characters and invalid UTF-8 escaped.
func TestErrorText(t *testing.T) {
	evil := "550 \x1b[2J\x1b[31mred\r\x00 \xff\u200b"
	tests := []struct {
		name      string
		setup     func(s *fakeServer)
		op        func(c *ftpclient.Client) error
		notKind   error
		wantInMsg []string
	}{
		{
			name: "550 to PASV during a listing",
			setup: func(s *fakeServer) {
				s.handlers["PASV"] = func(fc *fakeConn, _ string) { fc.reply("550 Permission denied.") }
			},
			op:        func(c *ftpclient.Client) error { _, err := c.List(context.Background(), "/d"); return err },
			notKind:   ftpclient.ErrNotFound,
			wantInMsg: []string{"LIST /d: PASV: server replied 550 Permission denied."},
		},
		{
			name:      "550 to PASV during a download",
			setup:     func(s *fakeServer) { s.handlers["PASV"] = func(fc *fakeConn, _ string) { fc.reply("550 no passive") } },
			op:        func(c *ftpclient.Client) error { _, err := c.OpenRead(context.Background(), "/f", 0); return err },
			notKind:   ftpclient.ErrNotFound,
			wantInMsg: []string{"RETR /f: PASV: server replied 550 no passive"},
		},
		{
			name:      "control characters in a reply",
			setup:     func(s *fakeServer) { s.handlers["DELE"] = func(fc *fakeConn, _ string) { fc.reply(evil) } },
			op:        func(c *ftpclient.Client) error { return c.Remove(context.Background(), "/f") },
			wantInMsg: []string{`\x1b[2J\x1b[31mred\r\x00 \xff\u200b`},
		},
		{
			name:      "control characters in a path",
			setup:     func(s *fakeServer) { s.handlers["DELE"] = func(fc *fakeConn, _ string) { fc.reply("450 busy") } },
			op:        func(c *ftpclient.Client) error { return c.Remove(context.Background(), "/a\x1b]0;title\x07b") },
			wantInMsg: []string{`DELE /a\x1b]0;title\ab`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeServer(t, tt.setup)
			s.handlers["LIST"] = listHandler("-rw-r--r-- 1 u g 5 Mar  1  2020 f\r\n")
			c := newFakeClient(t, s, nil)
			err := tt.op(c)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if tt.notKind != nil && errors.Is(err, tt.notKind) {
				t.Errorf("classified as %v: %v", tt.notKind, err)
			}
			for _, w := range tt.wantInMsg {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			for _, r := range msg {
				if r < 0x20 || r == 0x7f || r == 0xfffd || r == '\u200b' {
					t.Errorf("raw control or invalid character %U in %q", r, msg)
					break
				}
			}
		})
	}
}
