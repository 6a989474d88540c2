package fxpcopy

import (
	"bytes"
	"testing"
	"time"
)

// Tests of what one copy costs besides its data: the waits, commands and
// connections of a copy (issue 6's fixed costs).

// TestNoEarlyWaitForLateServers: the first FXP into a passive server whose
// greeting names an implementation that answers a transfer command only
// once its data connection exists (vsftpd, pure-ftpd, ProFTPD) sends the
// other server its command at once: the early-reply wait (250 ms to 1 s per
// process, which made a one-file `fxpfs sync` 1.5-2× lftp's time) is not
// made, so the engine learns nothing about the server. A server whose
// greeting says nothing (or names pyftpdlib) is waited for once, and then
// known to answer late.
func TestNoEarlyWaitForLateServers(t *testing.T) {
	for _, tc := range []struct {
		greeting string
		waited   bool
	}{
		{"(vsFTPd 3.0.3)", false},
		{"---------- Welcome to Pure-FTPd [privsep] [TLS] ----------", false},
		{"ProFTPD Server (Debian) [127.0.0.3]", false},
		{"", true}, // "fake dst"
		{"pyftpdlib 1.5.7 ready.", true},
	} {
		t.Run(tc.greeting, func(t *testing.T) {
			src := startFake(t, "src", "127.0.0.2")
			dst := startFake(t, "dst", "127.0.0.3", func(f *fakeFTP) { f.greeting = tc.greeting })
			data := randomBytes(t, 100_000)
			src.put("/f.bin", data)
			cs, cd := fakeClient(t, src), fakeClient(t, dst)
			e := newEngine(t)
			rec, err := e.Copy(ctxT(t, 30*time.Second), Endpoint{cs, "/f.bin"}, Endpoint{cd, "/g.bin"}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := dst.get("/g.bin"); !bytes.Equal(got, data) || rec.Mode != ModeFXP || rec.Attempts != 1 {
				t.Fatalf("mode %s, %d attempts, %d bytes at the destination", rec.Mode, rec.Attempts, len(got))
			}
			want := earlyUnknown // no wait: nothing learnt
			if tc.waited {
				want = earlyNo // waited for, in vain: answers late
			}
			if got := e.earlyOf(cd); got != want {
				t.Errorf("early state after the copy = %d, want %d (waited: %v)", got, want, tc.waited)
			}
		})
	}
}

// TestLateClaimOfEarlyServer: a destination that drops a data connection
// arriving before its transfer command (pyftpdlib) but greets like vsftpd
// costs one attempt, not the file: its STOR is taken up late (transferLag),
// so the source's data connection overtakes it and is dropped; the attempt
// is given up, the server is known to answer early from then on, and the
// file is copied another way, byte for byte.
func TestLateClaimOfEarlyServer(t *testing.T) {
	src := startFake(t, "src", "127.0.0.2")
	dst := startFake(t, "dst", "127.0.0.3", func(f *fakeFTP) {
		f.early, f.greeting, f.transferLag = true, "(vsFTPd 3.0.3)", 150*time.Millisecond
	})
	data := randomBytes(t, 100_000)
	src.put("/f.bin", data)
	cs, cd := fakeClient(t, src), fakeClient(t, dst)
	e := newEngine(t)
	rec, err := e.Copy(ctxT(t, 60*time.Second), Endpoint{cs, "/f.bin"}, Endpoint{cd, "/g.bin"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mode %s after %d attempts (%s)", rec.Mode, rec.Attempts, rec.Fallback)
	if got, _ := dst.get("/g.bin"); !bytes.Equal(got, data) {
		t.Fatalf("%d bytes at the destination, want the %d of the source", len(got), len(data))
	}
	if dst.dropped == 0 || rec.Attempts < 2 {
		t.Errorf("%d data connections dropped, %d attempts: the test did not make the connection overtake STOR",
			dst.dropped, rec.Attempts)
	}
	if got := e.earlyOf(cd); got != earlyYes {
		t.Errorf("early state after the copy = %d, want earlyYes (%d)", got, earlyYes)
	}
}
