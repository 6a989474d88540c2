package ftpclient

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Listing parsers. Our own, not jlaffaye's: its List drops lines it cannot
// parse without telling and fails on lines over 64 KiB; we log and skip them.

// errSkip marks a line that is valid but carries no entry ("total 12", ".", "..").
var errSkip = errors.New("no entry")

// parseMLSxLine parses one MLSD line (or the fact line of an MLST reply):
// "fact=value;fact=value; name" (RFC 3659 7.2).
func parseMLSxLine(line string) (Entry, error) {
	facts, name, ok := strings.Cut(line, " ")
	if !ok || name == "" {
		return Entry{}, fmt.Errorf("MLSD line without facts and name")
	}
	e := Entry{Name: name, Type: TypeFile}
	typ := ""
	for _, f := range strings.Split(facts, ";") {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "type":
			typ = strings.ToLower(v)
			switch {
			case typ == "dir" || typ == "cdir" || typ == "pdir":
				e.Type = TypeDir
			case typ == "file":
				e.Type = TypeFile
			case strings.HasPrefix(typ, "os.unix=slink"), strings.HasPrefix(typ, "os.unix=symlink"):
				e.Type = TypeLink
				if _, tgt, ok := strings.Cut(v, ":"); ok { // OS.unix=slink:/target
					e.Target = tgt
				}
			case strings.HasPrefix(typ, "os.unix="): // devices, fifos, sockets
				e.Type = TypeFile
			}
		case "size", "sizd":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return Entry{}, fmt.Errorf("MLSD size %q", v)
			}
			e.Size = n
		case "modify":
			t, err := parseMLSxTime(v)
			if err != nil {
				return Entry{}, err
			}
			e.Mtime = t
		case "unix.mode":
			// Octal; pyftpdlib writes Python's "0o600".
			v = strings.TrimPrefix(strings.TrimPrefix(v, "0o"), "0O")
			m, err := strconv.ParseUint(v, 8, 32)
			if err == nil {
				e.Mode = modeBits(uint32(m))
			}
		}
	}
	if typ == "" {
		return Entry{}, fmt.Errorf("MLSD line without type fact")
	}
	if e.Type == TypeDir {
		e.Size = 0
	}
	if typ == "cdir" || typ == "pdir" {
		return e, errSkip // the listed directory itself, or its parent
	}
	return e, nil
}

// parseMLSxTime parses YYYYMMDDHHMMSS[.sss] in UTC.
func parseMLSxTime(v string) (time.Time, error) {
	base, frac, _ := strings.Cut(v, ".")
	t, err := time.ParseInLocation("20060102150405", base, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", v, err)
	}
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		n, err := strconv.Atoi(frac)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("time %q", v)
		}
		for i := len(frac); i < 9; i++ {
			n *= 10
		}
		t = t.Add(time.Duration(n))
	}
	return t, nil
}

// modeBits keeps the permission bits of a Unix mode.
func modeBits(m uint32) os.FileMode { return os.FileMode(m & 0o777) }

// parseListLine parses one LIST line: Unix "ls -l" or DOS/IIS. now is used
// to place "recent" Unix dates (no year) in the right year.
func parseListLine(line string, now time.Time) (Entry, error) {
	line = strings.TrimRight(line, "\r")
	if strings.TrimSpace(line) == "" {
		return Entry{}, errSkip
	}
	if strings.HasPrefix(line, "total ") {
		if _, err := strconv.ParseInt(strings.TrimSpace(line[6:]), 10, 64); err == nil {
			return Entry{}, errSkip
		}
	}
	var (
		e   Entry
		err error
	)
	if len(line) > 0 && line[0] >= '0' && line[0] <= '9' {
		e, err = parseDOSLine(line)
	} else {
		e, err = parseUnixLine(line, now)
	}
	if err != nil {
		return Entry{}, err
	}
	if e.Name == "." || e.Name == ".." {
		return Entry{}, errSkip
	}
	return e, nil
}

// parseLine dispatches on the listing kind and validates the name: a
// hostile server must not be able to list "..", "a/b" or a name with CR/LF.
func parseLine(line string, mlsd bool, now time.Time) (Entry, error) {
	var (
		e   Entry
		err error
	)
	if mlsd {
		e, err = parseMLSxLine(strings.TrimRight(line, "\r"))
		if err == nil && (e.Name == "." || e.Name == "..") {
			err = errSkip
		}
	} else {
		e, err = parseListLine(line, now)
	}
	if err != nil {
		return Entry{}, err
	}
	if verr := ValidateName(e.Name); verr != nil {
		return Entry{}, verr
	}
	return e, nil
}
