package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ctl"
	"github.com/fxpfs/fxpfs/internal/realftpd"
	"github.com/fxpfs/fxpfs/internal/testutil"
)

// Deadlines.
const (
	mountTimeout = 30 * time.Second // fxpfs mount until mountpoint -q succeeds
	stopTimeout  = 20 * time.Second // SIGTERM until the daemon exits
	cmdTimeout   = 2 * time.Minute  // default bound of one command run by a test
)

// mountSpec says what to mount.
type mountSpec struct {
	servers []*realftpd.Server // given as --server NAME=URL, passwords in the environment
	config  string             // if set: a config file (TOML) with the servers instead of --server flags
	args    []string           // extra flags: --read-only, --debug ...
	env     []string           // extra environment
}

// mount is a running `fxpfs mount` subprocess.
type mount struct {
	dir     string // the mount point
	logFile string // --log-file
	outFile string // the process's stdout and stderr
	env     []string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error
	stopped bool
}

// serverURL is the --server URL of s (no password: that comes from the environment).
func serverURL(s *realftpd.Server) string {
	return fmt.Sprintf("ftp://%s@%s/", s.User, s.Addr())
}

// passwordEnv is the environment variable carrying s's password.
func passwordEnv(s *realftpd.Server) string {
	return "FXPFS_PASSWORD_" + strings.ToUpper(s.Name) + "=" + s.Password
}

// testEnv is the environment of every process a test starts: English
// messages, a private HOME and config dir (no user config or ~/.netrc), the
// shared runtime dir for the status sockets, the servers' passwords.
func testEnv(t testing.TB, servers []*realftpd.Server, extra ...string) []string {
	t.Helper()
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", k == "TZ", k == "LANG", k == "LANGUAGE", strings.HasPrefix(k, "LC_"),
			strings.HasPrefix(k, "XDG_"), strings.HasPrefix(k, "FXPFS_"), k == "GORACE":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_RUNTIME_DIR="+runtimeDir, "LC_ALL=C", "TZ=UTC", "GORACE=halt_on_error=0 exitcode=66 atexit_sleep_ms=0")
	for _, s := range servers {
		env = append(env, passwordEnv(s))
	}
	return append(env, extra...)
}

// needTools skips (in CI: fails) when a command the tests drive is missing.
func needTools(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			msg := fmt.Sprintf("e2e: %s not found (scripts/install-deps.sh installs it)", n)
			if os.Getenv("CI") != "" {
				t.Fatalf("%s [CI is set: a missing tool is a failure]", msg)
			}
			t.Skip(msg)
		}
	}
}

// startMount runs `fxpfs mount` on a new temporary directory and returns
// once `mountpoint -q` succeeds. Cleanup sends SIGTERM, checks that the
// process exits 0 and the mount is gone, and dumps the daemon's log if the
// test failed.
func startMount(t testing.TB, spec mountSpec) *mount {
	t.Helper()
	needBinary(t)
	testutil.SkipIfNoFUSE(t)
	needTools(t, "mountpoint", "fusermount3")
	m := &mount{dir: t.TempDir(), env: testEnv(t, spec.servers, spec.env...)}
	state := t.TempDir()
	m.logFile = filepath.Join(state, "fxpfs.log")
	m.outFile = filepath.Join(state, "fxpfs.out")
	args := []string{"mount", "--log-file", m.logFile}
	if spec.config != "" {
		cfg := filepath.Join(state, "config.toml")
		if err := os.WriteFile(cfg, []byte(spec.config), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", cfg)
	} else {
		for _, s := range spec.servers {
			args = append(args, "--server", s.Name+"="+serverURL(s))
		}
	}
	args = append(args, spec.args...)
	args = append(args, m.dir)
	if err := m.start(t, args); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.stopAndCheck(t)
		if t.Failed() {
			m.dumpLogs(t)
		}
	})
	if err := m.waitReady(mountTimeout); err != nil {
		t.Fatalf("fxpfs mount: %v", err)
	}
	return m
}

// start launches the fxpfs subprocess with args.
func (m *mount) start(t testing.TB, args []string) error {
	out, err := os.Create(m.outFile)
	if err != nil {
		return err
	}
	m.cmd = exec.Command(fxpfsBin, args...)
	m.cmd.Env = m.env
	m.cmd.Dir = filepath.Dir(m.outFile)
	m.cmd.Stdout, m.cmd.Stderr = out, out
	// Its own process group, so that signals meant for the test (a
	// terminal's ^C or ^\) do not kill it uncleanly and leave a dead mount;
	// if the test process dies, SIGTERM makes it unmount.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := m.cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start fxpfs mount: %w", err)
	}
	m.done = make(chan struct{})
	go func() {
		m.waitErr = m.cmd.Wait()
		out.Close()
		close(m.done)
	}()
	t.Logf("fxpfs %s (pid %d)", strings.Join(args, " "), m.cmd.Process.Pid)
	return nil
}

// waitReady polls `mountpoint -q` until it succeeds, the process exits, or
// the timeout passes.
func (m *mount) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if exec.Command("mountpoint", "-q", m.dir).Run() == nil {
			return nil
		}
		select {
		case <-m.done:
			return fmt.Errorf("exited before mounting (%v): %s", m.waitErr, m.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not mounted within %v; output: %s", m.dir, timeout, m.output())
		}
	}
}

// path joins elems under the mount point.
func (m *mount) path(elems ...string) string {
	return filepath.Join(append([]string{m.dir}, elems...)...)
}

// pid is the daemon's process id.
func (m *mount) pid() int { return m.cmd.Process.Pid }

// stop sends SIGTERM and waits for the process to exit (bounded); if it
// does not, the mount is detached lazily and the process killed. It returns
// the exit status (-1 if killed) and an error describing anything abnormal.
func (m *mount) stop() (int, error) {
	if m.stopped {
		return m.exitCode(), nil
	}
	m.stopped = true
	var problems []string
	select {
	case <-m.done:
		problems = append(problems, fmt.Sprintf("daemon had already exited (%v)", m.waitErr))
	default:
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(stopTimeout):
			problems = append(problems, fmt.Sprintf("daemon did not exit within %v of SIGTERM", stopTimeout))
			_ = exec.Command("fusermount3", "-u", "-z", m.dir).Run()
			_ = m.cmd.Process.Kill()
			<-m.done
		}
	}
	if exec.Command("mountpoint", "-q", m.dir).Run() == nil {
		problems = append(problems, "still mounted after the daemon exited")
		_ = exec.Command("fusermount3", "-u", "-z", m.dir).Run()
	}
	if bytes.Contains(m.outputBytes(), []byte("WARNING: DATA RACE")) {
		problems = append(problems, "the daemon reported a DATA RACE (see its output)")
	}
	if len(problems) > 0 {
		return m.exitCode(), errors.New(strings.Join(problems, "; "))
	}
	return m.exitCode(), nil
}

// stopAndCheck is stop plus test failures for a non-zero exit or problems.
func (m *mount) stopAndCheck(t testing.TB) {
	t.Helper()
	if m.stopped {
		return
	}
	code, err := m.stop()
	if err != nil {
		t.Errorf("fxpfs mount %s: %v", m.dir, err)
	}
	if code != 0 {
		t.Errorf("fxpfs mount %s exited with status %d after SIGTERM, want 0; output: %s", m.dir, code, m.output())
	}
}

func (m *mount) exitCode() int {
	if m.cmd.ProcessState == nil {
		return -1
	}
	return m.cmd.ProcessState.ExitCode()
}

func (m *mount) outputBytes() []byte {
	b, _ := os.ReadFile(m.outFile)
	return b
}

// output is the tail of the process's stdout+stderr.
func (m *mount) output() string { return tail(string(m.outputBytes()), 20000) }

// dumpLogs writes the tails of the daemon's output and log to the test log.
func (m *mount) dumpLogs(t testing.TB) {
	t.Helper()
	lg, _ := os.ReadFile(m.logFile)
	t.Logf("---- fxpfs output (%s) ----\n%s", m.outFile, m.output())
	t.Logf("---- fxpfs log (%s), last part ----\n%s", m.logFile, tail(string(lg), 60000))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

// status runs `fxpfs status --json` on the mount.
func (m *mount) status(t testing.TB) ctl.Snapshot {
	t.Helper()
	r := runCmd(t, cmdSpec{env: m.env, timeout: 30 * time.Second}, fxpfsBin, "status", "--json", m.dir)
	if r.err != nil {
		t.Fatalf("fxpfs status: %v: %s", r.err, r.stderr)
	}
	var snaps []ctl.Snapshot
	if err := json.Unmarshal([]byte(r.stdout), &snaps); err != nil {
		t.Fatalf("fxpfs status --json: %v: %q", err, r.stdout)
	}
	if len(snaps) != 1 {
		t.Fatalf("fxpfs status --json %s: %d snapshots, want 1", m.dir, len(snaps))
	}
	return snaps[0]
}

// stats returns server name's counters from `fxpfs status --json`.
func (m *mount) stats(t testing.TB, name string) ftpclient.Stats {
	t.Helper()
	return serverStats(t, m.status(t), name)
}

func serverStats(t testing.TB, s ctl.Snapshot, name string) ftpclient.Stats {
	t.Helper()
	for _, sv := range s.Servers {
		if sv.Name == name {
			return sv.Stats
		}
	}
	t.Fatalf("fxpfs status: no server %q in %+v", name, s.Servers)
	return ftpclient.Stats{}
}

// isMounted reports whether dir is a mount point now.
func isMounted(dir string) bool { return exec.Command("mountpoint", "-q", dir).Run() == nil }
