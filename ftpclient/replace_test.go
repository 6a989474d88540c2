package ftpclient_test

import (
	"bytes"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

func diskIs(t *testing.T, root, rel string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s on disk: %q, %v; want %q", rel, got, err, want)
	}
}

func TestTempNames(t *testing.T) {
	for _, tc := range []struct {
		dot  bool
		want string
	}{{true, "/d/e/.fxpfs-"}, {false, "/d/e/fxpfs-"}} {
		n := ftpclient.TempName("/d/e/file.bin", tc.dot)
		if !strings.HasPrefix(n, tc.want) || !strings.HasSuffix(n, ".part") || len(path.Base(n)) != len(path.Base(tc.want))+15 {
			t.Errorf("TempName(dot=%v) = %q, want %s + 10 characters + .part", tc.dot, n, tc.want)
		}
		if !ftpclient.IsTempName(path.Base(n)) {
			t.Errorf("IsTempName(%q) = false", path.Base(n))
		}
		if n == ftpclient.TempName("/d/e/file.bin", tc.dot) {
			t.Errorf("two temporary names are equal: %q", n)
		}
	}
	for name, want := range map[string]bool{
		".fxpfs-abcdefghij.orig": true, "fxpfs-abcdefghij.part": true,
		"fxpfs-notes.txt": false, ".part": false, "file.fxpfs-x.part": false,
	} {
		if got := ftpclient.IsTempName(name); got != want {
			t.Errorf("IsTempName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestReplace: a complete file is put in place of the original, by one
// rename where the server renames onto files, else by way of a backup name
// (hidden while in use), which the client then takes at once; nothing is
// left next to it either way.
func TestReplace(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      []ftptest.Option
		want      ftpclient.Replaced
		remembers bool
	}{
		{"renames over", nil, ftpclient.ReplacedByRename, false},
		{"refuses to rename over", []ftptest.Option{ftptest.WithNoReplace()}, ftpclient.ReplacedByBackup, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := ftptest.Start(t, tc.opts...)
			c := newClient(t, srv)
			for i, content := range []string{"first", "second, longer"} {
				write(t, srv.Root, "/d/f", []byte("original"))
				tmp := ftpclient.TempName("/d/f", true)
				write(t, srv.Root, tmp, []byte(content))
				var hidden []string
				unhidden := 0
				way, err := c.Replace(ctxT(t), tmp, "/d/f", func(b string) func() {
					hidden = append(hidden, b)
					return func() { unhidden++ }
				})
				if err != nil || way != tc.want {
					t.Fatalf("replace %d: %v, %v; want %v", i, way, err, tc.want)
				}
				diskIs(t, srv.Root, "/d/f", []byte(content))
				if l := ftptest.TempFiles(t, filepath.Join(srv.Root, "d")); len(l) != 0 {
					t.Errorf("replace %d: temporaries left: %v", i, l)
				}
				if way == ftpclient.ReplacedByBackup {
					if len(hidden) != 1 || unhidden != 1 || path.Dir(hidden[0]) != "/d" ||
						!strings.HasPrefix(path.Base(hidden[0]), ".fxpfs-") || !strings.HasSuffix(hidden[0], ".orig") {
						t.Errorf("replace %d: backup names hidden %v, unhidden %d times; want one /d/.fxpfs-*.orig, once",
							i, hidden, unhidden)
					}
				} else if len(hidden) != 0 {
					t.Errorf("replace %d: a backup name was used: %v", i, hidden)
				}
				if c.RefusesRenameOver() != tc.remembers {
					t.Errorf("replace %d: RefusesRenameOver() = %v, want %v", i, c.RefusesRenameOver(), tc.remembers)
				}
			}
		})
	}
}

// TestReplaceFailureKeepsOriginal: the new file cannot be put in place
// (here it vanished); the original stays, by either way, and a failure
// that is not a refusal to rename over a file is not taken for one.
func TestReplaceFailureKeepsOriginal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []ftptest.Option
		learn bool // learn the backup way first, with a replace that works
	}{
		{"renames over", nil, false},
		{"refuses, not learned yet", []ftptest.Option{ftptest.WithNoReplace()}, false},
		{"backup way, original put back", []ftptest.Option{ftptest.WithNoReplace()}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := ftptest.Start(t, tc.opts...)
			c := newClient(t, srv)
			write(t, srv.Root, "/f", []byte("original"))
			if tc.learn {
				write(t, srv.Root, "/g", nil)
				write(t, srv.Root, "/g.new", []byte("x"))
				if _, err := c.Replace(ctxT(t), "/g.new", "/g", nil); err != nil || !c.RefusesRenameOver() {
					t.Fatalf("learning replace: %v, remembered %v", err, c.RefusesRenameOver())
				}
			}
			_, err := c.Replace(ctxT(t), "/.fxpfs-vanished00.part", "/f", nil)
			if !errors.Is(err, ftpclient.ErrNotFound) {
				t.Errorf("replace with a vanished file: %v, want ErrNotFound", err)
			}
			diskIs(t, srv.Root, "/f", []byte("original"))
			if l := ftptest.TempFiles(t, srv.Root); len(l) != 0 {
				t.Errorf("temporaries left: %v", l)
			}
			if c.RefusesRenameOver() != tc.learn {
				t.Errorf("RefusesRenameOver() = %v, want %v", c.RefusesRenameOver(), tc.learn)
			}
		})
	}
}

// TestReplaceOntoNothing: the backup way with no original (removed
// meanwhile) just renames.
func TestReplaceOntoNothing(t *testing.T) {
	srv := ftptest.Start(t, ftptest.WithNoReplace())
	c := newClient(t, srv)
	write(t, srv.Root, "/g", nil)
	write(t, srv.Root, "/g.new", []byte("x"))
	if _, err := c.Replace(ctxT(t), "/g.new", "/g", nil); err != nil {
		t.Fatal(err)
	}
	write(t, srv.Root, "/h.new", []byte("new"))
	if _, err := c.Replace(ctxT(t), "/h.new", "/h", nil); err != nil {
		t.Fatalf("replace onto no file: %v", err)
	}
	diskIs(t, srv.Root, "/h", []byte("new"))
}

// TestProbeWritable: a file the server lets this user write passes,
// unchanged; one it refuses fails (goftp refuses a read-only login's APPE
// with a 450 once the data connection is open), unchanged too.
func TestProbeWritable(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []ftptest.Option
		fail bool
	}{
		{"writable", nil, false},
		{"read-only login", []ftptest.Option{ftptest.WithReadOnly()}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := ftptest.Start(t, tc.opts...)
			c := newClient(t, srv)
			write(t, srv.Root, "/f", []byte("original"))
			if err := c.ProbeWritable(ctxT(t), "/f"); (err != nil) != tc.fail {
				t.Errorf("ProbeWritable: %v, want failure: %v", err, tc.fail)
			}
			diskIs(t, srv.Root, "/f", []byte("original"))
		})
	}
}

func TestExists(t *testing.T) {
	srv := ftptest.Start(t)
	c := newClient(t, srv)
	write(t, srv.Root, "/d/f", []byte("x"))
	for p, want := range map[string]bool{"/d/f": true, "/d/g": false, "/e/f": false} {
		if got, err := c.Exists(ctxT(t), p); err != nil || got != want {
			t.Errorf("Exists(%s) = %v, %v; want %v", p, got, err, want)
		}
	}
}
