// Command demo is `make demo`: it starts two real FTP servers on loopback
// (vsftpd on 127.0.0.2 as "alpha", pure-ftpd on 127.0.0.3 as "beta", both
// allowing FXP), mounts them with bin/fxpfs at ./mnt, lists, reads and writes
// through the mount, copies a file from one server to the other with cp (the
// servers transfer it by FXP) and shows `fxpfs status`. On a terminal the mount
// stays up until Enter is pressed; otherwise it is unmounted at the end.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// demoT adapts the realftpd helpers (written for tests) to a program.
type demoT struct{ cleanups []func() }

func (t *demoT) Helper()                  {}
func (t *demoT) Cleanup(f func())         { t.cleanups = append(t.cleanups, f) }
func (t *demoT) Logf(f string, a ...any)  { fmt.Fprintf(os.Stderr, f+"\n", a...) }
func (t *demoT) Skip(a ...any)            { t.Fatalf("%s", fmt.Sprint(a...)) }
func (t *demoT) Skipf(f string, a ...any) { t.Fatalf(f, a...) }
func (t *demoT) Fatalf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+f+"\n", a...)
	t.close()
	os.Exit(1)
}
func (t *demoT) TempDir() string {
	d, err := os.MkdirTemp("", "fxpfs-demo-")
	if err != nil {
		t.Fatalf("%v", err)
	}
	os.Chmod(d, 0o755)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}
func (t *demoT) close() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}

func main() {
	t := &demoT{}
	defer t.close()
	if os.Geteuid() != 0 {
		t.Fatalf("run as root: the demo starts vsftpd and pure-ftpd, which need it")
	}
	bin, err := filepath.Abs("bin/fxpfs")
	if err != nil {
		t.Fatalf("%v", err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: run 'make demo' (it builds first)", bin)
	}

	step("Starting two FTP servers on loopback (FXP allowed on both)")
	alpha := realftpd.StartVsftpd(t, realftpd.Options{Addr: "127.0.0.2", FXP: true, Name: "alpha"})
	beta := realftpd.StartPureFTPd(t, realftpd.Options{Addr: "127.0.0.3", FXP: true, Name: "beta"})
	fmt.Printf("  alpha: vsftpd    at %s, files in %s\n", alpha.Addr(), alpha.Root)
	fmt.Printf("  beta:  pure-ftpd at %s, files in %s\n", beta.Addr(), beta.Root)
	alpha.WriteFile(t, "/pub/README.txt", []byte("Hello from alpha, served by vsftpd.\n"))
	big := make([]byte, 32<<20)
	rand.Read(big)
	alpha.WriteFile(t, "/pub/release.iso", big)
	for i := range 3 {
		alpha.WriteFile(t, fmt.Sprintf("/pub/docs/chapter%d.txt", i+1), []byte(strings.Repeat("lorem ipsum ", 100*(i+1))))
	}
	beta.MkdirAll(t, "/incoming")

	mnt, _ := filepath.Abs("mnt")
	if isMounted(mnt) {
		run("fusermount3", "-u", mnt)
	}
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatalf("%v", err)
	}
	step("Mounting both servers at ./mnt")
	args := []string{"mount",
		"--server", fmt.Sprintf("alpha=ftp://%s@%s/", alpha.User, alpha.Addr()),
		"--server", fmt.Sprintf("beta=ftp://%s@%s/", beta.User, beta.Addr()),
		mnt}
	fmt.Printf("  $ FXPFS_PASSWORD_ALPHA=… FXPFS_PASSWORD_BETA=… fxpfs %s &\n", strings.Join(args, " "))
	logPath := filepath.Join(os.TempDir(), "fxpfs-demo.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("%v", err)
	}
	mount := exec.Command(bin, args...)
	mount.Env = append(os.Environ(), "FXPFS_PASSWORD_ALPHA="+alpha.Password, "FXPFS_PASSWORD_BETA="+beta.Password)
	mount.Stdout, mount.Stderr = logf, logf
	if err := mount.Start(); err != nil {
		t.Fatalf("%v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- mount.Wait() }()
	t.Cleanup(func() {
		if isMounted(mnt) {
			mount.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				run("fusermount3", "-u", "-z", mnt)
			}
		}
		fmt.Println("Unmounted ./mnt and stopped both servers.")
	})
	deadline := time.Now().Add(30 * time.Second)
	for !isMounted(mnt) {
		select {
		case err := <-exited:
			out, _ := os.ReadFile(logPath)
			t.Fatalf("fxpfs mount exited (%v):\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mount did not appear within 30 s; log: %s", logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
	os.Chdir(filepath.Dir(mnt))

	step("Browsing")
	show("ls", "-l", "mnt")
	show("ls", "-lR", "mnt/alpha/pub")
	show("stat", "-c", "%n: %s bytes, %b blocks, modified %y", "mnt/alpha/pub/release.iso")

	step("Reading")
	show("cat", "mnt/alpha/pub/README.txt")
	show("sha256sum", "mnt/alpha/pub/release.iso")

	step("Writing")
	show("sh", "-c", "date > mnt/beta/incoming/hello.txt && cat mnt/beta/incoming/hello.txt")
	show("mkdir", "mnt/beta/incoming/docs")
	show("sh", "-c", "cp mnt/alpha/pub/docs/* mnt/beta/incoming/docs/ && ls -l mnt/beta/incoming/docs")

	step("Copying alpha → beta: cp asks the kernel to copy, fxpfs tells the servers to do it (FXP)")
	start := time.Now()
	show("cp", "mnt/alpha/pub/release.iso", "mnt/beta/incoming/")
	fmt.Printf("  (%.2f s for %d MiB)\n", time.Since(start).Seconds(), len(big)>>20)
	want := sha256.Sum256(big)
	got := fileSum(beta.Path("/incoming/release.iso"))
	fmt.Printf("  sha256 on beta's disk: %s (%s)\n", got, map[bool]string{true: "matches", false: "DIFFERS"}[got == hex.EncodeToString(want[:])])
	show(bin, "status", mnt)

	fmt.Println()
	if term.IsTerminal(int(os.Stdin.Fd())) {
		fmt.Printf("The mount is up at %s: try it from another shell.\n", mnt)
		fmt.Printf("Press Enter here to unmount and stop the servers (or unmount yourself: fusermount3 -u %s).\n", mnt)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { bufio.NewReader(os.Stdin).ReadString('\n'); cancel() }()
		select {
		case <-ctx.Done():
		case <-exited:
		}
	} else {
		fmt.Printf("Not on a terminal, so the demo unmounts now. To keep a mount up, run fxpfs mount yourself;\n")
		fmt.Printf("unmount it with Ctrl-C, SIGTERM, or: fusermount3 -u %s\n", mnt)
	}
}

func step(s string) { fmt.Printf("\n== %s\n", s) }

func show(name string, args ...string) {
	disp := name
	if strings.HasSuffix(name, "/fxpfs") {
		disp = "fxpfs"
	}
	fmt.Printf("  $ %s %s\n", disp, strings.Join(args, " "))
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		fmt.Printf("    %s\n", l)
	}
	if err != nil {
		fmt.Printf("    (failed: %v)\n", err)
	}
}

func run(name string, args ...string) { _ = exec.Command(name, args...).Run() }

func isMounted(mp string) bool {
	return exec.Command("mountpoint", "-q", mp).Run() == nil
}

func fileSum(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return "missing: " + err.Error()
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}
