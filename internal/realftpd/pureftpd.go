package realftpd

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// pureUser is the virtual user name of pure-ftpd instances.
const pureUser = "fxpfs"

// pureBins finds pure-ftpd and pure-pw: unpacked by scripts/install-deps.sh,
// else on PATH.
func pureBins() (server, pw string) {
	var prefixes []string
	if p := os.Getenv("FXPFS_TEST_PREFIX"); p != "" {
		prefixes = append(prefixes, filepath.Join(p, "pure-ftpd"))
	}
	prefixes = append(prefixes, "/opt/fxpfs-test/pure-ftpd")
	for _, p := range prefixes {
		s, w := filepath.Join(p, "usr/sbin/pure-ftpd"), filepath.Join(p, "usr/bin/pure-pw")
		if isExec(s) && isExec(w) {
			return s, w
		}
	}
	s, w := lookBin("pure-ftpd", "/usr/sbin/pure-ftpd"), lookBin("pure-pw", "/usr/bin/pure-pw")
	if s != "" && w != "" {
		return s, w
	}
	return "", ""
}

// StartPureFTPd starts a private pure-ftpd for the test and stops it at cleanup.
func StartPureFTPd(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, pw := pureBins()
	if bin == "" {
		missing(t, "pure-ftpd/pure-pw not found in /opt/fxpfs-test/pure-ftpd or on PATH")
	}
	if os.Geteuid() != 0 {
		missing(t, "pure-ftpd test instances need root (they chroot and change user)")
	}
	opts.defaults(t, PureFTPd)
	uid, gid, err := ensureSystemUser()
	if err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	root, err := prepareRoot(opts.Root, uid, gid)
	if err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	state := t.TempDir() // passwd file and PureDB: outside root
	port := opts.Port
	if port == 0 {
		if port, err = freePort(opts.Addr); err != nil {
			t.Fatalf("realftpd: %v", err)
		}
	}
	password, err := randomPassword()
	if err != nil {
		t.Fatalf("realftpd: %v", err)
	}
	srv := &Server{
		Kind: PureFTPd, Name: opts.Name, Host: opts.Addr, Port: port,
		User: pureUser, Password: password, Root: root, UID: uid, GID: gid,
		LogFile: filepath.Join(state, "transfer.log"),
	}
	passwd, db := filepath.Join(state, "pureftpd.passwd"), filepath.Join(state, "pureftpd.pdb")
	add := exec.Command(pw, "useradd", pureUser, "-f", passwd, "-F", db,
		"-u", strconv.Itoa(uid), "-g", strconv.Itoa(gid), "-d", root, "-m")
	// pure-pw asks for the password twice on stdin; never on argv.
	add.Stdin = strings.NewReader(password + "\n" + password + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("realftpd: pure-pw useradd: %v: %s", err, out)
	}
	args := []string{bin,
		"-S", fmt.Sprintf("%s,%d", srv.Host, srv.Port),
		"-l", "puredb:" + db,
		"-A",      // chroot everyone
		"-E",      // no anonymous logins
		"-H",      // no DNS lookups
		"-D",      // list dot files
		"-4",      // IPv4 only
		"-u", "1", // allow system uids (the test user is one)
		"-U", "133:022", // files 0644, directories 0755
		"-O", "clf:" + srv.LogFile,
	}
	if opts.FXP {
		args = append(args, "-W") // FXP for everyone
	}
	if opts.MaxClients > 0 {
		n := strconv.Itoa(opts.MaxClients)
		args = append(args, "-c", n, "-C", n)
	}
	if opts.PassivePorts[0] > 0 {
		args = append(args, "-p", fmt.Sprintf("%d:%d", opts.PassivePorts[0], opts.PassivePorts[1]))
	}
	p, err := startProcess(t, args, filepath.Join(state, "stderr.log"))
	if err != nil {
		t.Fatalf("realftpd: pure-ftpd: %v", err)
	}
	srv.proc = p
	if err := p.waitGreeting(srv.Addr()); err != nil {
		t.Fatalf("realftpd: pure-ftpd on %s: %v", srv.Addr(), err)
	}
	t.Logf("realftpd: pure-ftpd %s on %s root %s (fxp=%v)", srv.Name, srv.Addr(), root, opts.FXP)
	return srv
}

func randomPassword() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random password: %w", err)
	}
	return hex.EncodeToString(b), nil
}
