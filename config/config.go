// Package config turns a TOML config file and --server flags into
// ftpclient.ServerConfig values, resolving passwords from the config file, a
// password_command, the FXPFS_PASSWORD_<NAME> environment variable or ~/.netrc.
// Passwords are held as ftpclient.Secret and never printed.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// File is the on-disk TOML layout. Keys of the mount come first, then one
// table per server:
//
//	direct_io = false        # fxpfs mount --direct-io
//	raw_symlinks = false     # fxpfs mount --raw-symlinks
//	read_ahead_kb = 1024     # fxpfs mount --read-ahead-kb
//
//	[servers.alpha]
//	url = "ftp://user@ftp.example.org:2121/pub"
//	password_command = "pass show ftp/alpha"
//	tls = "explicit"
//	max_connections = 4
//	listing_ttl = "60s"
//	fxp = "auto"
//	tls_ca_file = "~/.config/fxpfs/alpha-ca.pem"   # or tls_fingerprint = "sha256:..."
//	fxp_clear_data = false
type File struct {
	// DirectIO makes `fxpfs mount` read without the kernel page cache,
	// as --direct-io does.
	DirectIO bool `toml:"direct_io"`
	// RawSymlinks shows the servers' symlink targets as listed, as
	// --raw-symlinks does (absolute targets then point into this host).
	RawSymlinks bool `toml:"raw_symlinks"`
	// ReadAheadKB is the kernel's read-ahead for the mount, as
	// --read-ahead-kb sets it (0: the default, -1: the kernel's).
	ReadAheadKB int               `toml:"read_ahead_kb"`
	Servers     map[string]Server `toml:"servers"`
}

// Server is one [servers.NAME] table. URL gives host, port, user and base
// path; the separate keys override it.
type Server struct {
	URL             string `toml:"url"`
	Host            string `toml:"host"`
	Port            int    `toml:"port"`
	User            string `toml:"user"`
	BasePath        string `toml:"base_path"`
	Password        string `toml:"password"`
	PasswordCommand string `toml:"password_command"`
	TLS             string `toml:"tls"`
	TLSInsecure     bool   `toml:"tls_insecure"`
	TLSCAFile       string `toml:"tls_ca_file"`
	TLSFingerprint  string `toml:"tls_fingerprint"`
	FXPClearData    bool   `toml:"fxp_clear_data"`
	MaxConnections  int    `toml:"max_connections"`
	ListingTTL      string `toml:"listing_ttl"`
	FXP             string `toml:"fxp"`
	PreciseMtime    *bool  `toml:"precise_mtime"` // unset: auto; true: always; false: never
	DisableMLSD     bool   `toml:"disable_mlsd"`
	DisableEPSV     bool   `toml:"disable_epsv"`
	DialTimeout     string `toml:"dial_timeout"`
	CmdTimeout      string `toml:"command_timeout"`
	DataTimeout     string `toml:"data_timeout"`
	IdleTimeout     string `toml:"idle_timeout"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$`)

// DefaultPath is where the config file is looked for when --config is not
// given: $XDG_CONFIG_HOME/fxpfs/config.toml or ~/.config/fxpfs/config.toml.
func DefaultPath() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "fxpfs", "config.toml")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", "fxpfs", "config.toml")
}

// Load reads a config file. A missing file at the default path is not an
// error (explicit = false); a missing file named by the user is.
func Load(path string, explicit bool) (File, error) {
	var f File
	if path == "" {
		return f, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !explicit {
			return f, nil
		}
		return f, fmt.Errorf("config: %w", err)
	}
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return f, fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return f, fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	return f, nil
}

// ParseServerFlag parses one --server NAME=URL flag. A password in the URL is
// refused: it would be visible in ps.
func ParseServerFlag(s string) (string, Server, error) {
	name, rawURL, ok := strings.Cut(s, "=")
	if !ok || name == "" || rawURL == "" {
		return "", Server{}, fmt.Errorf("--server %q: want NAME=ftp://[user@]host[:port][/base]", s)
	}
	u, err := url.Parse(rawURL)
	if err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			return "", Server{}, fmt.Errorf("--server %s: a password in the URL would be visible in ps; "+
				"use FXPFS_PASSWORD_%s, ~/.netrc, or password/password_command in the config file", name, EnvName(name))
		}
	}
	return name, Server{URL: rawURL}, nil
}

// Merge combines the config file's servers with --server flags; a flag for a
// name already in the file overrides its URL and keeps the rest.
func Merge(f File, flags map[string]Server) map[string]Server {
	out := make(map[string]Server, len(f.Servers)+len(flags))
	for n, s := range f.Servers {
		out[n] = s
	}
	for n, s := range flags {
		if old, ok := out[n]; ok {
			old.URL = s.URL
			old.Host, old.Port, old.User, old.BasePath = "", 0, "", ""
			s = old
		}
		out[n] = s
	}
	return out
}

// Resolve turns the merged servers into client configurations, sorted by name.
func Resolve(servers map[string]Server, env func(string) string, netrcPath string) ([]ftpclient.ServerConfig, error) {
	names := make([]string, 0, len(servers))
	for n := range servers {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]ftpclient.ServerConfig, 0, len(names))
	for _, n := range names {
		sc, err := resolveOne(n, servers[n], env, netrcPath)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

func resolveOne(name string, s Server, env func(string) string, netrcPath string) (ftpclient.ServerConfig, error) {
	sc := ftpclient.ServerConfig{Name: name}
	if !nameRE.MatchString(name) {
		return sc, fmt.Errorf("server %q: name must be letters, digits, '.', '_' or '-' (not starting with '.')", name)
	}
	fail := func(format string, a ...any) (ftpclient.ServerConfig, error) {
		return sc, fmt.Errorf("server %s: "+format, append([]any{name}, a...)...)
	}
	urlPassword := ""
	if s.URL != "" {
		u, err := url.Parse(s.URL)
		if err != nil {
			// url.Parse errors quote the URL, which may hold a password.
			return fail("bad url (want ftp://[user@]host[:port][/base] or ftps://...)")
		}
		switch u.Scheme {
		case "ftp":
		case "ftps":
			sc.TLS = ftpclient.TLSImplicit
		default:
			return fail("url scheme %q: want ftp or ftps", u.Scheme)
		}
		sc.Host = u.Hostname()
		if p := u.Port(); p != "" {
			port, err := strconv.Atoi(p)
			if err != nil || port < 1 || port > 65535 {
				return fail("bad port %q", p)
			}
			sc.Port = port
		}
		if u.User != nil {
			sc.User = u.User.Username()
			urlPassword, _ = u.User.Password()
		}
		sc.BasePath = u.Path
	}
	if s.Host != "" {
		sc.Host = s.Host
	}
	if s.Port != 0 {
		sc.Port = s.Port
	}
	if s.User != "" {
		sc.User = s.User
	}
	if s.BasePath != "" {
		sc.BasePath = s.BasePath
	}
	if sc.Host == "" {
		return fail("no host (set url or host)")
	}
	if sc.BasePath == "" {
		sc.BasePath = "/"
	}
	if !strings.HasPrefix(sc.BasePath, "/") {
		sc.BasePath = "/" + sc.BasePath
	}
	if sc.User == "" {
		sc.User = "anonymous"
	}
	switch strings.ToLower(s.TLS) {
	case "":
	case "none":
		if sc.TLS == ftpclient.TLSImplicit {
			return fail("tls = \"none\" contradicts an ftps:// url")
		}
		sc.TLS = ftpclient.TLSNone
	case "explicit":
		sc.TLS = ftpclient.TLSExplicit
	case "implicit":
		sc.TLS = ftpclient.TLSImplicit
	default:
		return fail("tls = %q: want none, explicit or implicit", s.TLS)
	}
	if sc.TLS == "" {
		sc.TLS = ftpclient.TLSNone
	}
	if sc.Port == 0 {
		sc.Port = 21
		if sc.TLS == ftpclient.TLSImplicit {
			sc.Port = 990
		}
	}
	sc.TLSInsecure = s.TLSInsecure
	sc.TLSCAFile = expandHome(s.TLSCAFile)
	sc.TLSFingerprint = s.TLSFingerprint
	sc.FXPClearData = s.FXPClearData
	if sc.TLS == ftpclient.TLSNone && (sc.TLSInsecure || sc.TLSCAFile != "" || sc.TLSFingerprint != "") {
		return fail("tls_insecure, tls_ca_file and tls_fingerprint need tls = \"explicit\" or \"implicit\" (or an ftps:// url)")
	}
	if s.MaxConnections < 0 {
		return fail("max_connections must be positive")
	}
	sc.MaxConns = s.MaxConnections
	if sc.MaxConns == 0 {
		sc.MaxConns = 4
	}
	switch ftpclient.FXPPolicy(strings.ToLower(s.FXP)) {
	case "":
		sc.FXP = ftpclient.FXPAuto
	case ftpclient.FXPAuto, ftpclient.FXPOff, ftpclient.FXPForce:
		sc.FXP = ftpclient.FXPPolicy(strings.ToLower(s.FXP))
	default:
		return fail("fxp = %q: want auto, off or force", s.FXP)
	}
	switch {
	case s.PreciseMtime == nil: // auto (ftpclient's default)
	case *s.PreciseMtime:
		sc.PreciseMtime = ftpclient.MtimeAlways
	default:
		sc.PreciseMtime = ftpclient.MtimeNever
	}
	sc.DisableMLSD = s.DisableMLSD
	sc.DisableEPSV = s.DisableEPSV
	durs := []struct {
		key string
		val string
		dst *time.Duration
		def time.Duration
	}{
		{"listing_ttl", s.ListingTTL, &sc.ListingTTL, 60 * time.Second},
		{"dial_timeout", s.DialTimeout, &sc.DialTimeout, 10 * time.Second},
		{"command_timeout", s.CmdTimeout, &sc.CmdTimeout, 30 * time.Second},
		{"data_timeout", s.DataTimeout, &sc.DataTimeout, 60 * time.Second},
		{"idle_timeout", s.IdleTimeout, &sc.IdleTimeout, 60 * time.Second},
	}
	for _, d := range durs {
		*d.dst = d.def
		if d.val == "" {
			continue
		}
		v, err := time.ParseDuration(d.val)
		if err != nil || v < 0 {
			return fail("%s = %q: want a duration such as \"30s\"", d.key, d.val)
		}
		*d.dst = v
	}
	pw, err := resolvePassword(name, sc, s, urlPassword, env, netrcPath)
	if err != nil {
		return sc, err
	}
	sc.Password = pw
	return sc, nil
}

// expandHome turns a leading "~/" into the home directory.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}
