package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// TestFXPSourceKilled: the source server dies in the middle of an FXP
// transfer (slowed down with a rate cap): cp fails with an I/O error, no
// complete-looking destination remains, and the mount keeps working for the
// other server.
func TestFXPSourceKilled(t *testing.T) {
	t.Parallel()
	const size = 8 << 20
	alpha, beta := startPair(t, realftpd.Options{FXP: true, MaxRate: 512 << 10}, realftpd.Options{FXP: true})
	putRandom(t, alpha, "/src/slow.bin", size)
	putRandom(t, alpha, "/src/other.bin", 1000)
	keep := putRandom(t, beta, "/keep.bin", 1<<20)
	beta.MkdirAll(t, "/dst")
	local := filepath.Join(t.TempDir(), "new.bin")
	fresh := randomBytes(t, 200_000)
	if err := os.WriteFile(local, fresh, 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}})

	var stderr bytes.Buffer
	cp := exec.Command("cp", m.path("alpha", "src", "slow.bin"), m.path("beta", "dst", "slow.bin"))
	cp.Env, cp.Stderr = m.env, &stderr
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	var cpErr error
	exited := make(chan struct{})
	go func() { cpErr = cp.Wait(); close(exited) }()
	t.Cleanup(func() {
		// A cp stuck in the kernel on the mount only dies once the daemon
		// goes: wait a bit, then leave it to the mount's cleanup.
		_ = cp.Process.Kill()
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			stack, _ := os.ReadFile("/proc/" + strconv.Itoa(cp.Process.Pid) + "/stack")
			t.Errorf("cp (pid %d) still there 15s after SIGKILL; kernel stack:\n%s", cp.Process.Pid, stack)
		}
	})

	// Wait until data arrives at the destination, then kill the source.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, n := existsDisk(beta, "/dst/slow.bin"); n > 0 {
			break
		}
		select {
		case <-exited:
			t.Fatalf("cp ended (%v) before the transfer got going: %s", cpErr, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no data at the destination within 30s")
		}
	}
	_, atKill := existsDisk(beta, "/dst/slow.bin")
	alpha.Kill()
	t.Logf("killed the source with %d of %d bytes at the destination", atKill, size)

	select {
	case <-exited:
		if cpErr == nil {
			t.Errorf("cp succeeded although the source died mid-transfer")
		}
		if !strings.Contains(stderr.String(), "Input/output error") {
			t.Errorf("cp: want an I/O error, got: %s", stderr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("cp still running 2 minutes after the source server died")
	}
	if ok, n := existsDisk(beta, "/dst/slow.bin"); ok && n >= size {
		t.Errorf("destination on disk has %d bytes: looks complete after a failed copy", n)
	} else {
		t.Logf("destination after the failure: exists=%v, %d bytes", ok, n)
	}
	if r := m.run(t, "stat", "-c", "%s", m.path("beta", "dst", "slow.bin")); r.err == nil && strings.TrimSpace(r.stdout) == "8388608" {
		t.Errorf("the mount shows a complete-looking destination after the failed copy")
	}
	st := m.status(t)
	if st.Counters.Failed != 1 || st.Counters.RelayBytes != 0 {
		t.Errorf("counters after the failed copy: %+v, want 1 failed and nothing relayed", st.Counters)
	}

	// The mount keeps working for beta ...
	if got := fileSHA(t, m.path("beta", "keep.bin")); got != shaHex(keep) {
		t.Errorf("reading beta after alpha died: sha %s, want %s", got, shaHex(keep))
	}
	m.mustRun(t, "cp", local, m.path("beta", "new.bin"))
	if got := readDisk(t, beta, "/new.bin"); shaHex(got) != shaHex(fresh) {
		t.Errorf("writing to beta after alpha died: %d bytes on disk", len(got))
	}
	m.mustRun(t, "ls", "-l", m.path("beta"))
	// ... and answers for alpha with an error, not a hang.
	if r := runCmd(t, cmdSpec{env: m.env, timeout: 90 * time.Second}, "cat", m.path("alpha", "src", "other.bin")); r.err == nil {
		t.Errorf("reading from the dead server succeeded: %s", r)
	}
}

// TestFXPDestinationRefusesSTOR: a destination directory the FTP user may
// not write: cp fails with an error and nothing is left; the mount keeps
// copying by FXP elsewhere.
func TestFXPDestinationRefusesSTOR(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{FXP: true}, realftpd.Options{FXP: true})
	a := putRandom(t, alpha, "/src/a.bin", 3<<20)
	beta.MkdirAll(t, "/locked")
	beta.MkdirAll(t, "/ok")
	if err := os.Chown(beta.Path("/locked"), 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(beta.Path("/locked"), 0o555); err != nil {
		t.Fatal(err)
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}})

	before := m.status(t)
	r := m.run(t, "cp", m.path("alpha", "src", "a.bin"), m.path("beta", "locked", "a.bin"))
	if r.err == nil || !(strings.Contains(r.stderr, "Input/output error") || strings.Contains(r.stderr, "Permission denied")) {
		t.Errorf("cp into a directory the destination server refuses: want EIO or EACCES: %s", r)
	}
	if got := diskNames(t, beta, "/locked"); len(got) != 0 {
		t.Errorf("on disk after the refused copy: %q, want nothing", got)
	}
	if r := m.run(t, "stat", m.path("beta", "locked", "a.bin")); r.err == nil {
		t.Errorf("the mount shows the refused copy: %s", r)
	}
	after := m.status(t)
	if after.Counters.RelayBytes != 0 {
		t.Errorf("relayed %d bytes", after.Counters.RelayBytes)
	}
	for _, rec := range newRecords(before, after) {
		t.Logf("record: mode %q err %q fallback %q", rec.Mode, rec.Err, rec.Fallback)
	}

	// Overwriting a file the server refuses to write (read-only, not the
	// FTP user's, in a directory the user may write): cp fails and the file
	// stays, on disk and in the mount — a refused STOR wrote nothing.
	theirs := putRandom(t, beta, "/ok/theirs.bin", 5000)
	if err := os.Chown(beta.Path("/ok/theirs.bin"), 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(beta.Path("/ok/theirs.bin"), 0o444); err != nil {
		t.Fatal(err)
	}
	m.mustRun(t, "stat", m.path("beta", "ok", "theirs.bin")) // cached before the cp
	if r := m.run(t, "cp", m.path("alpha", "src", "a.bin"), m.path("beta", "ok", "theirs.bin")); r.err == nil {
		t.Errorf("cp over a file the server refuses to write succeeded: %s", r)
	}
	if got := readDisk(t, beta, "/ok/theirs.bin"); shaHex(got) != shaHex(theirs) {
		t.Errorf("refused overwrite changed or removed the file on disk (%d bytes)", len(got))
	}
	if got := m.run(t, "stat", "-c", "%s", m.path("beta", "ok", "theirs.bin")); got.err != nil || got.stdout != "5000\n" {
		t.Errorf("the mount no longer shows the intact file: %s", got)
	}

	before = m.status(t)
	m.mustRun(t, "cp", m.path("alpha", "src", "a.bin"), m.path("beta", "ok", "a.bin"))
	after = m.status(t)
	if got := readDisk(t, beta, "/ok/a.bin"); shaHex(got) != shaHex(a) {
		t.Errorf("the next copy: %d bytes on disk, sha mismatch", len(got))
	}
	checkAllFXP(t, before, after, 1)
}
