package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/fxpcopy"
	"github.com/fxpfs/fxpfs/internal/ctl"
	"github.com/fxpfs/fxpfs/internal/realftpd"
	"github.com/fxpfs/fxpfs/internal/testutil"
)

// tlsConfig is a config file for TLS servers: each trusts the test CA
// (tls_ca_file), implicit servers by an ftps:// URL; extra lines go into
// the named servers' tables. Passwords come from the environment.
func tlsConfig(servers []*realftpd.Server, extra map[string][]string) string {
	var b strings.Builder
	for _, s := range servers {
		scheme, mode := "ftp", "explicit"
		if s.TLSImplicit {
			scheme, mode = "ftps", "implicit"
		}
		fmt.Fprintf(&b, "[servers.%s]\nurl = %q\ntls = %q\ntls_ca_file = %q\n", s.Name,
			fmt.Sprintf("%s://%s@%s/", scheme, s.User, s.Addr()), mode, s.CAFile)
		for _, l := range extra[s.Name] {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// lastRecord is the newest finished transfer in a status snapshot.
func lastRecord(t testing.TB, s ctl.Snapshot) fxpcopy.Record {
	t.Helper()
	if len(s.Recent) == 0 {
		t.Fatalf("fxpfs status shows no finished transfer")
	}
	return s.Recent[0]
}

// TestTLSMount: three servers that require TLS with their defaults —
// vsftpd over implicit TLS (force_local_data_ssl, require_ssl_reuse),
// pure-ftpd -Y 3, proftpd with mod_tls — mounted by a config that trusts
// the test CA, with --debug. Through the kernel mount: listings, reads and
// writes on each; cp between proftpd and pure-ftpd goes by encrypted FXP
// (a capture between the two servers sees TLS and never the file's
// marker); cp from vsftpd (no SSCN, reuse required) is relayed, encrypted,
// and fxpfs status says so and why; `fxpfs cp` does the same without the
// mount. No password shows in the log or the output.
func TestTLSMount(t *testing.T) {
	t.Parallel()
	needBinary(t)
	addrs := testutil.LoopbackAddrs(3)
	alpha := realftpd.StartVsftpd(t, realftpd.Options{Addr: addrs[0], Name: "alpha", FXP: true, TLSImplicit: true, TLSRequired: true})
	beta := realftpd.StartPureFTPd(t, realftpd.Options{Addr: addrs[1], Name: "beta", FXP: true, TLSRequired: true})
	gamma := realftpd.StartProFTPD(t, realftpd.Options{Addr: addrs[2], Name: "gamma", FXP: true, TLS: true})
	servers := []*realftpd.Server{alpha, beta, gamma}
	marker := []byte("FXPFS-E2E-TLS-" + shaHex(randomBytes(t, 8))[:12] + "\n")
	data := bytes.Repeat(marker, (3<<20)/len(marker))
	for _, s := range servers {
		s.WriteFile(t, "/f.bin", data)
	}
	cfg := tlsConfig(servers, nil)
	m := startMount(t, mountSpec{servers: servers, config: cfg, args: []string{"--debug"}})

	local := filepath.Join(t.TempDir(), "up.bin")
	up := randomBytes(t, 2<<20+3)
	if err := os.WriteFile(local, up, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		t.Run("browse_read_write_"+s.Name, func(t *testing.T) {
			if ls := m.mustRun(t, "ls", "-l", m.path(s.Name)); !strings.Contains(ls, "f.bin") {
				t.Errorf("ls: %s", ls)
			}
			if got := fileSHA(t, m.path(s.Name, "f.bin")); got != shaHex(data) {
				t.Errorf("read through the mount: sha %s", got)
			}
			m.mustRun(t, "cp", local, m.path(s.Name, "up.bin"))
			if b, err := os.ReadFile(s.Path("/up.bin")); err != nil || shaHex(b) != shaHex(up) {
				t.Errorf("written through the mount: %d bytes, %v", len(b), err)
			}
			if out := m.mustRun(t, "find", m.path(s.Name), "-type", "f"); strings.Count(out, "\n") != 2 {
				t.Errorf("find: %q", out)
			}
		})
	}

	t.Run("cp_encrypted_fxp", func(t *testing.T) {
		for _, tc := range []struct{ from, to *realftpd.Server }{{gamma, beta}, {beta, gamma}} {
			capt := testutil.CaptureLoopback(t, gamma.Host, beta.Host, marker)
			dst := "fxp-from-" + tc.from.Name + ".bin"
			m.mustRun(t, "cp", m.path(tc.from.Name, "f.bin"), m.path(tc.to.Name, dst))
			st := capt.Stop()
			if b, err := os.ReadFile(tc.to.Path("/" + dst)); err != nil || shaHex(b) != shaHex(data) {
				t.Errorf("%s -> %s: destination %d bytes, %v", tc.from.Name, tc.to.Name, len(b), err)
			}
			rec := lastRecord(t, m.status(t))
			if rec.Mode == fxpcopy.ModeRelay || rec.Protection != "TLS, gamma is the TLS client (SSCN)" {
				t.Errorf("%s -> %s: mode %s protection %q fallback %q", tc.from.Name, tc.to.Name, rec.Mode, rec.Protection, rec.Fallback)
			}
			if st.Hits[0] != 0 || st.TLSFlows < 1 || st.Payload < int64(len(data)) || st.Dropped != 0 {
				t.Errorf("%s -> %s between the servers: %v; want the file, TLS, no marker", tc.from.Name, tc.to.Name, st)
			}
		}
	})

	t.Run("cp_relayed_encrypted", func(t *testing.T) {
		capt := testutil.CaptureLoopback(t, alpha.Host, beta.Host, marker)
		m.mustRun(t, "cp", m.path("alpha", "f.bin"), m.path("beta", "from-alpha.bin"))
		st := capt.Stop()
		if b, _ := os.ReadFile(beta.Path("/from-alpha.bin")); shaHex(b) != shaHex(data) {
			t.Errorf("relayed copy differs")
		}
		rec := lastRecord(t, m.status(t))
		if rec.Mode != fxpcopy.ModeRelay || rec.Protection != "TLS from alpha, TLS to beta (through this host)" ||
			!strings.Contains(rec.Fallback, "fxp_clear_data is not set") {
			t.Errorf("mode %s protection %q fallback %q", rec.Mode, rec.Protection, rec.Fallback)
		}
		if st.Payload != 0 {
			t.Errorf("relayed, yet %v between the servers", st)
		}
		out := runCmd(t, cmdSpec{env: m.env}, fxpfsBin, "status", m.dir)
		if !strings.Contains(out.stdout, "[TLS, gamma is the TLS client (SSCN)]") ||
			!strings.Contains(out.stdout, "[TLS from alpha, TLS to beta (through this host)]") {
			t.Errorf("fxpfs status does not say how the copies were protected:\n%s", out.stdout)
		}
	})

	t.Run("fxpfs_cp", func(t *testing.T) {
		cfgFile := filepath.Join(t.TempDir(), "config.toml")
		if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		capt := testutil.CaptureLoopback(t, gamma.Host, beta.Host, marker)
		r := runCmd(t, cmdSpec{env: testEnv(t, servers), timeout: time.Minute}, fxpfsBin,
			"cp", "--config", cfgFile, "beta:/f.bin", "gamma:/cli.bin")
		st := capt.Stop()
		if r.err != nil || !strings.Contains(r.stderr, "[TLS, gamma is the TLS client (SSCN)]") {
			t.Fatalf("fxpfs cp: %s", r)
		}
		if b, _ := os.ReadFile(gamma.Path("/cli.bin")); shaHex(b) != shaHex(data) {
			t.Errorf("fxpfs cp: destination differs")
		}
		if st.Hits[0] != 0 || st.TLSFlows < 1 || st.Payload < int64(len(data)) || st.Dropped != 0 {
			t.Errorf("fxpfs cp between the servers: %v", st)
		}
	})

	code, err := m.stop()
	if err != nil || code != 0 {
		t.Errorf("stop: exit %d, %v", code, err)
	}
	lg, err := os.ReadFile(m.logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"AUTH TLS", "PBSZ 0", "PROT P", "SSCN ON", "PASS ****"} {
		if !bytes.Contains(lg, []byte(want)) {
			t.Errorf("the --debug log has no %q", want)
		}
	}
	for _, s := range servers {
		if bytes.Contains(lg, []byte(s.Password)) || strings.Contains(m.output(), s.Password) {
			t.Errorf("%s's password shows in the log or output", s.Name)
		}
	}
}

// TestTLSMountBadCertificate: a server whose certificate is expired, for
// another host, or from an unknown authority stops `fxpfs mount` at once:
// non-zero exit within seconds, nothing mounted, and a message naming the
// server, the problem, the certificate's fingerprint and the keys that
// would trust it.
func TestTLSMountBadCertificate(t *testing.T) {
	t.Parallel()
	needBinary(t)
	for _, tc := range []struct {
		cert realftpd.CertKind
		want string
	}{
		{realftpd.CertExpired, "certificate has expired"},
		{realftpd.CertWrongHost, "certificate is valid for 192.0.2.1"},
		{realftpd.CertSelfSigned, "certificate signed by unknown authority"},
	} {
		t.Run(tc.cert.String(), func(t *testing.T) {
			s := realftpd.StartVsftpd(t, realftpd.Options{Addr: alphaAddr, Name: "alpha", Cert: tc.cert})
			cfgFile := filepath.Join(t.TempDir(), "config.toml")
			if err := os.WriteFile(cfgFile, []byte(tlsConfig([]*realftpd.Server{s}, nil)), 0o600); err != nil {
				t.Fatal(err)
			}
			mp := t.TempDir()
			r := runCmd(t, cmdSpec{env: testEnv(t, []*realftpd.Server{s}), timeout: time.Minute}, fxpfsBin,
				"mount", "--config", cfgFile, mp)
			if isMounted(mp) {
				_ = runCmd(t, cmdSpec{}, "fusermount3", "-u", "-z", mp)
				t.Fatalf("mounted despite a bad certificate: %s", r)
			}
			out := r.stdout + r.stderr
			if r.err == nil || r.elapsed > 20*time.Second {
				t.Errorf("exit %d after %v, want a failure within seconds: %s", r.code, r.elapsed, r)
			}
			for _, want := range []string{"server alpha", "TLS certificate not trusted", tc.want, s.Fingerprint, "tls_fingerprint"} {
				if !strings.Contains(out, want) {
					t.Errorf("the error lacks %q: %s", want, strings.TrimSpace(out))
				}
			}
		})
	}
}
