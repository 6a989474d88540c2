package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// mount(8), /etc/fstab and user mounts (fxpfs help mount-helper).
//
// mount(8) runs helpers without the caller's PATH, and finds them only in
// /sbin: so these tests run in a private mount namespace (unshare -m)
// where a tmpfs over /usr/local/bin holds the fxpfs under test (as `make
// install` puts it), or where fxpfs is bind-mounted over /sbin/mount.fuse
// (so mount(8) runs it directly, as it runs /sbin/mount.fuse.fxpfs). The
// host's own directories are never touched.

// helperConfig writes a config file for s with its password in it (a boot
// mount has no environment to take it from) and returns its path.
func helperConfig(t *testing.T, s *realftpd.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	cfg := fmt.Sprintf("[servers.%s]\nurl = %q\npassword = %q\n", s.Name, serverURL(s), s.Password)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// inMountNS runs a shell script in a private mount namespace whose
// /usr/local/bin holds the fxpfs under test ($FXPFS), or (asHelper) whose
// /sbin/mount.fuse is it. Anything mounted at $MNT is unmounted at the end.
func inMountNS(t *testing.T, asHelper bool, mnt, script string, args ...string) result {
	t.Helper()
	setup := `mount -t tmpfs fxpfs-test-bin /usr/local/bin && cp "$FXPFS" /usr/local/bin/fxpfs`
	if asHelper {
		setup = `mount --bind "$FXPFS" /sbin/mount.fuse`
	}
	full := `set -e
trap 'umount -l "$MNT" 2>/dev/null || true' EXIT
` + setup + "\n" + script
	env := append(testEnv(t, nil), "FXPFS="+fxpfsBin, "MNT="+mnt)
	return runCmd(t, cmdSpec{env: env, timeout: 2 * time.Minute}, "unshare", append([]string{"--mount", "--propagation", "private",
		"--", "sh", "-c", full, "sh"}, args...)...)
}

// checkScript checks, inside the namespace, a mount of alpha at $MNT: the
// mount's options line, the owner of f.txt, its sha256, whether a write
// works, then unmounts and waits for the daemon to exit.
const checkScript = `
grep " $MNT " /proc/self/mounts | sed 's/^/MOUNTS: /'
echo "OWNER: $(stat -c %u:%g "$MNT/alpha/f.txt")"
echo "SHA: $(sha256sum < "$MNT/alpha/f.txt")"
if touch "$MNT/alpha/new.txt" 2>/dev/null; then echo "WRITE: ok"; else echo "WRITE: refused"; fi
umount "$MNT"
for i in $(seq 200); do
	pgrep -f "fxpfs mount .*$MNT" >/dev/null || { echo "DAEMON: gone"; exit 0; }
	sleep 0.05
done
echo "DAEMON: still running after umount"
`

func TestMountHelper(t *testing.T) {
	t.Parallel()
	needTools(t, "unshare", "mount", "umount", "pgrep", "/sbin/mount.fuse")
	if os.Geteuid() != 0 {
		t.Skip("mount(8) of a fuse.fxpfs line needs root here (a user mount is TestUserMount)")
	}
	needBinary(t)
	alpha := startAlpha(t, realftpd.Options{})
	data := putRandom(t, alpha, "/f.txt", 70000)
	cfg := helperConfig(t, alpha)

	tests := []struct {
		name     string
		asHelper bool   // fxpfs is what mount(8) runs, not fuse3's mount.fuse
		fstab    string // the fstab line (%[1]s: config, %[2]s: mount point); "" to use args
		args     string // mount's arguments otherwise
		ro       bool
		owner    string
	}{
		{name: "fstab, old form, ro, through mount.fuse", fstab: "fxpfs#%[1]s %[2]s fuse.fxpfs ro,allow_other,_netdev,uid=4321,gid=99,x-gvfs-notrash 0 0",
			ro: true, owner: "4321:99"},
		{name: "fstab, rw, fxpfs as the helper", asHelper: true, fstab: "%[1]s %[2]s fuse.fxpfs defaults,_netdev,nofail 0 0",
			owner: "0:0"},
		{name: "mount -t fuse.fxpfs -o ro,config=", args: `-t fuse.fxpfs -o ro,config=%[1]s fxpfs %[2]s`, ro: true, owner: "0:0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mnt := t.TempDir()
			os.Remove(filepath.Join(alpha.Root, "new.txt"))
			var script string
			if tc.fstab != "" {
				fstab := filepath.Join(t.TempDir(), "fstab")
				if err := os.WriteFile(fstab, []byte(fmt.Sprintf(tc.fstab, cfg, mnt)+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				script = fmt.Sprintf(`mount -T %q "$MNT"`, fstab)
			} else {
				script = "mount " + fmt.Sprintf(tc.args, cfg, `"$MNT"`)
			}
			r := inMountNS(t, tc.asHelper, mnt, script+"\n"+checkScript)
			if r.err != nil {
				t.Fatalf("%v", r)
			}
			out := map[string]string{}
			for _, line := range strings.Split(r.stdout, "\n") {
				if k, v, ok := strings.Cut(line, ": "); ok {
					out[k] = v
				}
			}
			mounts := out["MOUNTS"]
			if !strings.Contains(mounts, " fuse.fxpfs ") {
				t.Fatalf("mount options line %q: not a fuse.fxpfs mount (output: %s)", mounts, r)
			}
			opts := strings.Split(strings.Fields(mounts + " x x x x")[3], ",")
			if has(opts, "ro") != tc.ro {
				t.Errorf("mount options %v: ro = %v, want %v", opts, has(opts, "ro"), tc.ro)
			}
			if strings.Contains(tc.fstab, "allow_other") != has(opts, "allow_other") {
				t.Errorf("mount options %v: allow_other not as asked", opts)
			}
			if got, _, _ := strings.Cut(out["SHA"], " "); got != shaHex(data) {
				t.Errorf("file read through the mount: sha %q, want %s", got, shaHex(data))
			}
			if out["OWNER"] != tc.owner {
				t.Errorf("owner shown %q, want %q", out["OWNER"], tc.owner)
			}
			wantWrite := "ok"
			if tc.ro {
				wantWrite = "refused"
			}
			if out["WRITE"] != wantWrite {
				t.Errorf("write: %q, want %q", out["WRITE"], wantWrite)
			}
			if ok, _ := existsDisk(alpha, "/new.txt"); ok != !tc.ro {
				t.Errorf("file written through the mount on the server: %v, want %v", ok, !tc.ro)
			}
			if out["DAEMON"] != "gone" {
				t.Errorf("daemon after umount: %q", out["DAEMON"])
			}
		})
	}

	t.Run("a wrong password fails the mount", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.toml")
		if err := os.WriteFile(bad, []byte(fmt.Sprintf("[servers.alpha]\nurl = %q\npassword = \"wrong\"\n", serverURL(alpha))), 0o600); err != nil {
			t.Fatal(err)
		}
		mnt := t.TempDir()
		r := inMountNS(t, false, mnt, fmt.Sprintf(`if mount -t fuse.fxpfs %q "$MNT"; then echo MOUNTED; fi`, bad))
		if strings.Contains(r.stdout, "MOUNTED") {
			t.Fatalf("mount with a wrong password succeeded: %v", r)
		}
		if !strings.Contains(r.stderr, "alpha") {
			t.Errorf("mount's error does not name the server: %q", r.stderr)
		}
	})
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestUserMount mounts as an unprivileged user, which goes through
// fusermount3 (setuid root), as a 'user,noauto' fstab line or a user's own
// `fxpfs mount` does.
func TestUserMount(t *testing.T) {
	t.Parallel()
	needTools(t, "fusermount3")
	if os.Geteuid() != 0 {
		t.Skip("the test switches to another user: it needs root")
	}
	fm, err := exec.LookPath("fusermount3")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(fm); err != nil || st.Mode()&os.ModeSetuid == 0 {
		skipOrFail(t, "fusermount3 is not setuid root here: users cannot mount")
	}
	needBinary(t)
	alpha := startAlpha(t, realftpd.Options{})
	data := putRandom(t, alpha, "/f.txt", 5000)
	uid, gid := alpha.UID, alpha.GID // the servers' system user: a plain user here
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	home, run, mnt := filepath.Join(dir, "home"), filepath.Join(dir, "run"), filepath.Join(dir, "mnt")
	for _, d := range []string{home, run, mnt} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"HOME=" + home, "XDG_RUNTIME_DIR=" + run, "PATH=/usr/bin:/bin", "LC_ALL=C", passwordEnv(alpha)}
	asUser := func(timeout time.Duration, name string, args ...string) result {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		var so, se strings.Builder
		cmd.Stdout, cmd.Stderr = &so, &se
		done := make(chan error, 1)
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err = <-done:
		case <-time.After(timeout):
			_ = cmd.Process.Kill()
			err = <-done
			t.Errorf("%s %v: still running after %v", name, args, timeout)
		}
		r := result{stdout: so.String(), stderr: se.String(), err: err, elapsed: time.Since(start), code: cmd.ProcessState.ExitCode()}
		return r
	}
	r := asUser(mountTimeout, fxpfsBin, "mount", "--daemon", "--server", "alpha="+serverURL(alpha), mnt)
	if r.err != nil {
		if strings.Contains(r.stderr, "fusermount") {
			skipOrFail(t, "fusermount3 refused a user mount here: "+strings.TrimSpace(r.stderr))
		}
		t.Fatalf("fxpfs mount as uid %d: %v", uid, r)
	}
	t.Cleanup(func() {
		if isMounted(mnt) {
			_ = exec.Command("fusermount3", "-u", "-z", mnt).Run()
		}
	})
	info := mountInfo(t, mnt)
	if !strings.Contains(info, fmt.Sprintf("user_id=%d", uid)) {
		t.Errorf("mountinfo %q: not mounted for uid %d", info, uid)
	}
	if r := asUser(time.Minute, "sha256sum", filepath.Join(mnt, "alpha", "f.txt")); r.err != nil || !strings.HasPrefix(r.stdout, shaHex(data)) {
		t.Errorf("the user reads through the mount: %v", r)
	}
	if r := asUser(time.Minute, "cp", "/etc/hostname", filepath.Join(mnt, "alpha", "copied")); r.err != nil {
		t.Errorf("the user writes through the mount: %v", r)
	} else if ok, _ := existsDisk(alpha, "/copied"); !ok {
		t.Error("the user's write is not on the server")
	}
	if _, err := os.Stat(filepath.Join(mnt, "alpha")); err == nil {
		t.Error("root can use a user's mount made without allow_other")
	}
	if r := asUser(time.Minute, fxpfsBin, "status", mnt); r.err != nil || !strings.Contains(r.stdout, "alpha") {
		t.Errorf("fxpfs status as the user: %v", r)
	}
	if r := asUser(time.Minute, "fusermount3", "-u", mnt); r.err != nil {
		t.Fatalf("fusermount3 -u as the user: %v", r)
	}
	if isMounted(mnt) {
		t.Error("still mounted after fusermount3 -u")
	}

	// A 'user,noauto' line in /etc/fstab (bind-mounted over it in a private
	// mount namespace): the user runs `mount MNT` and `umount MNT`; mount(8)
	// runs the helper as the user, which mounts through fusermount3.
	needTools(t, "unshare", "setpriv", "/sbin/mount.fuse")
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[servers.alpha]\nurl = %q\npassword = %q\n", serverURL(alpha), alpha.Password)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(cfg, uid, gid); err != nil {
		t.Fatal(err)
	}
	fstab := filepath.Join(dir, "fstab")
	if err := os.WriteFile(fstab, []byte(fmt.Sprintf("fxpfs#%s %s fuse.fxpfs user,noauto 0 0\n", cfg, mnt)), 0o644); err != nil {
		t.Fatal(err)
	}
	user := fmt.Sprintf("setpriv --reuid %d --regid %d --clear-groups env HOME=%s", uid, gid, home)
	r = inMountNS(t, false, mnt, `chmod 755 /usr/local/bin
mount --bind "$1" /etc/fstab
`+user+` mount "$MNT"
grep " $MNT " /proc/self/mounts | sed 's/^/MOUNTS: /'
echo "SHA: $(`+user+` sha256sum "$MNT/alpha/f.txt")"
`+user+` umount "$MNT"
if grep -q " $MNT " /proc/self/mounts; then echo "UMOUNT: still mounted"; else echo "UMOUNT: ok"; fi`, fstab)
	if r.err != nil {
		t.Fatalf("fstab user mount: %v", r)
	}
	if !strings.Contains(r.stdout, fmt.Sprintf("user_id=%d", uid)) {
		t.Errorf("fstab user mount: not mounted for uid %d: %s", uid, r.stdout)
	}
	if !strings.Contains(r.stdout, "SHA: "+shaHex(data)) {
		t.Errorf("fstab user mount: the user's read: %s", r.stdout)
	}
	if !strings.Contains(r.stdout, "UMOUNT: ok") {
		t.Errorf("fstab user mount: the user's umount: %s", r.stdout)
	}
}

// mountInfo returns the /proc/self/mountinfo line of mnt.
func mountInfo(t *testing.T, mnt string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == mnt {
			return line
		}
	}
	t.Fatalf("%s is not in mountinfo", mnt)
	return ""
}

// skipOrFail skips with the reason, or fails in CI.
func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s [CI is set: this must work there]", reason)
	}
	t.Skip(reason)
}
