package ftpclient

import (
	"fmt"
	"path"
	"strings"
)

// ValidatePath checks a mount path: absolute, clean, no CR/LF/NUL, components
// ≤ MaxNameLen, total ≤ MaxPathLen. Returns an error wrapping ErrBadName.
func ValidatePath(p string) error {
	if len(p) > MaxPathLen {
		return fmt.Errorf("path of %d bytes (max %d): %w", len(p), MaxPathLen, ErrBadName)
	}
	if i := strings.IndexAny(p, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("path %q: control character at byte %d: %w", p, i, ErrBadName)
	}
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return fmt.Errorf("path %q: not absolute and clean: %w", p, ErrBadName)
	}
	if p == "/" {
		return nil
	}
	for _, name := range strings.Split(p[1:], "/") {
		if len(name) > MaxNameLen {
			return fmt.Errorf("path %q: component of %d bytes (max %d): %w", p, len(name), MaxNameLen, ErrBadName)
		}
	}
	return nil
}

// ValidateName checks one path component the same way (and rejects '/', ".", "..").
func ValidateName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("name %q: %w", name, ErrBadName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("name of %d bytes (max %d): %w", len(name), MaxNameLen, ErrBadName)
	case strings.ContainsAny(name, "/\r\n\x00"):
		return fmt.Errorf("name %q: contains '/', CR, LF or NUL: %w", name, ErrBadName)
	}
	return nil
}

// checkArg rejects a control-channel argument that could end the command
// line early (command injection) before anything is written.
func checkArg(s string) error {
	if i := strings.IndexAny(s, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("command argument contains CR, LF or NUL at byte %d: %w", i, ErrBadName)
	}
	return nil
}

// serverPath maps a validated mount path below the base path.
func serverPath(base, p string) (string, error) {
	if err := ValidatePath(p); err != nil {
		return "", err
	}
	sp := path.Join(base, p)
	if len(sp) > MaxPathLen {
		return "", fmt.Errorf("server path of %d bytes (max %d): %w", len(sp), MaxPathLen, ErrBadName)
	}
	return sp, nil
}
