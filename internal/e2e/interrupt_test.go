package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/fxpcopy"
	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// restartingCopy is a C program that copies argv[1] to argv[2] with
// copy_file_range while SIGALRM (an SA_RESTART handler) arrives every 20
// ms, retrying on EINTR as coreutils cp does, and prints how many calls a
// signal interrupted.
const restartingCopy = `
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t signals;
static void on_signal(int sig) { (void)sig; signals++; }

int main(int argc, char **argv) {
	if (argc != 3) return 2;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	int in = open(argv[1], O_RDONLY);
	int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || out < 0) { perror("open"); return 1; }
	struct itimerval every = {{0, 20000}, {0, 20000}};
	setitimer(ITIMER_REAL, &every, NULL);
	long interrupted = 0;
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)1 << 30, 0);
		if (n < 0 && errno == EINTR) { interrupted++; continue; }
		if (n < 0) { perror("copy_file_range"); return 1; }
		if (n == 0) break;
	}
	struct itimerval off;
	memset(&off, 0, sizeof off);
	setitimer(ITIMER_REAL, &off, NULL);
	if (close(out) < 0) { perror("close"); return 1; }
	printf("interrupted=%ld signals=%d\n", interrupted, (int)signals);
	return 0;
}
`

// buildC compiles a C program for a test.
func buildC(t *testing.T, name, src string) string {
	t.Helper()
	needTools(t, "cc")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name+".c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("cc", "-O2", "-o", bin, filepath.Join(dir, name+".c")).CombinedOutput(); err != nil {
		t.Fatalf("cc %s: %v\n%s", name, err, out)
	}
	return bin
}

// TestInterruptedKernelCopy (issue 7, item 4, mount part): signals during
// a long server-to-server copy through the mount. A program that handles
// them and retries copy_file_range gets one copy, completed, with the
// right content (interrupts answer EINTR, the copy goes on, the retry
// attaches to it). A cp killed in the middle of a copy leaves nothing at
// the destination, whichever server receives. Bound: each copy ends
// within cmdTimeout; the destination is clean within 30 s of the kill.
func TestInterruptedKernelCopy(t *testing.T) {
	t.Parallel()
	const rate = 4 << 20 // bytes/s: a 16 MiB copy lasts about 4 s
	alpha, beta := startPair(t, realftpd.Options{FXP: true, MaxRate: rate}, realftpd.Options{FXP: true, MaxRate: rate})
	prog := buildC(t, "restarting-copy", restartingCopy)
	data := map[string][]byte{}
	for _, s := range []*realftpd.Server{alpha, beta} {
		data[s.Name] = putRandom(t, s, "/src/big.bin", 16<<20)
		s.MkdirAll(t, "/dst")
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}})
	pairs := []struct{ from, to *realftpd.Server }{{alpha, beta}, {beta, alpha}}

	for _, p := range pairs {
		t.Run("restarted_"+p.from.Name+"_to_"+p.to.Name, func(t *testing.T) {
			before := m.status(t)
			out := m.mustRun(t, prog, m.path(p.from.Name, "src", "big.bin"), m.path(p.to.Name, "dst", "restarted.bin"))
			t.Logf("%s", strings.TrimSpace(out))
			if !strings.Contains(out, "interrupted=") || strings.Contains(out, "interrupted=0 ") {
				t.Errorf("no copy_file_range call was interrupted (%s): the test proves nothing", strings.TrimSpace(out))
			}
			if got := readDisk(t, p.to, "/dst/restarted.bin"); shaHex(got) != shaHex(data[p.from.Name]) {
				t.Fatalf("destination: %d bytes sha %s, want %d bytes sha %s", len(got), shaHex(got), len(data[p.from.Name]), shaHex(data[p.from.Name]))
			}
			recs := newRecords(before, m.status(t))
			if len(recs) != 1 || recs[0].Err != "" || (recs[0].Mode != fxpcopy.ModeFXP && recs[0].Mode != fxpcopy.ModeFXPRev) {
				t.Errorf("transfers: %+v, want exactly one FXP copy (the retries attach to it)", recs)
			}
		})
	}

	for _, p := range pairs {
		t.Run("killed_cp_"+p.from.Name+"_to_"+p.to.Name, func(t *testing.T) {
			cmd := exec.Command("cp", m.path(p.from.Name, "src", "big.bin"), m.path(p.to.Name, "dst", "killed.bin"))
			cmd.Env = m.env
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for len(m.status(t).Active) == 0 {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					t.Fatal("the copy never showed as active")
				}
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(500 * time.Millisecond) // well into the transfer
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			deadline = time.Now().Add(30 * time.Second)
			var left []string
			for {
				left = diskNames(t, p.to, "/dst")
				left = slicesDelete(left, "restarted.bin")
				if len(left) == 0 && len(m.status(t).Active) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("30 s after cp was killed: %q left at the destination, %d transfers active", left, len(m.status(t).Active))
				}
				time.Sleep(100 * time.Millisecond)
			}
			if r := m.run(t, "stat", m.path(p.to.Name, "dst", "killed.bin")); r.err == nil {
				t.Errorf("the mount shows the killed copy's destination: %s", r)
			}
		})
	}
}

// slicesDelete returns s without the elements equal to v.
func slicesDelete(s []string, v string) []string {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
