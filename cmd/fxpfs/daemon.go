package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// The daemon protocol: the parent re-executes itself with daemonEnv set and
// a pipe as fd 3; the child writes "ok\n" or "error: ...\n" on it once the
// mount is ready (or failed), and the parent exits accordingly.
const daemonEnv = "FXPFS_DAEMON_CHILD"

func isDaemonChild() bool { return os.Getenv(daemonEnv) == "1" }

// startDaemon runs the mount in a background copy of this process and
// returns once it is ready; quiet: say nothing when it is (mount(8)'s helper).
func startDaemon(mountpoint string, quiet bool) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	defer r.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	defer devnull.Close()
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), daemonEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("daemon: %w", err)
	}
	w.Close()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		return errors.New("daemon: the background process exited before mounting (run without --daemon to see why)")
	}
	line = strings.TrimSpace(line)
	if line != "ok" {
		return errors.New(strings.TrimPrefix(line, "error: "))
	}
	if !quiet {
		fmt.Fprintf(os.Stderr, "fxpfs: mounted %s (pid %d); unmount with: fusermount3 -u %s\n", mountpoint, cmd.Process.Pid, mountpoint)
	}
	return nil
}

// daemonReady tells a waiting parent the outcome (only in a daemon child)
// and returns err unchanged.
func daemonReady(err error) error {
	if !isDaemonChild() {
		return err
	}
	f := os.NewFile(3, "daemon-ready")
	if f == nil {
		return err
	}
	msg := "ok\n"
	if err != nil {
		msg = "error: " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n"
	}
	_, _ = f.WriteString(msg)
	f.Close()
	os.Setenv(daemonEnv, "reported")
	return err
}

// lazyUnmount detaches a busy mount (fusermount3 -uz) and waits briefly for
// the server loop to end.
func lazyUnmount(mountpoint string, done <-chan struct{}) error {
	out, err := exec.Command("fusermount3", "-u", "-z", mountpoint).CombinedOutput()
	if err != nil {
		return fmt.Errorf("lazy unmount %s: %w: %s", mountpoint, err, bytes.TrimSpace(out))
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	return nil
}
