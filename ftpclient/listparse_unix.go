package ftpclient

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// months are the month names of ls -l in English, and the abbreviations
// of German, French, Spanish and Italian locales where they differ (servers
// that list in the system's locale); lower case, a trailing '.' dropped.
// No abbreviation means two months.
var months = map[string]time.Month{
	"jan": time.January, "feb": time.February, "mar": time.March, "apr": time.April,
	"may": time.May, "jun": time.June, "jul": time.July, "aug": time.August,
	"sep": time.September, "oct": time.October, "nov": time.November, "dec": time.December,
	// German
	"mär": time.March, "mrz": time.March, "mai": time.May, "okt": time.October, "dez": time.December,
	// French
	"janv": time.January, "févr": time.February, "fév": time.February, "mars": time.March,
	"avr": time.April, "juin": time.June, "juil": time.July, "août": time.August,
	"sept": time.September, "déc": time.December,
	// Spanish, Italian
	"ene": time.January, "abr": time.April, "ago": time.August, "dic": time.December,
	"gen": time.January, "mag": time.May, "giu": time.June, "lug": time.July, "set": time.September, "ott": time.October,
}

type token struct {
	s          string
	start, end int // byte offsets in the line
}

// tokens splits on spaces and tabs, remembering where each field is.
func tokens(line string) []token {
	var toks []token
	start := -1
	for i := 0; i <= len(line); i++ {
		sep := i == len(line) || line[i] == ' ' || line[i] == '\t'
		switch {
		case sep && start >= 0:
			toks = append(toks, token{line[start:i], start, i})
			start = -1
		case !sep && start < 0:
			start = i
		}
	}
	return toks
}

// parseUnixLine parses an "ls -l" line:
//
//	drwxr-xr-x    2 1000     1000         4096 Nov 22 02:15 dir name
//	-rw-r--r--    1 ftp      ftp          1234 Jan  5  2023 file
//	lrwxrwxrwx    1 0        0               7 Jan  5 12:00 link -> target
//	crw-rw-rw-    1 root     root       1,   3 Jan  5 12:00 null
//	-rw-r--r--    1 user     group        12 2023-01-05 12:00 iso dates
//
// The date anchors the parse: the size is the field before it, the name is
// everything after it but the one separating space (so names keep their
// inner and trailing spaces). Owner and group may be names or numbers, and
// either may be missing.
func parseUnixLine(line string, now time.Time) (Entry, error) {
	toks := tokens(line)
	if len(toks) < 5 {
		return Entry{}, fmt.Errorf("too few fields")
	}
	perm := toks[0].s
	if len(perm) < 10 {
		return Entry{}, fmt.Errorf("mode %q", perm)
	}
	e := Entry{Type: TypeFile}
	switch perm[0] {
	case 'd':
		e.Type = TypeDir
	case 'l':
		e.Type = TypeLink
	case '-', 'c', 'b', 'p', 's', 'D':
	default:
		return Entry{}, fmt.Errorf("mode %q", perm)
	}
	mode, ok := parsePerm(perm[1:10])
	if !ok {
		return Entry{}, fmt.Errorf("mode %q", perm)
	}
	e.Mode = mode
	for i := 2; i+2 < len(toks); i++ {
		t, next, ok := unixDate(toks, i, now)
		if !ok {
			continue
		}
		size, ok := unixSize(toks, i)
		if !ok {
			continue
		}
		if next >= len(toks) {
			return Entry{}, fmt.Errorf("no name")
		}
		name := line[toks[next-1].end+1:]
		if name == "" {
			return Entry{}, fmt.Errorf("no name")
		}
		e.Mtime = t
		if e.Type == TypeLink {
			if n, tgt, ok := strings.Cut(name, " -> "); ok {
				name, e.Target = n, tgt
			}
		}
		if e.Type == TypeFile && perm[0] != '-' {
			size = 0 // devices, pipes, sockets: no content
		}
		if e.Type != TypeDir {
			e.Size = size
		}
		e.Name = name
		return e, nil
	}
	return Entry{}, fmt.Errorf("no date")
}

// unixDate recognises a date at toks[i]: "Mon DD HH:MM", "Mon DD YYYY" or
// "YYYY-MM-DD HH:MM". It returns the time (UTC) and the index of the token
// after the date.
func unixDate(toks []token, i int, now time.Time) (time.Time, int, bool) {
	if y, mo, d, ok := isoDate(toks[i].s); ok {
		h, m, ok := clock(toks[i+1].s)
		if !ok {
			return time.Time{}, 0, false
		}
		return time.Date(y, mo, d, h, m, 0, 0, time.UTC), i + 2, true
	}
	mon, ok := months[strings.TrimSuffix(strings.ToLower(toks[i].s), ".")]
	if !ok {
		return time.Time{}, 0, false
	}
	day, err := strconv.Atoi(toks[i+1].s)
	if err != nil || day < 1 || day > 31 {
		return time.Time{}, 0, false
	}
	third := toks[i+2].s
	if h, m, ok := clock(third); ok {
		// Recent: no year. ls shows this form for the last six months, so
		// a date more than a day ahead of now belongs to last year.
		now = now.UTC()
		t := time.Date(now.Year(), mon, day, h, m, 0, 0, time.UTC)
		if t.After(now.Add(24 * time.Hour)) {
			t = t.AddDate(-1, 0, 0)
		}
		return t, i + 3, true
	}
	if len(third) == 4 {
		if y, err := strconv.Atoi(third); err == nil && y >= 1900 {
			return time.Date(y, mon, day, 0, 0, 0, 0, time.UTC), i + 3, true
		}
	}
	return time.Time{}, 0, false
}

// unixSize reads the size field before the date at toks[i]: "1234", or a
// device's "maj, min" / "maj,min" (size 0).
func unixSize(toks []token, i int) (int64, bool) {
	prev := toks[i-1].s
	if n, err := strconv.ParseInt(prev, 10, 64); err == nil && n >= 0 {
		if i-2 >= 1 && strings.HasSuffix(toks[i-2].s, ",") {
			return 0, true // "1,   3"
		}
		return n, true
	}
	if maj, min, ok := strings.Cut(prev, ","); ok && isDigits(maj) && isDigits(min) {
		return 0, true
	}
	return 0, false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isoDate(s string) (int, time.Month, int, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, false
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return 0, 0, 0, false
	}
	return t.Year(), t.Month(), t.Day(), true
}

// clock parses "HH:MM" (24 h).
func clock(s string) (int, int, bool) {
	hs, ms, ok := strings.Cut(s, ":")
	if !ok || len(ms) != 2 || len(hs) < 1 || len(hs) > 2 || !isDigits(hs) || !isDigits(ms) {
		return 0, 0, false
	}
	h, _ := strconv.Atoi(hs)
	m, _ := strconv.Atoi(ms)
	if h > 23 || m > 59 {
		return 0, 0, false
	}
	return h, m, true
}

// parsePerm reads "rwxr-xr-x" (with s/S/t/T) into permission bits.
func parsePerm(s string) (os.FileMode, bool) {
	var m os.FileMode
	for i := 0; i < 9; i++ {
		bit := os.FileMode(1) << (8 - i)
		switch c := s[i]; {
		case c == '-' || c == 'S' || c == 'T':
		case c == "rwxrwxrwx"[i]:
			m |= bit
		case (c == 's' && (i == 2 || i == 5)) || (c == 't' && i == 8):
			m |= bit
		default:
			return 0, false
		}
	}
	return m, true
}
