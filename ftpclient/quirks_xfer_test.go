package ftpclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// quirkClient starts a StartQuirky server with q and returns a client with
// short timeouts (2 s each) and the server.
func quirkClient(t *testing.T, q ftptest.Quirks, opts ...ftptest.Option) (*ftpclient.Client, *ftptest.Server) {
	t.Helper()
	srv := ftptest.StartQuirky(t, q, opts...)
	cfg := srv.Config("q")
	cfg.DialTimeout, cfg.CmdTimeout, cfg.DataTimeout = 2*time.Second, 2*time.Second, 2*time.Second
	c, err := ftpclient.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, srv
}

// TestQuirkTransferFailures: transfers a server ends with an error reply —
// right after its 1xx, or in the middle — fail with that reply, classified,
// long before the data timeout, and never look complete: no shorter
// listing, no short read taken for the file, no upload reported stored.
func TestQuirkTransferFailures(t *testing.T) {
	const bound = time.Second // well below DataTimeout + CmdTimeout (4 s)
	body := bytes.Repeat([]byte("0123456789"), 100)
	tests := []struct {
		name string
		q    ftptest.Quirks
		want error // the sentinel every operation's error wraps; nil: any error (EIO)
	}{
		{"425 after 150, data left open", ftptest.Quirks{FailAfter1xx: "425 Cannot open data connection."}, ftpclient.ErrUnavailable},
		{"451 after 150, data left open", ftptest.Quirks{FailAfter1xx: "451 Local error in processing."}, nil},
		{"451 mid-transfer", ftptest.Quirks{MidTransfer: "451 Transfer aborted: local error.", MidAfter: 100}, nil},
		{"452 mid-transfer", ftptest.Quirks{MidTransfer: "452 Insufficient storage space.", MidAfter: 100}, ftpclient.ErrNoSpace},
		{"426 mid-transfer", ftptest.Quirks{MidTransfer: "426 Connection closed; transfer aborted.", MidAfter: 100}, ftpclient.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, srv := quirkClient(t, tt.q)
			write(t, srv.Root, "f.bin", body)
			write(t, srv.Root, "g.bin", []byte("was here"))
			check := func(op string, err error) {
				t.Helper()
				switch {
				case err == nil:
					t.Errorf("%s succeeded", op)
				case tt.want != nil && !errors.Is(err, tt.want):
					t.Errorf("%s: %v, want %v", op, err, tt.want)
				}
			}
			ctx := context.Background()
			for _, op := range []string{"list", "read", "write"} {
				start := time.Now()
				var err error
				within(t, 10*time.Second, func() {
					switch op {
					case "list":
						var ents []ftpclient.Entry
						ents, err = c.List(ctx, "/")
						if err == nil {
							t.Errorf("listing of %d entries", len(ents))
						}
					case "read":
						var rc io.ReadCloser
						if rc, err = c.OpenReadExpect(ctx, "/f.bin", 0, ftpclient.Expect{Size: int64(len(body))}); err == nil {
							var got []byte
							got, err = io.ReadAll(rc)
							rc.Close()
							if err == nil {
								t.Errorf("read %d bytes of %d, no error", len(got), len(body))
							}
						}
					case "write":
						var up ftpclient.Upload
						if up, err = c.OpenWrite(ctx, "/g.bin", 0, ftpclient.WriteTruncate); err == nil {
							_, err = up.Write(body)
							if cerr := up.Close(); err == nil {
								err = cerr
							}
						}
					}
				})
				if took := time.Since(start); took > bound {
					t.Errorf("%s failed after %v, want within %v", op, took.Round(time.Millisecond), bound)
				}
				check(op, err)
			}
		})
	}
}

// TestQuirkConnectionLimits: servers that take fewer connections than
// configured — "421" at the greeting (vsftpd max_per_ip, pure-ftpd -C),
// "530 too many users" at login (ProFTPD MaxClientsPerUser) — get that many
// from the scheduler: two downloads open at once both complete, one after
// the other, and nothing fails.
func TestQuirkConnectionLimits(t *testing.T) {
	for _, tt := range []struct {
		name string
		q    ftptest.Quirks
		opts []ftptest.Option
	}{
		{"421 at greeting", ftptest.Quirks{}, []ftptest.Option{ftptest.WithMaxConns(1)}},
		{"530 at login", ftptest.Quirks{MaxUsers: 1}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := quirkClient(t, tt.q, tt.opts...)
			a, b := bytes.Repeat([]byte("a"), 3<<20), bytes.Repeat([]byte("b"), 3<<20)
			write(t, srv.Root, "a", a)
			write(t, srv.Root, "b", b)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// The first connection is logged in, so the refusal of a second
			// one is known to mean "too many".
			if err := c.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			ra, err := c.OpenRead(ctx, "/a", 0)
			if err != nil {
				t.Fatal(err)
			}
			defer ra.Close()
			done := make(chan error, 1)
			go func() {
				rb, err := c.OpenRead(ctx, "/b", 0) // waits for ra's connection
				if err == nil {
					var got []byte
					got, err = io.ReadAll(rb)
					rb.Close()
					if err == nil && !bytes.Equal(got, b) {
						err = errors.New("b read wrong")
					}
				}
				done <- err
			}()
			time.Sleep(300 * time.Millisecond) // b waits: a holds the only connection, unread
			got, err := io.ReadAll(ra)
			if err != nil || !bytes.Equal(got, a) {
				t.Fatalf("a: %d bytes, %v", len(got), err)
			}
			ra.Close()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if st := c.Stats(); st.MaxConns != 1 {
				t.Errorf("limit %d, want it lowered to 1", st.MaxConns)
			}
		})
	}
}

// TestQuirkIdleCloseWrites: a server that closes idle connections after a
// moment ("421 Timeout.") costs nothing visible: changes that must not be
// repeated (MKD, DELE, RNFR/RNTO, STOR) go out on a fresh connection.
func TestQuirkIdleCloseWrites(t *testing.T) {
	c, srv := quirkClient(t, ftptest.Quirks{IdleClose: 100 * time.Millisecond})
	ctx := ctxT(t)
	write(t, srv.Root, "f", []byte("x"))
	steps := []func() error{
		func() error { return c.Mkdir(ctx, "/d") },
		func() error { return c.Rename(ctx, "/f", "/d/f") },
		func() error { return c.Remove(ctx, "/d/f") },
		func() error { return c.Rmdir(ctx, "/d") },
		func() error {
			up, err := c.OpenWrite(ctx, "/g", 0, ftpclient.WriteTruncate)
			if err != nil {
				return err
			}
			up.Write([]byte("g"))
			return up.Close()
		},
	}
	for i, step := range steps {
		time.Sleep(300 * time.Millisecond) // every idle connection is gone
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(srv.Root, "g")); string(got) != "g" {
		t.Errorf("g holds %q", got)
	}
}

// TestQuirkDeleteBusy: a Windows server refuses to delete a file that is
// being uploaded; the refusal is a permission error, and the upload is
// not harmed.
func TestQuirkDeleteBusy(t *testing.T) {
	c, srv := quirkClient(t, ftptest.Quirks{NoDeleteBusy: true, Vague550: true})
	ctx := ctxT(t)
	up, err := c.OpenWrite(ctx, "/busy", 0, ftpclient.WriteTruncate)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write([]byte("part one ")); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, "/busy"); !errors.Is(err, ftpclient.ErrPermission) {
		t.Errorf("DELE during the upload: %v, want ErrPermission", err)
	}
	if _, err := up.Write([]byte("part two")); err != nil {
		t.Fatal(err)
	}
	if err := up.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(srv.Root, "busy")); string(got) != "part one part two" {
		t.Errorf("busy holds %q", got)
	}
	if err := c.Remove(ctx, "/busy"); err != nil {
		t.Errorf("DELE after the upload: %v", err)
	}
}

// TestQuirkNames: names servers list that a parser could get wrong are
// listed as they are, and can be read, renamed and removed by that name:
// leading and inner spaces, " -> " in a file's name, Latin-1 bytes from a
// server that is not UTF-8 (passed through as they are: the bytes the server
// gave go back to it), in every listing format.
func TestQuirkNames(t *testing.T) {
	latin1 := "caf\xe9 \xe0 la cr\xe8me.txt" // "café à la crème.txt" in ISO-8859-1
	tricky := []string{" leading space.txt", "two  inner  spaces", "a -> b.txt", "trailing dot.", latin1, "100%.txt", "[x]*?.txt"}
	for _, tt := range []struct {
		name string
		q    ftptest.Quirks
	}{
		{"MLSD", ftptest.Quirks{Latin1: true}},
		{"LIST unix", ftptest.Quirks{Latin1: true, NoMLSD: true}},
		{"LIST no group", ftptest.Quirks{Latin1: true, NoMLSD: true, ListStyle: ftptest.ListUnixNoGroup}},
		{"LIST DOS", ftptest.Quirks{Latin1: true, NoMLSD: true, ListStyle: ftptest.ListDOS}},
		{"NLST", ftptest.Quirks{Latin1: true, NoMLSD: true, NoLIST: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, srv := quirkClient(t, tt.q)
			ctx := ctxT(t)
			for _, n := range tricky {
				write(t, srv.Root, n, []byte("body of "+n))
			}
			ents, err := c.List(ctx, "/")
			if err != nil {
				t.Fatal(err)
			}
			listed := map[string]bool{}
			for _, e := range ents {
				listed[e.Name] = true
			}
			for _, n := range tricky {
				if tt.q.ListStyle == ftptest.ListDOS && strings.HasPrefix(n, " ") {
					continue // DOS columns cannot carry a leading space: listed without it
				}
				if !listed[n] {
					t.Errorf("%q not listed; listed %q", n, names(ents))
					continue
				}
				rc, err := c.OpenRead(ctx, "/"+n, 0)
				if err != nil {
					t.Errorf("read %q: %v", n, err)
					continue
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || string(got) != "body of "+n {
					t.Errorf("read %q: %q, %v", n, got, err)
				}
				if err := c.Rename(ctx, "/"+n, "/"+n+".moved"); err != nil {
					t.Errorf("rename %q: %v", n, err)
					continue
				}
				if err := c.Remove(ctx, "/"+n+".moved"); err != nil {
					t.Errorf("remove %q: %v", n, err)
				}
				if _, err := os.Lstat(filepath.Join(srv.Root, n+".moved")); err == nil {
					t.Errorf("%q still on the server", n+".moved")
				}
			}
		})
	}
}

// TestQuirkRewrittenNames: a server that stores a name other than the one
// given (spaces become '_') makes the upload, the MKD and the rename fail
// with ErrBadName, saying so, instead of leaving the entry under a name the
// caller never saw; the MKD's directory is removed again. Names without
// such characters cost no extra command.
func TestQuirkRewrittenNames(t *testing.T) {
	c, srv := quirkClient(t, ftptest.Quirks{RewriteSpaces: true})
	ctx := ctxT(t)
	up, err := c.OpenWrite(ctx, "/a b.txt", 0, ftpclient.WriteTruncate)
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("x"))
	if err := up.Close(); !errors.Is(err, ftpclient.ErrBadName) || !strings.Contains(err.Error(), "rewrites") {
		t.Errorf("upload of \"a b.txt\": %v, want ErrBadName", err)
	}
	if err := c.Mkdir(ctx, "/x y"); !errors.Is(err, ftpclient.ErrBadName) || !strings.Contains(err.Error(), `"x_y"`) {
		t.Errorf("MKD \"x y\": %v, want ErrBadName naming x_y", err)
	}
	if _, err := os.Stat(filepath.Join(srv.Root, "x_y")); err == nil {
		t.Error("x_y left on the server")
	}
	write(t, srv.Root, "plain", []byte("p"))
	if err := c.Rename(ctx, "/plain", "/p q"); !errors.Is(err, ftpclient.ErrBadName) {
		t.Errorf("rename to \"p q\": %v, want ErrBadName", err)
	}
	before := len(srv.Received())
	if err := c.Mkdir(ctx, "/nospace"); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Received()) - before; n != 1 {
		t.Errorf("MKD of a plain name took %d commands, want 1", n)
	}
}

// TestQuirkRestWrites: an upload at an offset (resuming a copy) needs a REST
// that works: on a server without one, or one that answers 350 and writes
// from the start anyway, it fails with ErrUnsupported and the file keeps
// its bytes; elsewhere it writes at the offset.
func TestQuirkRestWrites(t *testing.T) {
	for _, tt := range []struct {
		name string
		q    ftptest.Quirks
		want error
	}{
		{"REST works", ftptest.Quirks{}, nil},
		{"no REST", ftptest.Quirks{NoREST: true}, ftpclient.ErrUnsupported},
		{"REST ignored", ftptest.Quirks{RESTIgnored: true}, ftpclient.ErrUnsupported},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := quirkClient(t, tt.q)
			ctx := ctxT(t)
			write(t, srv.Root, "part", []byte("0123456789"))
			want := "0123456789"
			up, err := c.OpenWrite(ctx, "/part", 10, ftpclient.WriteAt)
			if err == nil {
				_, err = up.Write([]byte("abc"))
				if cerr := up.Close(); err == nil {
					err = cerr
				}
				want += "abc"
			}
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("upload at 10: %v, want %v", err, tt.want)
			}
			if got, _ := os.ReadFile(filepath.Join(srv.Root, "part")); string(got) != want {
				t.Errorf("file holds %q, want %q", got, want)
			}
		})
	}
}

// TestQuirkSlowGreeting: a greeting that takes a second (a server doing
// reverse DNS, say), after "120" and over several lines, is waited for
// within dial_timeout; one slower than dial_timeout fails with ErrTimeout
// within it.
func TestQuirkSlowGreeting(t *testing.T) {
	c, _ := quirkClient(t, ftptest.Quirks{GreetDelay: time.Second, Greet120: true, GreetMultiline: true})
	if err := c.Connect(ctxT(t)); err != nil {
		t.Fatalf("greeting after 1 s, dial timeout 2 s: %v", err)
	}
	c, _ = quirkClient(t, ftptest.Quirks{GreetDelay: 5 * time.Second})
	start := time.Now()
	err := c.Connect(ctxT(t))
	if !errors.Is(err, ftpclient.ErrTimeout) {
		t.Errorf("greeting after 5 s: %v, want ErrTimeout", err)
	}
	if took := time.Since(start); took > 2*time.Second+slack {
		t.Errorf("failed after %v, dial timeout 2 s", took.Round(time.Millisecond))
	}
}

// TestQuirkNeverClosedData: a server that sends everything and "226" but
// never closes the data connection. A download of a known size ends as soon
// as every byte and the 226 are in; a listing or a download of unknown
// size ends after finalGrace (data_timeout/4, at most 5 s) of silence, never
// after the data timeout, and with the whole content.
func TestQuirkNeverClosedData(t *testing.T) {
	srv := ftptest.StartQuirky(t, ftptest.Quirks{NeverCloseData: true})
	cfg := srv.Config("q")
	cfg.DataTimeout = 8 * time.Second // finalGrace 2 s
	c, err := ftpclient.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	body := bytes.Repeat([]byte("x"), 100000)
	write(t, srv.Root, "f", body)
	ctx := ctxT(t)
	timed := func(what string, lo, hi time.Duration, fn func() error) {
		t.Helper()
		start := time.Now()
		if err := fn(); err != nil {
			t.Errorf("%s: %v", what, err)
		}
		if took := time.Since(start); took < lo || took > hi+slack {
			t.Errorf("%s took %v, want %v..%v", what, took.Round(time.Millisecond), lo, hi)
		}
	}
	read := func(rc io.ReadCloser, err error) error {
		if err != nil {
			return err
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if err == nil && !bytes.Equal(got, body) {
			err = errors.New("content differs")
		}
		return err
	}
	timed("a read of known size", 0, 300*time.Millisecond, func() error {
		return read(c.OpenReadExpect(ctx, "/f", 0, ftpclient.Expect{Size: int64(len(body))}))
	})
	write(t, srv.Root, "empty", nil)
	timed("a read of an empty file", 0, 300*time.Millisecond, func() error {
		rc, err := c.OpenReadExpect(ctx, "/empty", 0, ftpclient.Expect{Size: 0})
		if err != nil {
			return err
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if err == nil && len(got) != 0 {
			err = fmt.Errorf("read %d bytes", len(got))
		}
		return err
	})
	timed("a read of unknown size", 2*time.Second, 2*time.Second, func() error {
		return read(c.OpenRead(ctx, "/f", 0))
	})
	timed("a listing", 2*time.Second, 2*time.Second, func() error {
		ents, err := c.List(ctx, "/")
		if err == nil && (len(ents) != 2 || ents[1].Name != "f" || ents[1].Size != int64(len(body))) {
			err = fmt.Errorf("listed %+v", ents)
		}
		return err
	})
}

// TestQuirkReplaceReadOnly: renaming onto a read-only file is refused for
// permission on a server that otherwise renames onto files: the file stays,
// the error is ErrPermission, and the server is not taken for one that
// cannot rename onto files (which would send every later replacement the
// long way). On a server that cannot, a writable file is replaced by way of
// a backup name, a read-only one is refused all the same.
func TestQuirkReplaceReadOnly(t *testing.T) {
	for _, noOver := range []bool{false, true} {
		c, srv := quirkClient(t, ftptest.Quirks{NoRenameOver: noOver, Vague550: true})
		ctx := ctxT(t)
		write(t, srv.Root, "ro", []byte("keep"))
		if err := os.Chmod(filepath.Join(srv.Root, "ro"), 0o444); err != nil {
			t.Fatal(err)
		}
		write(t, srv.Root, "new", []byte("new"))
		if _, err := c.Replace(ctx, "/new", "/ro", nil); !errors.Is(err, ftpclient.ErrPermission) {
			t.Errorf("rename-over refused %v: replacing a read-only file: %v, want ErrPermission", noOver, err)
		}
		if got, _ := os.ReadFile(filepath.Join(srv.Root, "ro")); string(got) != "keep" {
			t.Errorf("rename-over refused %v: ro holds %q", noOver, got)
		}
		if c.RefusesRenameOver() {
			t.Errorf("rename-over refused %v: taken for a server that cannot rename onto files", noOver)
		}
		write(t, srv.Root, "rw", []byte("old"))
		way, err := c.Replace(ctx, "/new", "/rw", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(srv.Root, "rw")); string(got) != "new" || (way == ftpclient.ReplacedByBackup) != noOver {
			t.Errorf("rename-over refused %v: rw holds %q, replaced by way %d", noOver, got, way)
		}
		if c.RefusesRenameOver() != noOver {
			t.Errorf("rename-over refused %v: RefusesRenameOver %v", noOver, c.RefusesRenameOver())
		}
	}
}

// TestReadOfGrownFile: a download whose caller expects fewer bytes than
// the file now has (it grew, or was replaced, since it was listed) is never
// cut silently at the old size, on a server that closes its data
// connection and on one that never does.
func TestReadOfGrownFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    ftptest.Quirks
	}{
		{"closes data", ftptest.Quirks{}},
		{"never closes data", ftptest.Quirks{NeverCloseData: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, srv := quirkClient(t, tc.q)
			body := bytes.Repeat([]byte("abcdefghij"), 25000)
			write(t, srv.Root, "f", body)
			for _, off := range []int64{0, 30000} {
				rc, err := c.OpenReadExpect(ctxT(t), "/f", off, ftpclient.Expect{Size: 100000})
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err == nil && !bytes.Equal(got, body[off:]) {
					t.Errorf("offset %d: read %d bytes without error, want the whole %d or an error", off, len(got), len(body)-int(off))
				}
			}
		})
	}
}
