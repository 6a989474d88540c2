package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
	"github.com/fxpfs/fxpfs/internal/testutil"
)

// matrixTTL is the matrix mount's listing_ttl: short, so that "after the
// TTL" costs a few seconds.
const matrixTTL = 2 * time.Second

// matrixKind is one server kind of the matrix and what it can keep. Where
// a server cannot keep something (a directory's mtime), the mount shows
// what was set until the listing expires, and the test checks that only.
type matrixKind struct {
	name  string // the server's name in the mount, and the subtest's
	start func(t realftpd.TB, o realftpd.Options) *realftpd.Server
	tls   bool
	// What the server keeps when set through the mount.
	dirTimes bool // directory mtimes (MFMT/SITE UTIME on a directory)
	// What the mount shows of the server's own tree.
	listDirTimes bool // directory mtimes to the second (MLSD; LIST has minutes)
	linksAsFiles bool // symlinks listed as the files they point to (MLSD that follows links)
}

// matrixKinds: every server kind the tests have, as a destination and as a source.
var matrixKinds = []matrixKind{
	{name: "vsftpd", start: realftpd.StartVsftpd},
	{name: "pureftpd", start: realftpd.StartPureFTPd, dirTimes: true, listDirTimes: true},
	{name: "proftpd", start: realftpd.StartProFTPD, dirTimes: true, listDirTimes: true},
	{name: "proftpdtls", start: realftpd.StartProFTPD, tls: true, dirTimes: true, listDirTimes: true},
	{name: "pyftpdlib", start: realftpd.StartPyftpdlib, listDirTimes: true, linksAsFiles: true},
}

// matrixConfig is the mount's config: every server with a short listing
// TTL and the default precise_mtime (unset); TLS servers trust the test CA.
func matrixConfig(servers []*realftpd.Server) string {
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "[servers.%s]\nurl = %q\nlisting_ttl = %q\n", s.Name,
			fmt.Sprintf("ftp://%s@%s/", s.User, s.Addr()), matrixTTL.String())
		if s.TLS {
			fmt.Fprintf(&b, "tls = \"explicit\"\ntls_ca_file = %q\n", s.CAFile)
		}
	}
	return b.String()
}

// TestRsyncMatrix: rsync -a, cp -a and tar x of a tree into every server
// kind through the mount exit 0 and give the tree byte for byte with its
// modes and mtimes; a second and a third rsync -a (at once, and after the
// listing TTL) transfer nothing and change nothing on the server; and
// rsync -a / cp -a out of the mount give back the server's tree, symlinks
// included. All with precise_mtime at its default.
func TestRsyncMatrix(t *testing.T) {
	t.Parallel()
	needBinary(t)
	needTools(t, "rsync", "tar", "cp", "find")
	addrs := testutil.LoopbackAddrs(len(matrixKinds))
	servers := make([]*realftpd.Server, len(matrixKinds))
	for i, k := range matrixKinds {
		servers[i] = k.start(t, realftpd.Options{Addr: addrs[i], Name: k.name, TLS: k.tls})
	}
	items := matrixTree(t, false)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	writeMatrixTree(t, src, items, -1, -1)
	tarball := filepath.Join(t.TempDir(), "tree.tar")
	if r := runCmd(t, cmdSpec{}, "tar", "-C", src, "-cf", tarball, "."); r.err != nil {
		t.Fatalf("tar c: %s", r)
	}
	linked := matrixTree(t, true)
	for i, k := range matrixKinds {
		s := servers[i]
		s.MkdirAll(t, "/tree")
		writeMatrixTree(t, s.Path("/tree"), linked, s.UID, s.GID)
		_ = k
	}
	m := startMount(t, mountSpec{servers: servers, config: matrixConfig(servers)})

	for i, k := range matrixKinds {
		s := servers[i]
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			t.Run("rsync into", func(t *testing.T) { matrixRsyncInto(t, m, s, k, src, items) })
			t.Run("cp -a into", func(t *testing.T) {
				m.mustRun(t, "cp", "-a", src, m.path(s.Name, "cp-a"))
				checkMatrixTree(t, "cp -a, on disk", s.Path("/cp-a"), matrixWant{items: items, dirTimes: k.dirTimes, dirModes: true})
			})
			t.Run("tar x into", func(t *testing.T) {
				m.mustRun(t, "mkdir", m.path(s.Name, "tar"))
				m.mustRun(t, "tar", "-C", m.path(s.Name, "tar"), "-xf", tarball)
				checkMatrixTree(t, "tar x, on disk", s.Path("/tar"), matrixWant{items: items, dirTimes: k.dirTimes, dirModes: true})
			})
			t.Run("rsync a symlink into", func(t *testing.T) { matrixLinkInto(t, m, s) })
			t.Run("rsync out of", func(t *testing.T) { matrixRsyncOut(t, m, s, k, linked) })
		})
	}
}

// matrixRsyncInto: rsync -a into s exits 0 and gives the tree (on the
// server's disk, and as the mount shows it); two more runs, at once and
// after the listing TTL, transfer nothing and leave every file on the
// server as it was.
func matrixRsyncInto(t *testing.T, m *mount, s *realftpd.Server, k matrixKind, src string, items []matrixItem) {
	dst := m.path(s.Name, "rsync")
	start := time.Now()
	out := m.mustRun(t, "rsync", "-a", "--stats", src+"/", dst+"/")
	if n := rsyncTransferred(t, out); n != countKind(items, 'f') {
		t.Errorf("first rsync -a transferred %d files, want %d", n, countKind(items, 'f'))
	}
	t.Logf("first rsync -a into %s: %v", k.name, time.Since(start).Round(time.Millisecond))
	if checkMatrixTree(t, "after rsync -a, on disk", s.Path("/rsync"), matrixWant{items: items, dirTimes: k.dirTimes, dirModes: true}) > 0 {
		return
	}
	ids := fileIDs(t, s.Path("/rsync"))
	for _, run := range []struct {
		name string
		wait time.Duration
	}{{"at once", 0}, {"after the listing TTL", matrixTTL + time.Second}} {
		time.Sleep(run.wait)
		before := m.stats(t, s.Name)
		start := time.Now()
		out := m.mustRun(t, "rsync", "-a", "--stats", "-i", src+"/", dst+"/")
		after := m.stats(t, s.Name)
		if n := rsyncTransferred(t, out); n != 0 {
			t.Errorf("rsync -a %s: %d files transferred, want 0\n%s", run.name, n, tail(out, 3000))
		}
		if d := after.BytesOut - before.BytesOut; d != 0 {
			t.Errorf("rsync -a %s: %d bytes uploaded, want 0", run.name, d)
		}
		if ch := changedIDs(ids, fileIDs(t, s.Path("/rsync"))); len(ch) > 0 {
			t.Errorf("rsync -a %s changed %d files on the server (inode, ctime or size): %q", run.name, len(ch), ch[:min(len(ch), 10)])
		}
		t.Logf("rsync -a %s (%s): %d FTP commands, %d bytes in, %v", run.name, k.name,
			after.Commands-before.Commands, after.BytesIn-before.BytesIn, time.Since(start).Round(time.Millisecond))
	}
	// A directory time the server cannot keep shows in the mount until
	// the listing expires (README): touch and stat at once see it.
	const stamp = "1234567890"
	got := m.mustSh(t, `touch -m -d @`+stamp+` "$1" && stat -c %Y "$1"`, m.path(s.Name, "rsync", "empty dir"))
	if strings.TrimSpace(got) != stamp {
		t.Errorf("touch then stat of a directory through the mount: mtime %s, want %s", strings.TrimSpace(got), stamp)
	}
	out = m.run(t, "ln", "-s", "readme.txt", m.path(s.Name, "rsync", "docs", "new link")).stderr
	t.Logf("ln -s into %s: %s", k.name, out)
	matrixForeignRewrite(t, m, s, src, items)
}

// matrixForeignRewrite: another client rewrites two files on the server
// with their sizes kept and times set (as rsync -a, cp -p or tar x would):
// one old file to another hour of the same day (LIST shows only the day),
// one recent file to another minute. After the listing TTL the mount shows
// the new times, so rsync -a sends exactly these two files again.
func matrixForeignRewrite(t *testing.T, m *mount, s *realftpd.Server, src string, items []matrixItem) {
	var old, recent *matrixItem
	for i := range items {
		it := &items[i]
		switch {
		case it.kind != 'f' || len(it.data) == 0 || !strings.HasPrefix(it.rel, "bulk "):
		case old == nil && it.mtime.Year() == matrixOld.Year():
			old = it
		case recent == nil && it.mtime.After(matrixRecent.Add(-time.Minute)):
			recent = it
		}
	}
	if old == nil || recent == nil {
		t.Fatal("the tree has no old or no recent non-empty file")
	}
	for _, ch := range []struct {
		it *matrixItem
		mt time.Time
	}{{old, old.mtime.Add(5 * time.Hour)}, {recent, recent.mtime.Add(2 * time.Minute)}} {
		p := s.Path("/rsync/" + ch.it.rel)
		if err := os.WriteFile(p, randomBytes(t, len(ch.it.data)), 0o644); err != nil {
			t.Fatal(err)
		}
		setTimes(t, p, ch.mt)
	}
	time.Sleep(matrixTTL + time.Second)
	out := m.mustRun(t, "rsync", "-a", "--stats", "-i", src+"/", m.path(s.Name, "rsync")+"/")
	if n := rsyncTransferred(t, out); n != 2 {
		t.Errorf("rsync -a after another client rewrote 2 files (same sizes, times set): %d files transferred, want 2\n%s",
			n, tail(out, 3000))
	}
	for _, it := range []*matrixItem{old, recent} {
		if got := fileSHA(t, s.Path("/rsync/"+it.rel)); got != shaHex(it.data) {
			t.Errorf("%q on disk after rsync -a: content is still the other client's", it.rel)
		}
	}
}

// matrixRsyncOut: rsync -a out of the mount gives the server's tree
// (symlinks with their targets, file modes and mtimes; directory mtimes
// where the listing has seconds); two more runs, at once and after the
// listing TTL, read nothing.
func matrixRsyncOut(t *testing.T, m *mount, s *realftpd.Server, k matrixKind, items []matrixItem) {
	dst := filepath.Join(t.TempDir(), "out")
	if k.linksAsFiles {
		items = linksFollowed(items)
	}
	m.mustRun(t, "rsync", "-a", m.path(s.Name, "tree")+"/", dst+"/")
	want := matrixWant{items: items, dirTimes: k.listDirTimes, dirModes: true}
	if checkMatrixTree(t, "rsync -a out of the mount", dst, want) > 0 {
		return
	}
	for _, run := range []struct {
		name string
		wait time.Duration
	}{{"at once", 0}, {"after the listing TTL", matrixTTL + time.Second}} {
		time.Sleep(run.wait)
		before := m.stats(t, s.Name)
		out := m.mustRun(t, "rsync", "-a", "--stats", "-i", m.path(s.Name, "tree")+"/", dst+"/")
		after := m.stats(t, s.Name)
		if n := rsyncTransferred(t, out); n != 0 {
			t.Errorf("rsync -a out of the mount %s: %d files transferred, want 0\n%s", run.name, n, tail(out, 3000))
		}
		if d := after.BytesIn - before.BytesIn; d > 64<<10 {
			t.Errorf("rsync -a out of the mount %s: %d bytes downloaded, want listings only", run.name, d)
		}
	}
	cpDst := filepath.Join(t.TempDir(), "cp")
	m.mustRun(t, "cp", "-a", m.path(s.Name, "tree"), cpDst)
	checkMatrixTree(t, "cp -a out of the mount", cpDst, want)
}

// matrixLinkInto: FTP has no portable command to make a symlink (proftpd's
// SITE SYMLINK makes the target absolute and splits names at spaces), so
// the mount refuses symlink(2) with ENOTSUP: rsync -a of a tree with a
// symlink names the link, exits 23, and copies everything else.
func matrixLinkInto(t *testing.T, m *mount, s *realftpd.Server) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(t, 1000)
	if err := os.WriteFile(filepath.Join(src, "d", "target.txt"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target.txt", filepath.Join(src, "d", "a link")); err != nil {
		t.Fatal(err)
	}
	r := m.run(t, "rsync", "-a", src+"/", m.path(s.Name, "links")+"/")
	if r.code != 23 || !strings.Contains(r.stderr, "a link") || !strings.Contains(r.stderr, "Operation not supported") {
		t.Errorf("rsync -a of a tree with a symlink: want exit 23 naming the link (Operation not supported); %s", r)
	}
	if got := readDisk(t, s, "/links/d/target.txt"); shaHex(got) != shaHex(data) {
		t.Errorf("the file next to the symlink did not arrive intact (%d bytes)", len(got))
	}
}

// countKind counts the items of one kind.
func countKind(items []matrixItem, kind byte) int {
	n := 0
	for _, it := range items {
		if it.kind == kind {
			n++
		}
	}
	return n
}
