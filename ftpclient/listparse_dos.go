package ftpclient

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseDOSLine parses a DOS/IIS listing line:
//
//	01-05-23  12:00PM       <DIR>          dir name
//	01-05-2023  09:15AM             1234 file name
//	2023-01-05  21:15                1234 file
func parseDOSLine(line string) (Entry, error) {
	toks := tokens(line)
	if len(toks) < 4 {
		return Entry{}, fmt.Errorf("too few fields")
	}
	y, mo, d, ok := dosDate(toks[0].s)
	if !ok {
		return Entry{}, fmt.Errorf("date %q", toks[0].s)
	}
	next := 2
	clk := toks[1].s
	if up := strings.ToUpper(toks[2].s); up == "AM" || up == "PM" { // "09:15 AM"
		clk += up
		next = 3
	}
	h, m, ok := dosClock(clk)
	if !ok {
		return Entry{}, fmt.Errorf("time %q", clk)
	}
	if next+1 >= len(toks) {
		return Entry{}, fmt.Errorf("no name")
	}
	e := Entry{Mtime: time.Date(y, mo, d, h, m, 0, 0, time.UTC), Type: TypeFile}
	if strings.EqualFold(toks[next].s, "<DIR>") {
		e.Type = TypeDir
	} else {
		n, err := strconv.ParseInt(strings.ReplaceAll(toks[next].s, ",", ""), 10, 64)
		if err != nil || n < 0 {
			return Entry{}, fmt.Errorf("size %q", toks[next].s)
		}
		e.Size = n
	}
	e.Name = line[toks[next+1].start:]
	return e, nil
}

// dosDate parses MM-DD-YY, MM-DD-YYYY or YYYY-MM-DD.
func dosDate(s string) (int, time.Month, int, bool) {
	if y, mo, d, ok := isoDate(s); ok {
		return y, mo, d, true
	}
	p := strings.Split(s, "-")
	if len(p) != 3 || !isDigits(p[0]) || !isDigits(p[1]) || !isDigits(p[2]) {
		return 0, 0, 0, false
	}
	mo, _ := strconv.Atoi(p[0])
	d, _ := strconv.Atoi(p[1])
	y, _ := strconv.Atoi(p[2])
	switch len(p[2]) {
	case 2:
		if y < 70 {
			y += 2000
		} else {
			y += 1900
		}
	case 4:
	default:
		return 0, 0, 0, false
	}
	if mo < 1 || mo > 12 || d < 1 || d > 31 {
		return 0, 0, 0, false
	}
	return y, time.Month(mo), d, true
}

// dosClock parses "HH:MM", "HH:MMAM" or "HH:MMPM".
func dosClock(s string) (int, int, bool) {
	up := strings.ToUpper(s)
	pm, am := strings.HasSuffix(up, "PM"), strings.HasSuffix(up, "AM")
	if pm || am {
		up = up[:len(up)-2]
	}
	h, m, ok := clock(up)
	if !ok {
		return 0, 0, false
	}
	if pm || am {
		if h < 1 || h > 12 {
			return 0, 0, false
		}
		h %= 12
		if pm {
			h += 12
		}
	}
	return h, m, true
}
