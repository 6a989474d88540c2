package ftpclient

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNormalizeTLSTrust(t *testing.T) {
	hexFP := strings.Repeat("ab", 32)
	colons := strings.ToUpper(strings.TrimSuffix(strings.Repeat("AB:", 32), ":"))
	cases := []struct {
		name    string
		cfg     ServerConfig
		wantFP  string
		wantErr string
	}{
		{name: "plain hex", cfg: ServerConfig{TLSFingerprint: "sha256:" + hexFP}, wantFP: "sha256:" + hexFP},
		{name: "openssl form", cfg: ServerConfig{TLSFingerprint: "SHA256:" + colons}, wantFP: "sha256:" + hexFP},
		{name: "short", cfg: ServerConfig{TLSFingerprint: "sha256:abcd"}, wantErr: "64 hex digits"},
		{name: "sha1", cfg: ServerConfig{TLSFingerprint: "sha1:" + hexFP[:40]}, wantErr: "sha256"},
		{name: "pin and insecure", cfg: ServerConfig{TLSFingerprint: "sha256:" + hexFP, TLSInsecure: true}, wantErr: "contradict"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Name, tc.cfg.Host, tc.cfg.TLS = "s", "h", TLSExplicit
			got, err := tc.cfg.Normalize()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.TLSFingerprint != tc.wantFP {
				t.Fatalf("got %q, %v", got.TLSFingerprint, err)
			}
		})
	}
}

func TestCAFileErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("not a certificate\n"), 0o644)
	for file, want := range map[string]string{
		filepath.Join(dir, "missing.pem"): "no such file",
		empty:                             "no PEM certificate",
	} {
		_, err := New(ServerConfig{Name: "s", Host: "h", TLS: TLSExplicit, TLSCAFile: file}, nil)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "tls_ca_file") {
			t.Errorf("%s: %v, want %q", file, err, want)
		}
	}
}
