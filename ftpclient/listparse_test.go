package ftpclient

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var parseNow = time.Date(2024, time.March, 10, 12, 0, 0, 0, time.UTC)

func TestParseListLine(t *testing.T) {
	tests := []struct {
		name, line string
		mlsd       bool
		want       Entry
		skip       bool // valid line without an entry
		bad        bool // unparseable
	}{
		{name: "unix recent", line: "-rw-r--r--    1 ftp      ftp          1234 Mar  9 21:15 file.txt",
			want: Entry{Name: "file.txt", Type: TypeFile, Size: 1234, Mode: 0o644, Mtime: time.Date(2024, 3, 9, 21, 15, 0, 0, time.UTC)}},
		{name: "unix recent last year", line: "-rw-r--r--    1 ftp      ftp          1 Dec 24 10:00 x",
			want: Entry{Name: "x", Type: TypeFile, Size: 1, Mode: 0o644, Mtime: time.Date(2023, 12, 24, 10, 0, 0, 0, time.UTC)}},
		{name: "unix old", line: "drwxr-xr-x    2 1000     1000         4096 Jan  5  2019 old dir",
			want: Entry{Name: "old dir", Type: TypeDir, Mode: 0o755, Mtime: time.Date(2019, 1, 5, 0, 0, 0, 0, time.UTC)}},
		{name: "unix spaces kept", line: "-rw-r--r-- 1 u g 5 Mar  1 10:00  two  spaces ",
			want: Entry{Name: " two  spaces ", Type: TypeFile, Size: 5, Mode: 0o644, Mtime: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)}},
		{name: "symlink", line: "lrwxrwxrwx    1 0        0               7 Feb 29 12:00 link name -> target dir/x",
			want: Entry{Name: "link name", Type: TypeLink, Size: 7, Mode: 0o777, Target: "target dir/x", Mtime: time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)}},
		{name: "device", line: "crw-rw-rw-    1 root     root       1,   3 Jan  5  2020 null",
			want: Entry{Name: "null", Type: TypeFile, Mode: 0o666, Mtime: time.Date(2020, 1, 5, 0, 0, 0, 0, time.UTC)}},
		{name: "device compact", line: "brw-rw---- 1 root disk 8,0 Jan  5  2020 sda",
			want: Entry{Name: "sda", Type: TypeFile, Mode: 0o660, Mtime: time.Date(2020, 1, 5, 0, 0, 0, 0, time.UTC)}},
		{name: "no group", line: "-rw-r--r-- 1 ftp 42 Mar  1  2021 nogroup",
			want: Entry{Name: "nogroup", Type: TypeFile, Size: 42, Mode: 0o644, Mtime: time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "setuid sticky acl", line: "drwsr-xr-t+   3 a b 4096 Mar  1 09:00 sticky",
			want: Entry{Name: "sticky", Type: TypeDir, Mode: 0o755, Mtime: time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)}},
		{name: "iso date", line: "-rw-r--r-- 1 user group 12 2023-01-05 12:00 iso file",
			want: Entry{Name: "iso file", Type: TypeFile, Size: 12, Mode: 0o644, Mtime: time.Date(2023, 1, 5, 12, 0, 0, 0, time.UTC)}},
		{name: "owner named like a month", line: "-rw-r--r-- 1 jan may 10 Mar  1 09:00 m",
			want: Entry{Name: "m", Type: TypeFile, Size: 10, Mode: 0o644, Mtime: time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)}},
		{name: "big size", line: "-rw-r--r-- 1 u g 5368709120 Mar  1 09:00 big.iso",
			want: Entry{Name: "big.iso", Type: TypeFile, Size: 5368709120, Mode: 0o644, Mtime: time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)}},
		{name: "dos dir", line: "01-05-23  12:00PM       <DIR>          dir name",
			want: Entry{Name: "dir name", Type: TypeDir, Mtime: time.Date(2023, 1, 5, 12, 0, 0, 0, time.UTC)}},
		{name: "dos file", line: "11-30-1999  09:15AM             1234 file name.txt",
			want: Entry{Name: "file name.txt", Type: TypeFile, Size: 1234, Mtime: time.Date(1999, 11, 30, 9, 15, 0, 0, time.UTC)}},
		{name: "dos 24h iso", line: "2023-01-05  21:15                99 f",
			want: Entry{Name: "f", Type: TypeFile, Size: 99, Mtime: time.Date(2023, 1, 5, 21, 15, 0, 0, time.UTC)}},
		{name: "dos midnight", line: "01-05-23  12:30AM  1 a",
			want: Entry{Name: "a", Type: TypeFile, Size: 1, Mtime: time.Date(2023, 1, 5, 0, 30, 0, 0, time.UTC)}},
		{name: "german month", line: "-rw-r--r--    1 ftp      ftp          12 Mär  3  2021 März.txt",
			want: Entry{Name: "März.txt", Type: TypeFile, Size: 12, Mode: 0o644, Mtime: time.Date(2021, 3, 3, 0, 0, 0, 0, time.UTC)}},
		{name: "german month, recent", line: "-rw-r--r--    1 ftp      ftp          12 Mär  3 10:11 m",
			want: Entry{Name: "m", Type: TypeFile, Size: 12, Mode: 0o644, Mtime: time.Date(2024, 3, 3, 10, 11, 0, 0, time.UTC)}},
		{name: "french month with a dot", line: "drwxr-xr-x 2 u g 4096 févr. 29 09:00 dossier",
			want: Entry{Name: "dossier", Type: TypeDir, Mode: 0o755, Mtime: time.Date(2024, 2, 29, 9, 0, 0, 0, time.UTC)}},
		{name: "french août", line: "-rw-r--r-- 1 u g 7 août  15  2022 été",
			want: Entry{Name: "été", Type: TypeFile, Size: 7, Mode: 0o644, Mtime: time.Date(2022, 8, 15, 0, 0, 0, 0, time.UTC)}},
		{name: "spanish month", line: "-rw-r--r-- 1 u g 7 ene 15  2022 enero",
			want: Entry{Name: "enero", Type: TypeFile, Size: 7, Mode: 0o644, Mtime: time.Date(2022, 1, 15, 0, 0, 0, 0, time.UTC)}},
		{name: "name with an arrow (not a link)", line: "-rw-r--r-- 1 u g 5 Mar  1 10:00 a -> b.txt",
			want: Entry{Name: "a -> b.txt", Type: TypeFile, Size: 5, Mode: 0o644, Mtime: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)}},
		{name: "latin-1 name", line: "-rw-r--r-- 1 u g 5 Mar  1 10:00 caf\xe9",
			want: Entry{Name: "caf\xe9", Type: TypeFile, Size: 5, Mode: 0o644, Mtime: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)}},
		{name: "mlsd upper-case facts", mlsd: true, line: "Type=file;Size=3;Modify=20240101120000.123;UNIX.mode=0640;Perm=rw; up",
			want: Entry{Name: "up", Type: TypeFile, Size: 3, Mode: 0o640, Mtime: time.Date(2024, 1, 1, 12, 0, 0, 123e6, time.UTC)}},
		{name: "mlsd slink with target", mlsd: true, line: "type=OS.unix=slink:/a/b;size=4;modify=20240101120000; l",
			want: Entry{Name: "l", Type: TypeLink, Size: 4, Target: "/a/b", Mtime: time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)}},
		{name: "mlsd cdir", mlsd: true, line: "type=cdir;modify=20240101120000; /pub", skip: true},
		{name: "total", line: "total 1234", skip: true},
		{name: "dot", line: "drwxr-xr-x 2 u g 4096 Mar  1 09:00 .", skip: true},
		{name: "dotdot", line: "drwxr-xr-x 2 u g 4096 Mar  1 09:00 ..", skip: true},
		{name: "empty", line: "", skip: true},
		{name: "garbage", line: "this is not a listing line", bad: true},
		{name: "no name", line: "-rw-r--r-- 1 u g 5 Mar  1 10:00", bad: true},
		{name: "bad mode", line: "xrw-r--r-- 1 u g 5 Mar  1 10:00 f", bad: true},
		{name: "slash in name", line: "-rw-r--r-- 1 u g 5 Mar  1 10:00 ../etc/passwd", bad: true},
		{name: "mlsd file", mlsd: true, line: "type=file;size=1024;modify=20220813133357;UNIX.mode=0640; a file",
			want: Entry{Name: "a file", Type: TypeFile, Size: 1024, Mode: 0o640, Mtime: time.Date(2022, 8, 13, 13, 33, 57, 0, time.UTC)}},
		{name: "mlsd pyftpdlib mode", mlsd: true, line: "type=file;size=0;modify=20220813133357;unix.mode=0o600; p",
			want: Entry{Name: "p", Type: TypeFile, Mode: 0o600, Mtime: time.Date(2022, 8, 13, 13, 33, 57, 0, time.UTC)}},
		{name: "mlsd goftp", mlsd: true, line: "Type=dir;Modify=20220813133357;Size=4096; d",
			want: Entry{Name: "d", Type: TypeDir, Mtime: time.Date(2022, 8, 13, 13, 33, 57, 0, time.UTC)}},
		{name: "mlsd fraction", mlsd: true, line: "type=file;size=1;modify=20220813133357.123; f",
			want: Entry{Name: "f", Type: TypeFile, Size: 1, Mtime: time.Date(2022, 8, 13, 13, 33, 57, 123e6, time.UTC)}},
		{name: "mlsd symlink", mlsd: true, line: "type=OS.unix=slink:/etc/hosts;size=10; l",
			want: Entry{Name: "l", Type: TypeLink, Size: 10, Target: "/etc/hosts"}},
		{name: "mlsd symlink proftpd", mlsd: true, line: "type=OS.unix=symlink;size=10; l",
			want: Entry{Name: "l", Type: TypeLink, Size: 10}},
		{name: "mlsd cdir", mlsd: true, line: "type=cdir;modify=20220813133357; .", skip: true},
		{name: "mlsd pdir", mlsd: true, line: "type=pdir;modify=20220813133357; ..", skip: true},
		{name: "mlsd spaces", mlsd: true, line: "type=file;size=3;  lead space",
			want: Entry{Name: " lead space", Type: TypeFile, Size: 3}},
		{name: "mlsd no type", mlsd: true, line: "size=3; x", bad: true},
		{name: "mlsd bad size", mlsd: true, line: "type=file;size=-3; x", bad: true},
		{name: "mlsd no name", mlsd: true, line: "type=file;size=3;", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLine(tt.line, tt.mlsd, parseNow)
			switch {
			case tt.skip:
				if !errors.Is(err, errSkip) {
					t.Fatalf("got %+v, %v; want skip", got, err)
				}
			case tt.bad:
				if err == nil || errors.Is(err, errSkip) {
					t.Fatalf("got %+v, %v; want an error", got, err)
				}
			default:
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if got != tt.want {
					t.Fatalf("got  %+v\nwant %+v", got, tt.want)
				}
			}
		})
	}
}

func TestParseFeat(t *testing.T) {
	msg := "Features:\n EPSV\n MDTM\n MFMT\n MLST type*;size*;modify*;UNIX.mode*;\n REST STREAM\n SIZE\n UTF8\n" +
		" HASH SHA-256*;MD5;SHA-1\n XMD5\n XCRC\n SITE CHMOD,UTIME\nEnd"
	f := parseFeat(msg)
	want := Features{MLSD: true, MFMT: true, MDTM: true, SIZE: true, REST: true, UTF8: true, EPSV: true,
		SiteChmod: true, SiteUtime: true, XMD5: true, XCRC: true}
	hashes := strings.Join(f.Hashes, ",")
	f.Hashes = nil
	if !reflect.DeepEqual(f, want) || hashes != "SHA-256,MD5,SHA-1" {
		t.Errorf("got %+v %s", f, hashes)
	}
	if f := parseFeat("no features"); f.MLSD || f.UTF8 {
		t.Errorf("single line: %+v", f)
	}
}

// TestSoftware: the implementations' default greetings (the 220 reply's
// lines joined, as Features.Software is given them) are named; custom
// banners and look-alikes are not.
func TestSoftware(t *testing.T) {
	tests := []struct{ greeting, want string }{
		{"(vsFTPd 3.0.3)", SoftwareVsftpd},
		{"--------- Welcome to Pure-FTPd [privsep] [TLS] ----------\nYou are user number 1 of 50 allowed.\n" +
			"Local time is now 14:13. Server port: 21.", SoftwarePureFTPd},
		{"ProFTPD Server (ProFTPD Default Installation) [127.0.0.1]", SoftwareProFTPD},
		{"pyftpdlib 1.5.7 ready.", SoftwarePyftpdlib},
		{"Welcome to the archive", ""},
		{"vsftpd-style banner", ""}, // not vsftpd's own "(vsFTPd x.y.z)"
		{"", ""},
	}
	for _, tt := range tests {
		if got := software(tt.greeting); got != tt.want {
			t.Errorf("software(%q) = %q, want %q", tt.greeting, got, tt.want)
		}
	}
}

func TestParsePASV(t *testing.T) {
	tests := []struct{ msg, want string }{
		{"Entering Passive Mode (127,0,0,1,4,1)", "127.0.0.1:1025"},
		{"Entering Passive Mode (10,1,2,3,200,10).", "10.1.2.3:51210"},
		{"=127,0,0,1,0,21", "127.0.0.1:21"},
		{"Entering Passive Mode (300,0,0,1,4,1)", ""},
		{"Entering Passive Mode (1,2,3,4,0,0)", ""},
		{"garbage", ""},
	}
	for _, tt := range tests {
		got, err := parsePASV(tt.msg)
		if got != tt.want || (tt.want == "") != (err != nil) {
			t.Errorf("parsePASV(%q) = %q, %v; want %q", tt.msg, got, err, tt.want)
		}
		if err != nil && !errors.Is(err, ErrProtocol) {
			t.Errorf("parsePASV(%q) error %v does not wrap ErrProtocol", tt.msg, err)
		}
	}
	for msg, want := range map[string]int{"Entering Extended Passive Mode (|||6446|)": 6446, "(!!!21!)": 21, "(|||0|)": 0, "(||)": 0} {
		if got, _ := parseEPSV(msg); got != want {
			t.Errorf("parseEPSV(%q) = %d, want %d", msg, got, want)
		}
	}
}

func TestParsePerm(t *testing.T) {
	for s, want := range map[string]os.FileMode{"rwxr-xr-x": 0o755, "rw-------": 0o600, "rwsr-sr-t": 0o755, "rwSr-Sr-T": 0o644} {
		if got, ok := parsePerm(s); !ok || got != want {
			t.Errorf("parsePerm(%q) = %o %v", s, got, ok)
		}
	}
}

// FuzzParseListLine checks that no line crashes the parsers and that every
// entry they accept is one the mount can show.
func FuzzParseListLine(f *testing.F) {
	for _, s := range []string{
		"-rw-r--r--    1 ftp      ftp          1234 Mar  9 21:15 file.txt",
		"drwxr-xr-x    2 1000     1000         4096 Jan  5  2019 old dir",
		"lrwxrwxrwx    1 0        0               7 Feb 29 12:00 link -> target",
		"crw-rw-rw-    1 root     root       1,   3 Jan  5  2020 null",
		"01-05-23  12:00PM       <DIR>          dir name",
		"2023-01-05  21:15                99 f",
		"type=file;size=1024;modify=20220813133357.5;UNIX.mode=0640; a file",
		"type=OS.unix=slink:/x;size=1; l",
		"total 0",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, line string, mlsd bool) {
		e, err := parseLine(line, mlsd, parseNow)
		if err != nil {
			return
		}
		if verr := ValidateName(e.Name); verr != nil {
			t.Fatalf("accepted invalid name %q: %v", e.Name, verr)
		}
		if e.Size < 0 || e.Mode&^0o777 != 0 || e.Type < TypeFile || e.Type > TypeLink {
			t.Fatalf("bad entry %+v", e)
		}
	})
}
