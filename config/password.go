package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
	"unicode"

	netrc "github.com/jdx/go-netrc"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// EnvName is the suffix of the password variable for a server:
// FXPFS_PASSWORD_<EnvName(name)>, the name upper-cased with every character
// other than a letter or digit turned into '_'.
func EnvName(name string) string {
	return strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return unicode.ToUpper(r)
		}
		return '_'
	}, name)
}

// passwordCommandTimeout bounds a password_command (a pinentry may prompt).
const passwordCommandTimeout = 2 * time.Minute

// resolvePassword finds the password, first match wins:
//  1. FXPFS_PASSWORD_<NAME> in the environment,
//  2. password in the config file (or in its url),
//  3. password_command's standard output (trailing newline removed),
//  4. ~/.netrc: "machine HOST login USER password ..." (or a "default" entry),
//  5. none: anonymous logins send "anonymous@", others an empty password.
func resolvePassword(name string, sc ftpclient.ServerConfig, s Server, urlPassword string,
	env func(string) string, netrcPath string) (ftpclient.Secret, error) {
	if v := env("FXPFS_PASSWORD_" + EnvName(name)); v != "" {
		return ftpclient.Secret(v), nil
	}
	if s.Password != "" {
		return ftpclient.Secret(s.Password), nil
	}
	if urlPassword != "" {
		return ftpclient.Secret(urlPassword), nil
	}
	if s.PasswordCommand != "" {
		pw, err := runPasswordCommand(s.PasswordCommand)
		if err != nil {
			return "", fmt.Errorf("server %s: password_command: %w", name, err)
		}
		return ftpclient.Secret(pw), nil
	}
	if pw, ok, err := netrcPassword(netrcPath, sc.Host, sc.User); err != nil {
		return "", fmt.Errorf("server %s: %w", name, err)
	} else if ok {
		return ftpclient.Secret(pw), nil
	}
	if sc.User == "anonymous" || sc.User == "ftp" {
		return "anonymous@", nil
	}
	return "", nil
}

func runPasswordCommand(command string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), passwordCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stdin = os.Stdin
	cmd.Stderr = os.Stderr
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		// The error names the exit status only; the output is never shown.
		return "", fmt.Errorf("%q failed: %w", command, err)
	}
	pw := strings.TrimRight(out.String(), "\r\n")
	if pw == "" {
		return "", errors.New("printed nothing")
	}
	if strings.ContainsAny(pw, "\r\n\x00") {
		return "", errors.New("printed more than one line")
	}
	return pw, nil
}

// netrcPassword looks up host and user in a netrc file. A missing file is
// not an error.
func netrcPassword(path, host, user string) (string, bool, error) {
	if path == "" {
		return "", false, nil
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	n, err := netrc.Parse(path)
	if err != nil {
		return "", false, fmt.Errorf("netrc %s: %w", path, err)
	}
	var def *netrc.Machine
	for _, m := range n.Machines() {
		if m.IsDefault {
			def = m
			continue
		}
		if m.Name != host {
			continue
		}
		if login := m.Get("login"); login == "" || login == user {
			return m.Get("password"), true, nil
		}
	}
	if def != nil && (def.Get("login") == "" || def.Get("login") == user) {
		return def.Get("password"), true, nil
	}
	return "", false, nil
}

// DefaultNetrc is ~/.netrc, or $NETRC if set.
func DefaultNetrc() string {
	if p := os.Getenv("NETRC"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return home + "/.netrc"
}
