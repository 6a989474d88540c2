package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// GIO, as file managers use it, run so that nothing outside the test can
// hold it up and nothing of it outlives its command:
//
//   - a private mount namespace (unshare -m) in which every FUSE mount but
//     the test's own is detached (in that namespace only): gvfsd-trash,
//     started for `gio trash --list` and friends, looks into every mount it
//     sees (access(2), lstat of .Trash-UID/files), and another test's mount
//     whose daemon is stopped or waiting on a stalled server would hold it
//     up (TestTrashWithGIO once ran past 60 s in a full `make test`);
//   - a private PID namespace (unshare --pid --fork --kill-child): when the
//     command ends or is killed, the kernel kills whatever it started
//     (dbus-daemon, gvfsd, gvfsd-trash), so nothing keeps the mount busy;
//   - its own D-Bus session (dbus-run-session) and private HOME and XDG
//     directories (gvfs keeps its metadata, the home trash and its sockets
//     there), no gvfs FUSE mount (GVFS_DISABLE_FUSE) and no volume
//     monitors (which would ask udisks and others over D-Bus);
//   - a deadline (gioTimeout) after which the command and everything it
//     started are killed and the test fails saying so.

// gioTools are what gio runs need (scripts/install-deps.sh installs them).
var gioTools = []string{"gio", "dbus-run-session", "unshare", "umount"}

// gioTimeout bounds one GIO command (each takes well under a second here).
const gioTimeout = 45 * time.Second

// gioNS is the script run in the namespaces: detach every FUSE mount but
// $MNT (mountinfo escapes spaces and the like as \ooo, which printf %b
// reads), then run "$@" in a D-Bus session of its own.
const gioNS = `awk -v keep="$MNT" '{ i = 7; while ($i != "-") i++; if ($(i+1) ~ /^fuse(\.|blk$|$)/ && $5 != keep) print $5 }' /proc/self/mountinfo |
while IFS= read -r m; do
	umount -l "$(printf '%b' "$m")" 2>/dev/null || echo "gio test: could not detach $m" >&2
done
exec dbus-run-session -- "$@"`

// gio runs `gio ARGS` isolated (see above) and returns the result.
func (m *mount) gio(t testing.TB, args ...string) result {
	t.Helper()
	return m.gioRun(t, gioTimeout, append([]string{"gio"}, args...)...)
}

// gioSh runs a shell script (with $1... = args) the same way, bounded by
// timeout.
func (m *mount) gioSh(t testing.TB, timeout time.Duration, script string, args ...string) result {
	t.Helper()
	return m.gioRun(t, timeout, append([]string{"sh", "-c", script, "sh"}, args...)...)
}

// gioRun runs argv isolated (see above), failing the test if it does not
// end within timeout.
func (m *mount) gioRun(t testing.TB, timeout time.Duration, argv ...string) result {
	t.Helper()
	needTools(t, gioTools...)
	mnt, err := filepath.EvalSymlinks(m.dir) // as mountinfo shows it
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	run := filepath.Join(home, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"MNT=" + mnt, "HOME=" + home, "XDG_RUNTIME_DIR=" + run,
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"), "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "XDG_STATE_HOME=" + filepath.Join(home, ".local", "state"),
		"GVFS_DISABLE_FUSE=1", "GIO_USE_VOLUME_MONITOR=unix", "GVFS_REMOTE_VOLUME_MONITOR_IGNORE=1"}
	for _, kv := range m.env {
		k, _, _ := strings.Cut(kv, "=")
		if k != "HOME" && k != "MNT" && !strings.HasPrefix(k, "XDG_") && !strings.HasPrefix(k, "DBUS_") {
			env = append(env, kv)
		}
	}
	args := []string{"--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc"}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user") // namespaces of one's own
	}
	args = append(append(args, "--", "sh", "-c", gioNS, "sh"), argv...)
	r := runCmd(t, cmdSpec{env: env, timeout: timeout, group: true}, "unshare", args...)
	if r.code == -1 && r.elapsed >= timeout {
		t.Fatalf("%s: no end within %v: killed with everything it started (D-Bus session, gvfsd, gvfsd-trash)\n%s",
			strings.Join(argv, " "), timeout, r)
	}
	return r
}
