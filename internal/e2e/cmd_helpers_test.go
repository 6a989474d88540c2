package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cmdSpec says how to run a command.
type cmdSpec struct {
	env     []string      // nil: testEnv without servers
	timeout time.Duration // 0: cmdTimeout
	stdin   io.Reader
	dir     string
	// group runs the command in its own process group, all of which is
	// killed (SIGKILL) at the deadline, and the command itself when the
	// test process dies.
	group bool
}

// result is a finished command.
type result struct {
	stdout, stderr string
	code           int   // exit status; -1 if it did not exit normally
	err            error // nil on exit status 0
	elapsed        time.Duration
}

// String describes r for failure messages.
func (r result) String() string {
	return fmt.Sprintf("exit %d (%v) after %v\nstdout: %s\nstderr: %s", r.code, r.err,
		r.elapsed.Round(time.Millisecond), tail(r.stdout, 3000), tail(r.stderr, 3000))
}

// runCmd runs name with args under a deadline and returns what happened.
// Hitting the deadline is a test failure (the command hung).
func runCmd(t testing.TB, spec cmdSpec, name string, args ...string) result {
	t.Helper()
	if spec.timeout == 0 {
		spec.timeout = cmdTimeout
	}
	if spec.env == nil {
		spec.env = testEnv(t, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), spec.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = spec.env
	cmd.Dir = spec.dir
	cmd.Stdin = spec.stdin
	cmd.WaitDelay = 5 * time.Second
	if spec.group {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), err: err, elapsed: time.Since(start), code: -1}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		t.Errorf("%s %s: still running after %v (hung?)", name, strings.Join(args, " "), spec.timeout)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && ctx.Err() == nil {
		t.Fatalf("run %s: %v", name, err)
	}
	return r
}

// sh runs a bash script (with positional arguments $1...) in the mount's
// environment and returns the result.
func (m *mount) sh(t testing.TB, script string, args ...string) result {
	t.Helper()
	return runCmd(t, cmdSpec{env: m.env}, "bash", append([]string{"-c", script, "sh"}, args...)...)
}

// mustSh is sh that fails the test unless the script exits 0.
func (m *mount) mustSh(t testing.TB, script string, args ...string) string {
	t.Helper()
	r := m.sh(t, script, args...)
	if r.err != nil {
		t.Fatalf("bash -c %q %q: %s", script, args, r)
	}
	return r.stdout
}

// run runs a command in the mount's environment.
func (m *mount) run(t testing.TB, name string, args ...string) result {
	t.Helper()
	return runCmd(t, cmdSpec{env: m.env}, name, args...)
}

// mustRun is run that fails the test unless the command exits 0.
func (m *mount) mustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	r := m.run(t, name, args...)
	if r.err != nil {
		t.Fatalf("%s %q: %s", name, args, r)
	}
	return r.stdout
}
