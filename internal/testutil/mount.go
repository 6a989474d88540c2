// Package testutil holds helpers for tests. It mounts go-fuse file systems:
// it skips (or, in CI, fails) when FUSE is missing, mounts in a temporary
// directory, waits for the mount, and unmounts at cleanup (lazily if a
// plain unmount fails, so a test never hangs on a busy mount). It captures
// loopback traffic between two addresses (capture.go: is FXP data
// encrypted?), and SyncBuffer collects output written concurrently.
package testutil

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// SkipIfNoFUSE skips the test, saying why, when /dev/fuse or fusermount3 is
// missing. When CI is set the missing FUSE is a failure instead: CI must
// run these tests.
func SkipIfNoFUSE(t testing.TB) {
	t.Helper()
	reason := ""
	if _, err := os.Stat("/dev/fuse"); err != nil {
		reason = "/dev/fuse is missing: " + err.Error()
	} else if _, err := exec.LookPath("fusermount3"); err != nil && os.Geteuid() != 0 {
		reason = "fusermount3 is missing (apt-get install fuse3)"
	}
	if reason == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("FUSE test cannot run in CI: %s", reason)
	}
	t.Skipf("FUSE not available: %s", reason)
}

// Mount mounts root in a new temporary directory with opts and returns the
// mount point once the kernel serves it. t.Cleanup unmounts it and waits
// for the server to stop.
func Mount(t testing.TB, root fs.InodeEmbedder, opts *fs.Options) string {
	t.Helper()
	SkipIfNoFUSE(t)
	dir := t.TempDir()
	server, err := fs.Mount(dir, root, opts)
	if err != nil {
		t.Fatalf("mount %s: %v", dir, err)
	}
	t.Cleanup(func() { Unmount(t, dir, server) })
	if err := WaitMount(dir, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Unmount unmounts dir, lazily (MNT_DETACH) if the plain unmount fails, and
// waits (bounded) for server to finish.
func Unmount(t testing.TB, dir string, server *fuse.Server) {
	t.Helper()
	if err := server.Unmount(); err != nil {
		t.Logf("unmount %s: %v; detaching lazily", dir, err)
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			_ = exec.Command("fusermount3", "-u", "-z", dir).Run()
		}
	}
	done := make(chan struct{})
	go func() {
		server.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("FUSE server for %s did not stop within 10s", dir)
	}
}

// WaitMount waits until dir is a mount point in /proc/self/mounts.
func WaitMount(dir string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := IsMounted(dir)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("timed out waiting for the mount at " + dir)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// IsMounted reports whether dir is a mount point.
func IsMounted(dir string) (bool, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && unescape(fields[1]) == dir {
			return true, nil
		}
	}
	return false, sc.Err()
}

// unescape undoes the octal escapes of /proc/self/mounts (\040 for space ...).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			n := 0
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				n = n*8 + int(c-'0')
			}
			if ok {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
