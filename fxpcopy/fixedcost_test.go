package fxpcopy

import (
	"bytes"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
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
			if got := e.earlyOf(fxpSides{cd, cs}); got != want {
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
	if got := e.earlyOf(fxpSides{cd, cs}); got != earlyYes {
		t.Errorf("early state after the copy = %d, want earlyYes (%d)", got, earlyYes)
	}
}

// TestEarlyAnswerLearntPerPeer: a late passive server (inetutils' ftpd)
// answers its STOR at once where the active server connected on PORT,
// before the command (Twisted, pyftpdlib). That must not mark it early for
// every peer: an FXP from a server connecting only on RETR (vsftpd) would
// then wait the full early wait (1 s, 4x the usual) for a 150 that cannot
// come first, on every copy. What is learnt holds for that pair only; the
// other pair is waited for once, in vain, and then not at all.
func TestEarlyAnswerLearntPerPeer(t *testing.T) {
	dst := startFake(t, "inetutils", "127.0.0.3") // late, greeting unknown
	twisted := startFake(t, "twisted", "127.0.0.2", func(f *fakeFTP) { f.connectOnPort = true })
	plain := startFake(t, "plain", "127.0.0.4")
	data := randomBytes(t, 100_000)
	twisted.put("/f.bin", data)
	plain.put("/f.bin", data)
	cd, ct, cp := fakeClient(t, dst), fakeClient(t, twisted), fakeClient(t, plain)
	e := newEngine(t)
	copyFrom := func(cs *ftpclient.Client, to string) {
		t.Helper()
		rec, err := e.Copy(ctxT(t, 30*time.Second), Endpoint{cs, "/f.bin"}, Endpoint{cd, to}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := dst.get(to); !bytes.Equal(got, data) || rec.Mode != ModeFXP || rec.Attempts != 1 {
			t.Fatalf("%s: mode %s, %d attempts, %d bytes at the destination", to, rec.Mode, rec.Attempts, len(got))
		}
	}
	copyFrom(ct, "/a.bin")
	if got := e.earlyOf(fxpSides{cd, ct}); got != earlyYes {
		t.Errorf("with the peer connecting on PORT: early state %d, want earlyYes (%d): the test did not make the late server answer at once", got, earlyYes)
	}
	copyFrom(cp, "/b.bin")
	if got := e.earlyOf(fxpSides{cd, cp}); got != earlyNo {
		t.Errorf("with a peer connecting on RETR: early state %d, want earlyNo (%d): every FXP of the pair waits for a 150 that comes only after", got, earlyNo)
	}
	if w := e.earlyWait(ctxT(t, 5*time.Second), fxpSides{cd, cp}, time.Millisecond); w != 0 {
		t.Errorf("the next FXP of the pair would wait %v for the passive server's answer, want 0", w)
	}
}

// TestRefusedPortQuitsBlockedPassive: an FXP whose active side refuses PORT
// to a third host (inetutils, netkit) is given up before any transfer
// command; the passive side is then dropped. Twisted reads no command
// after PASV until a data connection has come, so it never answers the
// QUIT: waiting for that answer cost QuitWait (1 s) per refused attempt,
// once per pair and process (every `fxpfs cp` between them). Nothing is
// waited for now, and the copy goes the other way round.
func TestRefusedPortQuitsBlockedPassive(t *testing.T) {
	src := startFake(t, "inetutils", "127.0.0.2", func(f *fakeFTP) { f.refusePortForeign = true })
	dst := startFake(t, "twisted", "127.0.0.3", func(f *fakeFTP) { f.pasvBlocks, f.connectOnPort = true, true })
	data := randomBytes(t, 100_000)
	src.put("/f.bin", data)
	cs, cd := fakeClient(t, src), fakeClient(t, dst)
	e := newEngine(t)
	e.timing.quitWait = 5 * time.Second // a wait for QUIT's answer would stand out
	start := time.Now()
	rec, err := e.Copy(ctxT(t, 30*time.Second), Endpoint{cs, "/f.bin"}, Endpoint{cd, "/g.bin"}, Options{})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := dst.get("/g.bin"); !bytes.Equal(got, data) || rec.Mode != ModeFXPRev {
		t.Fatalf("mode %s (%s), %d bytes at the destination", rec.Mode, rec.Fallback, len(got))
	}
	if took > e.timing.quitWait/2 {
		t.Errorf("the copy took %v: the QUIT to the blocked passive server was waited for (QuitWait %v)", took, e.timing.quitWait)
	}
}

// verbs counts the commands f received by verb, and says from how many
// sessions (control connections).
func verbs(f *fakeFTP) (counts map[string]int, sessions int) {
	counts = map[string]int{}
	seen := map[string]bool{}
	for _, c := range f.commands() {
		id, line, _ := strings.Cut(c, " ")
		verb, _, _ := strings.Cut(line, " ")
		counts[strings.ToUpper(verb)]++
		seen[id] = true
	}
	return counts, len(seen)
}

// mtimeOf is the mtime of f's file p (zero if there is none).
func mtimeOf(f *fakeFTP, p string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ff, ok := f.files[p]; ok {
		return ff.mtime
	}
	return time.Time{}
}

// loginVerbs are the commands of a login (and session setup), left out of
// the comparisons below.
var loginVerbs = []string{"USER", "PASS", "FEAT", "TYPE", "OPTS"}

// afterLogin is counts without the login's commands.
func afterLogin(counts map[string]int) map[string]int {
	out := maps.Clone(counts)
	for _, v := range loginVerbs {
		delete(out, v)
	}
	return out
}

// TestSyncOneFileCommands: `fxpfs sync SRC/file DST/file` of one new file
// sends, after one login on each server, exactly: on the source, MLST
// (its size and exact mtime), PORT and RETR — no SIZE and no MDTM, the
// plan's listing gave both; on the destination, MLST of DST and of its
// parent (looked up together with the source), PASV, STOR, and after the
// transfer SIZE (verification) and MFMT on the same connection — no MKD,
// and no second connection on either server (the progress poll, first due
// after two intervals, has nothing to sample in so short a copy).
func TestSyncOneFileCommands(t *testing.T) {
	src := startFake(t, "src", "127.0.0.2")
	dst := startFake(t, "dst", "127.0.0.3", func(f *fakeFTP) { f.dirs["/out"] = true })
	data := randomBytes(t, 100_000)
	src.put("/d/f.bin", data)
	cs, cd := fakeClient(t, src), fakeClient(t, dst)
	e := New(testLog(t)) // the default poll interval, as fxpfs sync has
	sum, err := e.Sync(ctxT(t, 30*time.Second), Endpoint{cs, "/d/f.bin"}, Endpoint{cd, "/out/f.bin"}, SyncOptions{})
	if err != nil || sum.Copied.Files != 1 {
		t.Fatalf("sync: %v; %s", err, sum)
	}
	got, ok := dst.get("/out/f.bin")
	if !ok || !bytes.Equal(got, data) {
		t.Fatalf("%d bytes at the destination, want %d", len(got), len(data))
	}
	if got, want := mtimeOf(dst, "/out/f.bin"), mtimeOf(src, "/d/f.bin"); !got.Equal(want) {
		t.Errorf("destination mtime %v, want the source's %v", got, want)
	}
	for _, tc := range []struct {
		f    *fakeFTP
		want map[string]int
	}{
		{src, map[string]int{"MLST": 1, "PORT": 1, "RETR": 1}},
		{dst, map[string]int{"MLST": 2, "PASV": 1, "STOR": 1, "SIZE": 1, "MFMT": 1}},
	} {
		counts, sessions := verbs(tc.f)
		if got := afterLogin(counts); !maps.Equal(got, tc.want) || sessions != 1 {
			t.Errorf("%s: %v on %d connections, want %v on 1 (all: %v)", tc.f.name, got, sessions, tc.want, tc.f.commands())
		}
	}
}

// TestCopyTreeCommands: CopyTree takes each file's size and mtime from its
// listing of the source (MLSD, exact), so the source gets no SIZE and no
// MDTM at all (before: one of each per file), and the destination one SIZE
// (the verification) and one MFMT per file.
func TestCopyTreeCommands(t *testing.T) {
	src := startFake(t, "src", "127.0.0.2")
	dst := startFake(t, "dst", "127.0.0.3")
	const n = 8
	for i := range n {
		src.put(fmt.Sprintf("/tree/d%d/f%d.bin", i%2, i), randomBytes(t, 10_000+i))
	}
	cs, cd := fakeClient(t, src), fakeClient(t, dst)
	e := newEngine(t)
	sum, err := e.CopyTree(ctxT(t, 30*time.Second), Endpoint{cs, "/tree"}, Endpoint{cd, "/copy"}, Options{}, 3, nil)
	if err != nil || sum.Files != n || sum.FXP != n {
		t.Fatalf("CopyTree: %v; %s", err, sum)
	}
	for i := range n {
		p := fmt.Sprintf("/d%d/f%d.bin", i%2, i)
		want, _ := src.get("/tree" + p)
		if got, _ := dst.get("/copy" + p); !bytes.Equal(got, want) {
			t.Errorf("%s differs at the destination", p)
		}
	}
	sc, _ := verbs(src)
	dc, _ := verbs(dst)
	if sc["SIZE"] != 0 || sc["MDTM"] != 0 || sc["RETR"] != n {
		t.Errorf("source: %d SIZE, %d MDTM, %d RETR; want 0, 0, %d", sc["SIZE"], sc["MDTM"], sc["RETR"], n)
	}
	if dc["SIZE"] != n || dc["MFMT"] != n || dc["STOR"] != n {
		t.Errorf("destination: %d SIZE, %d MFMT, %d STOR; want %d of each", dc["SIZE"], dc["MFMT"], dc["STOR"], n)
	}
}

// TestSettleWithinReservation: a copy verifies its destination and sets its
// mtime while it still holds the connection slot it took on each server
// for the transfer (and so on the connections the transfer used), not on
// the one slot a server keeps for metadata, which every copy would queue
// for.
func TestSettleWithinReservation(t *testing.T) {
	src := startFake(t, "src", "127.0.0.2")
	dst := startFake(t, "dst", "127.0.0.3")
	src.put("/f.bin", randomBytes(t, 50_000))
	cs, cd := fakeClient(t, src), fakeClient(t, dst)
	e := newEngine(t)
	var slots [2]int
	e.beforeVerify = func(Record) { slots = [2]int{cs.Stats().Slots, cd.Stats().Slots} }
	if _, err := e.Copy(ctxT(t, 30*time.Second), Endpoint{cs, "/f.bin"}, Endpoint{cd, "/g.bin"}, Options{}); err != nil {
		t.Fatal(err)
	}
	if slots != [2]int{1, 1} {
		t.Errorf("slots held on (source, destination) while verifying: %v, want [1 1]", slots)
	}
	if s := cd.Stats(); s.Slots != 0 || s.Dials != 1 {
		t.Errorf("destination after the copy: %d slots held, %d connections dialled; want 0 and 1", s.Slots, s.Dials)
	}
}
