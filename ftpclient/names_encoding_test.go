package ftpclient_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// TestNonASCIINameRewritten: a server that reads command lines as Latin-1
// and stores and lists names UTF-8-encoded (Twisted 22's FTP server) keeps
// `café.txt` as `cafÃ©.txt`: SIZE and RETR of the name as sent still find
// it, so only a listing shows that the mount would list it under a name
// that cannot be opened. The upload, the rename and mkdir fail with
// ErrBadName, saying why, instead of succeeding silently; the rename is
// undone and the directory removed (vfs removes a failed upload). On a
// server that lists names as given, the first non-ASCII name costs one
// listing, later ones none.
func TestNonASCIINameRewritten(t *testing.T) {
	for _, tc := range []struct {
		name      string
		q         ftptest.Quirks
		rewritten bool
		wantLists int // listings made by the checks
	}{
		{"Latin-1 commands, UTF-8 names (Twisted)", ftptest.Quirks{CommandsLatin1: true, NoMLSD: true}, true, 3},
		{"names as given", ftptest.Quirks{NoMLSD: true}, false, 1},
		// Listed in another form, not re-encoded: nothing to say, and
		// after three such listings no more are spent.
		{"names listed decomposed (HFS+)", ftptest.Quirks{NoMLSD: true, ListDecomposed: true}, false, 3},
		{"names as given, MLSD", ftptest.Quirks{}, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, srv := quirkClient(t, tc.q)
			if err := os.WriteFile(filepath.Join(srv.Root, "a.txt"), []byte("a"), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx := ctxT(t)
			lists := func() int {
				n := 0
				for _, l := range srv.Received() {
					if v, _, _ := strings.Cut(strings.ToUpper(l), " "); v == "LIST" || v == "MLSD" {
						n++
					}
				}
				return n
			}
			put := func(p string) error {
				up, err := c.OpenWrite(ctx, p, 0, ftpclient.WriteTruncate)
				if err != nil {
					return err
				}
				if _, err := up.Write([]byte("x")); err != nil {
					up.Abort()
					return err
				}
				return up.Close()
			}
			check := func(what string, err error) {
				t.Helper()
				switch {
				case tc.rewritten && !errors.Is(err, ftpclient.ErrBadName):
					t.Errorf("%s: %v, want ErrBadName", what, err)
				case tc.rewritten && !strings.Contains(err.Error(), "non-ASCII"):
					t.Errorf("%s: %v, want it to say why", what, err)
				case !tc.rewritten && err != nil:
					t.Errorf("%s: %v", what, err)
				}
			}
			if err := put("/.tmp-é"); err != nil { // dot files are not looked for: a server may not list them
				t.Errorf("upload .tmp-é: %v", err)
			}
			check("upload café.txt", put("/café.txt"))
			check("rename a.txt to naïve.txt", c.Rename(ctx, "/a.txt", "/naïve.txt"))
			check("mkdir dé", c.Mkdir(ctx, "/dé"))
			if tc.rewritten {
				if _, err := os.Stat(filepath.Join(srv.Root, "a.txt")); err != nil {
					t.Errorf("the rename was not undone: %v", err)
				}
				var left []string
				ents, _ := os.ReadDir(srv.Root)
				for _, e := range ents {
					left = append(left, e.Name())
				}
				if len(left) != 3 { // a.txt, .tmp-é and café.txt's upload as stored (vfs removes it)
					t.Errorf("on the server: %q, want a.txt and the upload", left)
				}
			} else {
				check("upload über.txt", put("/über.txt"))
			}
			if err := put("/plain.txt"); err != nil {
				t.Errorf("ASCII name: %v", err)
			}
			if n := lists(); n != tc.wantLists {
				t.Errorf("%d listings, want %d: %q", n, tc.wantLists, srv.Received())
			}
		})
	}
}
