package ftpclient

import (
	"strings"
)

// Server implementations that Features.Software names.
const (
	SoftwareVsftpd    = "vsftpd"
	SoftwarePureFTPd  = "pure-ftpd"
	SoftwareProFTPD   = "proftpd"
	SoftwarePyftpdlib = "pyftpdlib"
)

// software names the implementation a greeting (the 220 reply's text, all
// lines) announces by default: vsftpd "(vsFTPd 3.0.3)", pure-ftpd
// "Welcome to Pure-FTPd", ProFTPD "ProFTPD Server (...)", pyftpdlib
// "pyftpdlib 1.5.7 ready.". "" for anything else (admins often replace the
// banner).
func software(greeting string) string {
	g := strings.ToLower(greeting)
	switch {
	case strings.Contains(g, "(vsftpd "):
		return SoftwareVsftpd
	case strings.Contains(g, "pure-ftpd"):
		return SoftwarePureFTPd
	case strings.Contains(g, "proftpd"):
		return SoftwareProFTPD
	case strings.Contains(g, "pyftpdlib"):
		return SoftwarePyftpdlib
	}
	return ""
}

// parseFeat reads a FEAT reply (RFC 2389): one feature per line, indented
// by a space, between the "211-" and "211 " lines.
func parseFeat(msg string) Features {
	var f Features
	lines := strings.Split(msg, "\n")
	for i, line := range lines {
		if i == 0 || i == len(lines)-1 && !strings.HasPrefix(line, " ") {
			continue // the "Features:" and "End" lines
		}
		line = strings.TrimSpace(line)
		name, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(name) {
		case "MLST", "MLSD":
			f.MLSD = true
			if strings.EqualFold(name, "MLST") {
				f.mlstOpts = mlstOpts(arg)
			}
		case "MFMT":
			f.MFMT = true
		case "MDTM":
			f.MDTM = true
		case "SIZE":
			f.SIZE = true
		case "REST":
			f.REST = f.REST || strings.EqualFold(strings.TrimSpace(arg), "STREAM")
		case "UTF8":
			f.UTF8 = true
		case "EPSV":
			f.EPSV = true
		case "XMD5":
			f.XMD5 = true
		case "XSHA1":
			f.XSHA1 = true
		case "XCRC":
			f.XCRC = true
		case "SSCN":
			f.SSCN = true
		case "CPSV":
			f.CPSV = true
		case "HASH":
			for _, a := range strings.Split(arg, ";") {
				if a = strings.TrimSuffix(strings.TrimSpace(a), "*"); a != "" {
					f.Hashes = append(f.Hashes, strings.ToUpper(a))
				}
			}
		case "SITE":
			for _, a := range strings.FieldsFunc(strings.ToUpper(arg), func(r rune) bool { return r == ' ' || r == ',' || r == ';' }) {
				switch a {
				case "CHMOD":
					f.SiteChmod = true
				case "UTIME":
					f.SiteUtime = true
				}
			}
		}
	}
	return f
}

// mlstOpts reads the fact list of FEAT's MLST line ("type*;size*;modify*;
// unix.mode;": a '*' marks the facts the server sends now) and returns the
// argument of the OPTS MLST that also turns on unix.mode, or "" when the
// server sends it already or does not have it. pyftpdlib offers unix.mode
// but leaves it off: its listings would show every file as 0644 (the
// mount's default), so rsync -a would set the modes again on every run.
func mlstOpts(arg string) string {
	var on []string
	mode := false
	for _, fact := range strings.Split(arg, ";") {
		fact = strings.TrimSpace(fact)
		enabled := strings.HasSuffix(fact, "*")
		fact = strings.TrimSuffix(fact, "*")
		switch {
		case fact == "":
		case strings.EqualFold(fact, "unix.mode"):
			if enabled {
				return ""
			}
			mode = true
		case enabled:
			on = append(on, fact)
		}
	}
	if !mode || len(on) == 0 {
		return ""
	}
	return strings.Join(append(on, "unix.mode"), ";") + ";"
}
