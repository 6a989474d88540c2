package fusefs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fxpfs/fxpfs/internal/ftptest"
)

func TestConfineLink(t *testing.T) {
	tests := []struct {
		base, link, target, want string
	}{
		{"/", "/a/link", "b", "b"},
		{"/", "/a/link", "./b/c", "b/c"},
		{"/", "/a/link", "../b", "../b"},
		{"/", "/a/b/link", "/a/x", "../x"},
		{"/", "/link", "/etc/shadow", "etc/shadow"},
		{"/", "/a/link", "/etc/shadow", "../etc/shadow"},
		{"/", "/a/link", "../../../etc/passwd", "../etc/passwd"}, // clamped at the server's folder
		{"/", "/a/link", "../../beta/secret", "../beta/secret"},  // not another server's folder
		{"/", "/a/link", "/", ".."},
		{"/", "/link", "..", "."},
		{"/", "/a/link", "/a", "."},
		{"/pub", "/a/link", "/pub/x/y", "../x/y"}, // the base path is the folder
		{"/pub/", "/link", "/pub", "."},
		{"/pub", "/a/link", "/etc/shadow", "../etc/shadow"}, // outside the base: as if it were "/"
		{"/pub", "/a/link", "/public/x", "../public/x"},     // not below "/pub"
		{"/", "/a/link", "", ""},
	}
	for _, tc := range tests {
		got := confineLink(tc.base, tc.link, tc.target)
		if got != tc.want {
			t.Errorf("confineLink(%q, %q, %q) = %q, want %q", tc.base, tc.link, tc.target, got, tc.want)
		}
		// Whatever the target, the result stays inside the server's folder.
		if got != "" {
			resolved := filepath.Join("/mnt/srv", filepath.Dir(tc.link), got)
			if resolved != "/mnt/srv" && !strings.HasPrefix(resolved, "/mnt/srv/") {
				t.Errorf("confineLink(%q, %q, %q) = %q resolves to %s, outside the server's folder", tc.base, tc.link, tc.target, got, resolved)
			}
		}
	}
}

func TestServerSymlinksStayInTheirFolder(t *testing.T) {
	// A hostile server lists links to this host's files (absolute, and
	// escaping with ".."), to another server's folder, and an honest one.
	secret := filepath.Join(t.TempDir(), "local-secret")
	if err := os.WriteFile(secret, []byte("this host's file"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, raw := range []bool{false, true} {
		name := "confined"
		if raw {
			name = "raw"
		}
		t.Run(name, func(t *testing.T) {
			m := mount(t, setup{names: []string{"alpha", "beta"}, srvOpts: []ftptest.Option{ftptest.WithSymlinks()},
				opts: Options{RawSymlinks: raw}})
			disk := m.servers["alpha"].Root
			data := randomFile(t, filepath.Join(disk, "pub/real.txt"), 100)
			randomFile(t, m.disk("beta", "secret.txt"), 10)
			dotdot := strings.Repeat("../", strings.Count(disk, "/")+3) + strings.TrimPrefix(secret, "/")
			links := map[string]string{
				"pub/abs":     secret, // "/tmp/.../local-secret"
				"pub/dotdot":  dotdot, // "../../../../tmp/.../local-secret"
				"pub/beta":    "../../beta/secret.txt",
				"pub/good":    "real.txt",
				"pub/goodabs": "/pub/real.txt",
			}
			for l, target := range links {
				if err := os.Symlink(target, filepath.Join(disk, l)); err != nil {
					t.Fatal(err)
				}
			}
			dir := m.path("alpha", "pub")
			if !raw {
				for _, l := range []string{"abs", "dotdot", "beta"} {
					b, err := os.ReadFile(filepath.Join(dir, l))
					if err == nil || !errors.Is(err, os.ErrNotExist) {
						t.Errorf("reading link %s (-> %s): %q, %v; want ENOENT inside the server's folder", l, links["pub/"+l], b, err)
					}
					got, err := os.Readlink(filepath.Join(dir, l))
					if err != nil {
						t.Fatal(err)
					}
					if resolved := filepath.Join(dir, got); !strings.HasPrefix(resolved, m.path("alpha", "")+"/") {
						t.Errorf("link %s shows %q, which resolves to %s, outside alpha's folder", l, got, resolved)
					}
					st, err := os.Lstat(filepath.Join(dir, l))
					if err != nil || st.Size() != int64(len(got)) {
						t.Errorf("lstat %s: size %d, %v; want the length of %q", l, st.Size(), err, got)
					}
				}
				// A write through the link does not reach this host's file.
				if err := os.WriteFile(filepath.Join(dir, "abs"), []byte("overwritten"), 0o644); err == nil {
					if b, _ := os.ReadFile(secret); string(b) != "this host's file" {
						t.Fatal("a write through a server's link overwrote this host's file")
					}
				}
				for _, l := range []string{"good", "goodabs"} {
					fileEquals(t, filepath.Join(dir, l), data)
				}
				return
			}
			// --raw-symlinks: the targets as listed, so the kernel follows
			// the absolute one to this host's file.
			got, err := os.Readlink(filepath.Join(dir, "abs"))
			if err != nil || got != secret {
				t.Errorf("raw readlink abs = %q, %v; want %q", got, err, secret)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "abs")); err != nil || string(b) != "this host's file" {
				t.Errorf("raw link read %q, %v", b, err)
			}
		})
	}
	if b, _ := os.ReadFile(secret); string(b) != "this host's file" {
		t.Fatal("this host's file was changed")
	}
}
