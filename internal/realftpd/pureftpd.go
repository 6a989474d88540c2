package realftpd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// pureUser is the virtual user name of pure-ftpd instances.
const pureUser = "fxpfs"

// pureBins finds pure-ftpd and pure-pw: unpacked by scripts/install-deps.sh,
// else on PATH.
func pureBins() (server, pw string) {
	for _, p := range unpacked("pure-ftpd") {
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
func StartPureFTPd(t TB, opts Options) *Server {
	t.Helper()
	skipShort(t)
	bin, pw := pureBins()
	if bin == "" {
		missing(t, "pure-ftpd/pure-pw not found in /opt/fxpfs-test/pure-ftpd or on PATH")
	}
	if lookBin("openssl") == "" {
		missing(t, "openssl (to hash the pure-ftpd test password) not found")
	}
	if os.Geteuid() != 0 {
		missing(t, "pure-ftpd test instances need root (they chroot and change user)")
	}
	if opts.TLS12 || opts.TLSTickets {
		t.Fatalf("realftpd: TLS12/TLSTickets: proftpd only")
	}
	if opts.TLSImplicit {
		t.Fatalf("realftpd: pure-ftpd has no implicit TLS")
	}
	srv, state := newServer(t, PureFTPd, &opts, true) // state: passwd file and PureDB, outside root
	srv.User, srv.Password = pureUser, randomPassword(t)
	srv.LogFile = filepath.Join(state, "transfer.log")
	cert := setupTLS(t, srv, opts, state).cert
	passwd, db := filepath.Join(state, "pureftpd.passwd"), filepath.Join(state, "pureftpd.pdb")
	if err := writePureDB(pw, passwd, db, srv.Password, srv.UID, srv.GID, srv.Root); err != nil {
		t.Fatalf("realftpd: %v", err)
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
	switch {
	case opts.TLSRequired:
		args = append(args, "-Y", "3", "-2", cert) // TLS for logins and data, clear refused
	case opts.TLS:
		args = append(args, "-Y", "1", "-2", cert) // TLS optional
	}
	if opts.MaxRate > 0 {
		args = append(args, "-T", strconv.Itoa(max(opts.MaxRate/1024, 1)))
	}
	if opts.PassivePorts[0] > 0 {
		args = append(args, "-p", fmt.Sprintf("%d:%d", opts.PassivePorts[0], opts.PassivePorts[1]))
	}
	srv.launch(t, opts, args, filepath.Join(state, "stderr.log"))
	return srv
}

// writePureDB writes the virtual user to a passwd file and compiles it with
// `pure-pw mkdb`. The hash is SHA-512 crypt (from `openssl passwd -6`, the
// password on stdin): pure-pw's default argon2id takes ~3 s of CPU per login on
// a small machine, which tests that open many connections cannot afford.
func writePureDB(pw, passwd, db, password string, uid, gid int, home string) error {
	hash, err := cryptPassword(password)
	if err != nil {
		return err
	}
	// login:hash:uid:gid:gecos:home/./ (the "/./" chroots the user to home).
	line := fmt.Sprintf("%s:%s:%d:%d::%s/./::::::::::::\n", pureUser, hash, uid, gid, home)
	if err := os.WriteFile(passwd, []byte(line), 0o600); err != nil {
		return fmt.Errorf("pure-ftpd passwd file: %w", err)
	}
	if out, err := exec.Command(pw, "mkdb", db, "-f", passwd).CombinedOutput(); err != nil {
		return fmt.Errorf("pure-pw mkdb: %w: %s", err, out)
	}
	return nil
}

// cryptPassword returns the SHA-512 crypt hash of password (`openssl passwd
// -6`, the password on stdin, never on the command line).
func cryptPassword(password string) (string, error) {
	ossl := exec.Command("openssl", "passwd", "-6", "-stdin")
	ossl.Stdin = strings.NewReader(password + "\n")
	out, err := ossl.Output()
	if err != nil {
		return "", fmt.Errorf("openssl passwd (hash a test password): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
