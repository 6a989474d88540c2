package e2e

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// TestFXPThroughMount: kernel copies through the mount (cp, cp -r, cp -p,
// install, cat a > b, mv of a file and of a directory across servers, a copy
// within one server) go server-to-server: the data on disk is right, the
// counters show FXP and nothing relayed, and the servers' data bytes through
// this host did not grow by the files' sizes.
func TestFXPThroughMount(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{FXP: true}, realftpd.Options{FXP: true})
	data := map[string][]byte{
		"alpha:/src/big.bin":   putRandom(t, alpha, "/src/big.bin", 6<<20+101),
		"beta:/src/big.bin":    putRandom(t, beta, "/src/big.bin", 5<<20+7),
		"alpha:/src/perm.bin":  putRandom(t, alpha, "/src/perm.bin", 1<<20),
		"beta:/src/inst.bin":   putRandom(t, beta, "/src/inst.bin", 1<<20+3),
		"alpha:/src/cat.bin":   putRandom(t, alpha, "/src/cat.bin", 3<<19),
		"beta:/src/cat2.bin":   putRandom(t, beta, "/src/cat2.bin", 1<<20+1),
		"alpha:/src/mv.bin":    putRandom(t, alpha, "/src/mv.bin", 2<<20),
		"alpha:/src/same.bin":  putRandom(t, alpha, "/src/same.bin", 2<<20+5),
		"beta:/mvdir/a.bin":    putRandom(t, beta, "/mvdir/a.bin", 300_000),
		"beta:/mvdir/b c.bin":  putRandom(t, beta, "/mvdir/b c.bin", 310_000),
		"beta:/mvdir/sub/d.bn": putRandom(t, beta, "/mvdir/sub/d.bn", 320_000),
	}
	if err := os.Chmod(alpha.Path("/src/perm.bin"), 0o640); err != nil {
		t.Fatal(err)
	}
	setTimes(t, alpha.Path("/src/perm.bin"), oldTime)
	if err := os.Chmod(beta.Path("/src/inst.bin"), 0o600); err != nil {
		t.Fatal(err)
	}
	tree := makeTree(t, "/tree", 120, 6, 8<<10, 32<<10)
	putTree(t, alpha, tree)
	alpha.MkdirAll(t, "/dst")
	beta.MkdirAll(t, "/dst")
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}})
	srv := map[string]*realftpd.Server{"alpha": alpha, "beta": beta}

	// onDisk checks that server:rel on disk holds want.
	onDisk := func(t *testing.T, server, rel string, want []byte) {
		t.Helper()
		got, err := os.ReadFile(srv[server].Path(rel))
		if err != nil {
			t.Errorf("%s:%s on disk: %v", server, rel, err)
			return
		}
		if shaHex(got) != shaHex(want) {
			t.Errorf("%s:%s on disk: %d bytes sha %s, want %d bytes sha %s",
				server, rel, len(got), shaHex(got), len(want), shaHex(want))
		}
		// The mount's listing must show the finished copy at once.
		if sz := m.mustRun(t, "stat", "-c", "%s", m.path(server, rel)); sz != strconv.Itoa(len(want))+"\n" {
			t.Errorf("%s:%s size through the mount %q, want %d", server, rel, sz, len(want))
		}
	}
	gone := func(t *testing.T, server, rel string) {
		t.Helper()
		if ok, _ := existsDisk(srv[server], rel); ok {
			t.Errorf("%s:%s still on disk after mv", server, rel)
		}
	}
	steps := []struct {
		name   string
		script string // $1 is the mount point
		files  int64  // copies expected
		check  func(t *testing.T)
	}{
		{"cp_alpha_to_beta", `cp "$1/alpha/src/big.bin" "$1/beta/dst/big.bin"`, 1, func(t *testing.T) {
			onDisk(t, "beta", "/dst/big.bin", data["alpha:/src/big.bin"])
		}},
		{"cp_beta_to_alpha", `cp "$1/beta/src/big.bin" "$1/alpha/dst/"`, 1, func(t *testing.T) {
			onDisk(t, "alpha", "/dst/big.bin", data["beta:/src/big.bin"])
		}},
		{"cp_r_tree_120_files", `cp -r "$1/alpha/tree" "$1/beta/"`, int64(len(tree)), func(t *testing.T) {
			checkTree(t, beta.Root, tree, "/tree", "/tree")
		}},
		{"cp_p", `cp -p "$1/alpha/src/perm.bin" "$1/beta/dst/perm.bin"`, 1, func(t *testing.T) {
			onDisk(t, "beta", "/dst/perm.bin", data["alpha:/src/perm.bin"])
			if got := m.mustRun(t, "stat", "-c", "%a %Y", m.path("beta", "dst", "perm.bin")); got != fmt.Sprintf("640 %d\n", oldTime.Unix()) {
				t.Errorf("cp -p: mode and mtime through the mount %q, want 640 %d", got, oldTime.Unix())
			}
			if fi, err := os.Stat(beta.Path("/dst/perm.bin")); err == nil && (fi.Mode().Perm() != 0o640 || !fi.ModTime().Equal(oldTime)) {
				t.Errorf("cp -p: on disk mode %v mtime %v, want 0640 %v (pure-ftpd has SITE CHMOD and MFMT)",
					fi.Mode().Perm(), fi.ModTime().UTC(), oldTime)
			}
		}},
		{"install_m_644", `install -m 644 "$1/beta/src/inst.bin" "$1/alpha/dst/inst.bin"`, 1, func(t *testing.T) {
			onDisk(t, "alpha", "/dst/inst.bin", data["beta:/src/inst.bin"])
			if fi, err := os.Stat(alpha.Path("/dst/inst.bin")); err == nil && fi.Mode().Perm() != 0o644 {
				t.Errorf("install -m 644: mode on disk %v", fi.Mode().Perm())
			}
		}},
		{"cat_redirect_cross_server", `cat "$1/alpha/src/cat.bin" > "$1/beta/dst/cat.bin"`, 1, func(t *testing.T) {
			onDisk(t, "beta", "/dst/cat.bin", data["alpha:/src/cat.bin"])
		}},
		{"cat_redirect_same_server", `cat "$1/beta/src/cat2.bin" > "$1/beta/dst/cat2.bin"`, 1, func(t *testing.T) {
			onDisk(t, "beta", "/dst/cat2.bin", data["beta:/src/cat2.bin"])
		}},
		{"mv_file_across_servers", `mv "$1/alpha/src/mv.bin" "$1/beta/dst/mv.bin"`, 1, func(t *testing.T) {
			onDisk(t, "beta", "/dst/mv.bin", data["alpha:/src/mv.bin"])
			gone(t, "alpha", "/src/mv.bin")
		}},
		{"mv_dir_across_servers", `mv "$1/beta/mvdir" "$1/alpha/dst/"`, 3, func(t *testing.T) {
			onDisk(t, "alpha", "/dst/mvdir/a.bin", data["beta:/mvdir/a.bin"])
			onDisk(t, "alpha", "/dst/mvdir/b c.bin", data["beta:/mvdir/b c.bin"])
			onDisk(t, "alpha", "/dst/mvdir/sub/d.bn", data["beta:/mvdir/sub/d.bn"])
			gone(t, "beta", "/mvdir")
		}},
		{"cp_within_one_server", `cp "$1/alpha/src/same.bin" "$1/alpha/dst/same copy.bin"`, 1, func(t *testing.T) {
			onDisk(t, "alpha", "/dst/same copy.bin", data["alpha:/src/same.bin"])
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := m.status(t)
			m.mustSh(t, st.script, m.dir)
			after := m.status(t)
			st.check(t)
			checkAllFXP(t, before, after, st.files)
		})
	}
}
