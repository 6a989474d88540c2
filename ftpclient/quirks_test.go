package ftpclient_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
)

// TestMLSDModesTurnedOn: a server whose FEAT offers unix.mode but leaves it
// off (pyftpdlib: "MLST type*;perm*;size*;modify*;unique*;unix.mode;...")
// gets OPTS MLST on every connection, so that its listings carry modes;
// a server that sends modes already, or has none, gets no OPTS MLST.
func TestMLSDModesTurnedOn(t *testing.T) {
	for _, tc := range []struct {
		name, feat string
		wantOpts   string // "" for none
		wantMode   os.FileMode
	}{
		{"pyftpdlib", "type*;perm*;size*;modify*;unique*;unix.mode;unix.uid;unix.gid;",
			"OPTS MLST type;perm;size;modify;unique;unix.mode;", 0o600},
		{"proftpd", "modify*;perm*;size*;type*;unique*;UNIX.group*;UNIX.mode*;UNIX.owner*;", "", 0o600},
		{"no modes", "type*;size*;modify*;", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			on := map[*fakeConn]bool{} // connections that sent OPTS MLST with unix.mode
			s := newFakeServer(t, func(s *fakeServer) {
				s.handlers["FEAT"] = func(fc *fakeConn, _ string) {
					fc.reply("211-Features:", " MLST "+tc.feat, " MDTM", " SIZE", "211 End")
				}
				s.handlers["OPTS"] = func(fc *fakeConn, arg string) {
					if strings.HasPrefix(strings.ToUpper(arg), "MLST ") && strings.Contains(arg, "unix.mode") {
						mu.Lock()
						on[fc] = true
						mu.Unlock()
					}
					fc.reply("200 ok")
				}
				s.handlers["RETR"] = listHandler("x")
				s.handlers["MLSD"] = func(fc *fakeConn, arg string) {
					mu.Lock()
					mode := on[fc] || strings.Contains(tc.feat, "UNIX.mode*")
					mu.Unlock()
					facts := "type=file;size=1;modify=20200101000000;"
					if mode {
						facts += "unix.mode=0600;"
					}
					listHandler(facts+" f\r\n")(fc, arg)
				}
			})
			c := newFakeClient(t, s, nil)
			ctx := context.Background()
			ents, err := c.List(ctx, "/")
			if err != nil || len(ents) != 1 {
				t.Fatalf("List: %+v, %v", ents, err)
			}
			if ents[0].Mode != tc.wantMode {
				t.Errorf("mode %v, want %v", ents[0].Mode, tc.wantMode)
			}
			// A second connection (the first one is busy) asks again: the
			// facts are per session.
			rc, err := c.OpenRead(ctx, "/f", 0)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if _, err := c.List(ctx, "/"); err != nil {
				t.Fatal(err)
			}
			lines := s.lines()
			logins, opts := countPrefix(lines, "PASS"), countPrefix(lines, "OPTS MLST")
			if logins < 2 {
				t.Fatalf("%d logins, want 2 connections: %q", logins, lines)
			}
			if tc.wantOpts == "" {
				if opts != 0 {
					t.Errorf("%d OPTS MLST, want none: %q", opts, lines)
				}
				return
			}
			if n := countPrefix(lines, tc.wantOpts); n != logins || n == 0 {
				t.Errorf("%d %q for %d logins: %q", n, tc.wantOpts, logins, lines)
			}
		})
	}
}
