package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	netrcFile := filepath.Join(dir, "netrc")
	if err := os.WriteFile(netrcFile, []byte("machine nethost login bob password fromnetrc\ndefault login anonymous password me@example.org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		server  Server
		env     map[string]string
		want    ftpclient.ServerConfig
		wantErr string
	}{
		{
			name:   "url with defaults",
			server: Server{URL: "ftp://alice@ftp.example.org/pub"},
			env:    map[string]string{"FXPFS_PASSWORD_ALPHA": "s3cret"},
			want: ftpclient.ServerConfig{Host: "ftp.example.org", Port: 21, User: "alice", BasePath: "/pub",
				Password: "s3cret", TLS: ftpclient.TLSNone, MaxConns: 4, ListingTTL: time.Minute, FXP: ftpclient.FXPAuto},
		},
		{
			name:   "ftps implies implicit TLS on 990",
			server: Server{URL: "ftps://h", FXP: "force", MaxConnections: 2, ListingTTL: "5s"},
			want: ftpclient.ServerConfig{Host: "h", Port: 990, User: "anonymous", BasePath: "/", Password: "me@example.org", // netrc default entry
				TLS: ftpclient.TLSImplicit, MaxConns: 2, ListingTTL: 5 * time.Second, FXP: ftpclient.FXPForce},
		},
		{
			name:   "keys override url; password_command",
			server: Server{URL: "ftp://x@h:2121/a", User: "bob", Port: 2122, TLS: "explicit", PasswordCommand: "echo fromcmd"},
			want: ftpclient.ServerConfig{Host: "h", Port: 2122, User: "bob", BasePath: "/a", Password: "fromcmd",
				TLS: ftpclient.TLSExplicit, MaxConns: 4, ListingTTL: time.Minute, FXP: ftpclient.FXPAuto},
		},
		{
			name:   "netrc",
			server: Server{URL: "ftp://bob@nethost"},
			want: ftpclient.ServerConfig{Host: "nethost", Port: 21, User: "bob", BasePath: "/", Password: "fromnetrc",
				TLS: ftpclient.TLSNone, MaxConns: 4, ListingTTL: time.Minute, FXP: ftpclient.FXPAuto},
		},
		{
			name:   "env beats config password",
			server: Server{URL: "ftp://u@h", Password: "cfg"},
			env:    map[string]string{"FXPFS_PASSWORD_ALPHA": "env"},
			want: ftpclient.ServerConfig{Host: "h", Port: 21, User: "u", BasePath: "/", Password: "env",
				TLS: ftpclient.TLSNone, MaxConns: 4, ListingTTL: time.Minute, FXP: ftpclient.FXPAuto},
		},
		{
			name: "tls trust and FXP data keys",
			server: Server{URL: "ftps://u@h", Password: "p", TLSCAFile: "/etc/ca.pem",
				TLSFingerprint: "sha256:00", FXPClearData: true},
			want: ftpclient.ServerConfig{Host: "h", Port: 990, User: "u", BasePath: "/", Password: "p",
				TLS: ftpclient.TLSImplicit, MaxConns: 4, ListingTTL: time.Minute, FXP: ftpclient.FXPAuto,
				TLSCAFile: "/etc/ca.pem", TLSFingerprint: "sha256:00", FXPClearData: true},
		},
		{name: "tls keys without tls", server: Server{URL: "ftp://h", TLSCAFile: "/etc/ca.pem"}, wantErr: "need tls"},
		{name: "insecure without tls", server: Server{URL: "ftp://h", TLSInsecure: true}, wantErr: "need tls"},
		{
			name:   "precise_mtime = false is never",
			server: Server{URL: "ftp://u@h", Password: "p", PreciseMtime: new(false)},
			want: ftpclient.ServerConfig{Host: "h", Port: 21, User: "u", BasePath: "/", Password: "p",
				TLS: ftpclient.TLSNone, MaxConns: 4, ListingTTL: time.Minute, FXP: ftpclient.FXPAuto,
				PreciseMtime: ftpclient.MtimeNever},
		},
		{
			name:   "precise_mtime = true is always",
			server: Server{URL: "ftp://u@h", Password: "p", PreciseMtime: new(true)},
			want: ftpclient.ServerConfig{Host: "h", Port: 21, User: "u", BasePath: "/", Password: "p",
				TLS: ftpclient.TLSNone, MaxConns: 4, ListingTTL: time.Minute, FXP: ftpclient.FXPAuto,
				PreciseMtime: ftpclient.MtimeAlways},
		},
		{name: "no host", server: Server{User: "u"}, wantErr: "no host"},
		{name: "bad scheme", server: Server{URL: "http://h"}, wantErr: "scheme"},
		{name: "bad fxp", server: Server{URL: "ftp://h", FXP: "maybe"}, wantErr: "fxp"},
		{name: "bad tls", server: Server{URL: "ftp://h", TLS: "yes"}, wantErr: "tls"},
		{name: "bad ttl", server: Server{URL: "ftp://h", ListingTTL: "soon"}, wantErr: "listing_ttl"},
		{name: "failing password_command", server: Server{URL: "ftp://u@h", PasswordCommand: "exit 3"}, wantErr: "password_command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(k string) string { return tt.env[k] }
			got, err := Resolve(map[string]Server{"alpha": tt.server}, env, netrcFile)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Name = "alpha"
			g := got[0]
			g.DialTimeout, g.CmdTimeout, g.DataTimeout, g.IdleTimeout = 0, 0, 0, 0
			if g != tt.want {
				t.Errorf("got  %+v\nwant %+v", g, tt.want)
			}
			if g.Password.Reveal() != tt.want.Password.Reveal() {
				t.Errorf("password mismatch")
			}
		})
	}
}

func TestServerFlagRefusesPassword(t *testing.T) {
	_, _, err := ParseServerFlag("alpha=ftp://u:hunter2@h/")
	if err == nil {
		t.Fatal("want an error for a password on the command line")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks the password: %v", err)
	}
	if !strings.Contains(err.Error(), "FXPFS_PASSWORD_ALPHA") {
		t.Errorf("error should say where a password goes: %v", err)
	}
	name, s, err := ParseServerFlag("beta=ftp://u@h:2121/x")
	if err != nil || name != "beta" || s.URL != "ftp://u@h:2121/x" {
		t.Fatalf("got %q %+v %v", name, s, err)
	}
}

func TestBadURLDoesNotLeakPassword(t *testing.T) {
	_, err := Resolve(map[string]Server{"a": {URL: "ftp://u:hunter2@h:bad port/"}}, func(string) string { return "" }, "")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
}

func TestSecretNeverFormats(t *testing.T) {
	sc := ftpclient.ServerConfig{Password: "hunter2"}
	for _, s := range []string{fmt.Sprint(sc), fmt.Sprintf("%+v", sc), fmt.Sprintf("%#v", sc), fmt.Sprintf("%v", sc.Password)} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("password formatted: %s", s)
		}
	}
}

func TestLoadAndMerge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(p, []byte("[servers.alpha]\nurl = \"ftp://a@h1/\"\nfxp = \"off\"\n[servers.beta]\nhost = \"h2\"\n"), 0o600)
	f, err := Load(p, true)
	if err != nil {
		t.Fatal(err)
	}
	m := Merge(f, map[string]Server{"alpha": {URL: "ftp://b@h3/"}, "gamma": {URL: "ftp://h4"}})
	if len(m) != 3 || m["alpha"].URL != "ftp://b@h3/" || m["alpha"].FXP != "off" || m["beta"].Host != "h2" {
		t.Fatalf("merge: %+v", m)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml"), true); err == nil {
		t.Error("explicit missing config must be an error")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml"), false); err != nil {
		t.Errorf("default missing config is fine: %v", err)
	}
	os.WriteFile(p, []byte("direct_io = true\nraw_symlinks = true\n[servers.alpha]\nhost = \"h\"\n"), 0o600)
	if f, err := Load(p, true); err != nil || !f.DirectIO || !f.RawSymlinks {
		t.Errorf("direct_io = true, raw_symlinks = true: %+v, %v", f, err)
	}
	os.WriteFile(p, []byte("[servers.alpha]\nurll = \"x\"\n"), 0o600)
	if _, err := Load(p, true); err == nil || !strings.Contains(err.Error(), "urll") {
		t.Errorf("unknown key must be reported: %v", err)
	}
}

func TestLoadTLSKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(p, []byte("[servers.alpha]\nurl = \"ftp://a@h1/\"\ntls = \"explicit\"\n"+
		"tls_ca_file = \"~/ca.pem\"\ntls_fingerprint = \"sha256:AB:CD\"\nfxp_clear_data = true\n"), 0o600)
	f, err := Load(p, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Resolve(f.Servers, func(string) string { return "pw" }, "")
	if err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	if g := got[0]; g.TLSCAFile != filepath.Join(home, "ca.pem") || g.TLSFingerprint != "sha256:AB:CD" || !g.FXPClearData {
		t.Errorf("got %+v", g)
	}
}
