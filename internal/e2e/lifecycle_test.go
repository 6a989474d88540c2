package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/ctl"
	"github.com/fxpfs/fxpfs/internal/realftpd"
	"github.com/fxpfs/fxpfs/internal/testutil"
)

// readinessScript is what a user's script does: start the mount in the
// background, wait for mountpoint -q, use it at once, then SIGTERM.
const readinessScript = `
bin=$1 mp=$2; shift 2
"$bin" mount "$@" "$mp" 2>"$mp.err" &
pid=$!
until mountpoint -q "$mp"; do
	kill -0 "$pid" 2>/dev/null || { echo "fxpfs exited before mounting"; cat "$mp.err"; exit 3; }
	sleep 0.01
done
ls "$mp" || exit 4
ls "$mp/alpha" "$mp/beta" || exit 5
cat "$mp/alpha/hello.txt" "$mp/beta/hello.txt" || exit 6
kill -TERM "$pid"
wait "$pid"
echo "exit=$?"
if mountpoint -q "$mp"; then echo "still mounted"; fi
`

// TestMountReadinessAndSIGTERM: a backgrounded mount is usable as soon as
// mountpoint -q succeeds, and SIGTERM unmounts cleanly with status 0.
func TestMountReadinessAndSIGTERM(t *testing.T) {
	t.Parallel()
	testutil.SkipIfNoFUSE(t)
	needTools(t, "mountpoint", "fusermount3")
	alpha, beta := startPair(t, realftpd.Options{}, realftpd.Options{})
	for _, s := range []*realftpd.Server{alpha, beta} {
		s.WriteFile(t, "/hello.txt", []byte("hello from "+s.Name+"\n"))
	}
	mp := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if isMounted(mp) {
			t.Errorf("%s still mounted at the end of the test; detaching", mp)
			_ = runCmd(t, cmdSpec{}, "fusermount3", "-u", "-z", mp)
		}
	})
	servers := []*realftpd.Server{alpha, beta}
	args := []string{"-c", readinessScript, "sh", fxpfsBin, mp}
	for _, s := range servers {
		args = append(args, "--server", s.Name+"="+serverURL(s))
	}
	r := runCmd(t, cmdSpec{env: testEnv(t, servers), timeout: time.Minute}, "bash", args...)
	if r.err != nil {
		t.Fatalf("readiness script: %s", r)
	}
	want := "alpha\nbeta\n"
	if !strings.HasPrefix(r.stdout, want) {
		t.Errorf("ls of the mount right after mountpoint -q: %q, want it to start with %q", r.stdout, want)
	}
	for _, s := range servers {
		if !strings.Contains(r.stdout, "hello from "+s.Name+"\n") {
			t.Errorf("cat of %s's file right after mountpoint -q: missing from %q", s.Name, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "exit=0\n") {
		t.Errorf("fxpfs mount after SIGTERM: want exit status 0: %s", r)
	}
	if strings.Contains(r.stdout, "still mounted") || isMounted(mp) {
		t.Errorf("still mounted after SIGTERM: %s", r)
	}
}

// TestMountDaemon: --daemon returns once the mount is ready, the
// background process serves it, `fxpfs status` finds it, and SIGTERM to
// that process unmounts.
func TestMountDaemon(t *testing.T) {
	t.Parallel()
	testutil.SkipIfNoFUSE(t)
	needTools(t, "mountpoint", "fusermount3")
	alpha := startAlpha(t, realftpd.Options{})
	alpha.WriteFile(t, "/hello.txt", []byte("hello\n"))
	mp := t.TempDir()
	env := testEnv(t, []*realftpd.Server{alpha})
	logFile := filepath.Join(t.TempDir(), "daemon.log")
	r := runCmd(t, cmdSpec{env: env, timeout: time.Minute}, fxpfsBin, "mount", "--daemon", "--log-file", logFile,
		"--server", "alpha="+serverURL(alpha), mp)
	if r.err != nil {
		t.Fatalf("fxpfs mount --daemon: %s", r)
	}
	// The daemon is not our child: find it through the status socket, and
	// make sure it goes away whatever happens below.
	pid := 0
	t.Cleanup(func() {
		if isMounted(mp) {
			if pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			_ = runCmd(t, cmdSpec{}, "fusermount3", "-u", "-z", mp)
		}
	})
	if !isMounted(mp) {
		t.Fatalf("fxpfs mount --daemon returned (%s) but %s is not mounted", r, mp)
	}
	if got := runCmd(t, cmdSpec{env: env}, "cat", filepath.Join(mp, "alpha", "hello.txt")); got.stdout != "hello\n" {
		t.Errorf("cat right after --daemon returned: %s", got)
	}
	st := runCmd(t, cmdSpec{env: env, timeout: 30 * time.Second}, fxpfsBin, "status", "--json", mp)
	var snaps []ctl.Snapshot
	if err := json.Unmarshal([]byte(st.stdout), &snaps); err != nil || len(snaps) != 1 || snaps[0].PID <= 0 {
		t.Fatalf("fxpfs status --json: %v: %s", err, st)
	}
	pid = snaps[0].PID
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to the daemon (pid %d): %v", pid, err)
	}
	deadline := time.Now().Add(stopTimeout)
	for isMounted(mp) || syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			lg, _ := os.ReadFile(logFile)
			t.Fatalf("daemon %d: still mounted=%v or running %v after SIGTERM; log:\n%s",
				pid, isMounted(mp), stopTimeout, tail(string(lg), 5000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPasswordsNeverShown: with --debug and --log-file the passwords appear
// neither in the log nor in the process's command line (ps); a wrong
// password makes mount fail at once with a message without the password.
func TestPasswordsNeverShown(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{}, realftpd.Options{})
	servers := []*realftpd.Server{alpha, beta}
	for _, s := range servers {
		s.WriteFile(t, "/f.txt", []byte("data\n"))
	}
	m := startMount(t, mountSpec{servers: servers, args: []string{"--debug"}})
	for _, s := range servers {
		m.mustRun(t, "ls", "-l", m.path(s.Name))
		m.mustRun(t, "cat", m.path(s.Name, "f.txt"))
		m.mustSh(t, `echo new > "$1"`, m.path(s.Name, "new.txt"))
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(m.pid()) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	ps := m.mustRun(t, "ps", "-eww", "-o", "pid,args")
	if !strings.Contains(ps, m.dir) {
		t.Errorf("ps does not show the mount process (%d): the check below would prove nothing", m.pid())
	}
	code, err := m.stop() // flushes the log
	if err != nil || code != 0 {
		t.Errorf("stop: exit %d, %v", code, err)
	}
	lg, err := os.ReadFile(m.logFile)
	if err != nil {
		t.Fatal(err)
	}
	// The trace must really be there, PASS included (redacted).
	for _, want := range []string{"USER ", "PASS ", "RETR ", "STOR "} {
		if !strings.Contains(string(lg), want) {
			t.Errorf("the --debug log has no %q line: the FTP trace is missing", want)
		}
	}
	for _, s := range servers {
		for what, text := range map[string]string{
			"--debug log": string(lg), "stdout/stderr": string(m.outputBytes()),
			"/proc/PID/cmdline": string(cmdline), "ps": ps,
		} {
			if strings.Contains(text, s.Password) {
				t.Errorf("%s's password appears in the %s", s.Name, what)
			}
		}
	}

	t.Run("wrong_password", func(t *testing.T) {
		for _, s := range servers {
			t.Run(s.Name+"-"+string(s.Kind), func(t *testing.T) {
				const wrong = "Wr0ng-Pa55word-e2e"
				mp := t.TempDir()
				env := testEnv(t, nil, "FXPFS_PASSWORD_"+strings.ToUpper(s.Name)+"="+wrong)
				r := runCmd(t, cmdSpec{env: env, timeout: time.Minute}, fxpfsBin, "mount", "--debug",
					"--server", s.Name+"="+serverURL(s), mp)
				if isMounted(mp) {
					_ = runCmd(t, cmdSpec{}, "fusermount3", "-u", "-z", mp)
					t.Fatalf("mounted with a wrong password: %s", r)
				}
				if r.err == nil {
					t.Errorf("fxpfs mount with a wrong password exited 0: %s", r)
				}
				out := r.stdout + r.stderr
				if strings.Contains(out, wrong) {
					t.Errorf("the wrong password appears in the output: %s", r)
				}
				if !strings.Contains(out, s.Name) {
					t.Errorf("the error does not name the server %q: %s", s.Name, r)
				}
				t.Logf("wrong password: %s", strings.TrimSpace(tail(r.stderr, 300)))
			})
		}
	})
}
