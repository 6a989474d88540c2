package fusefs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// makeTree writes a small tree on the server's disk and returns its
// relative paths (dirs with a trailing slash), sorted.
func makeTree(t *testing.T, root string) []string {
	t.Helper()
	var want []string
	for d := 0; d < 3; d++ {
		for s := 0; s < 2; s++ {
			dir := fmt.Sprintf("dir%d/sub %d", d, s)
			for f := 0; f < 3; f++ {
				p := filepath.Join(dir, fmt.Sprintf("file-%d.txt", f))
				randomFile(t, filepath.Join(root, p), 100*f+d)
				want = append(want, p)
			}
			want = append(want, dir+"/")
		}
		want = append(want, fmt.Sprintf("dir%d/", d))
	}
	sort.Strings(want)
	return want
}

// findList runs find on dir and returns the relative paths it prints
// (dirs with a trailing slash), sorted.
func findList(t *testing.T, dir string) []string {
	t.Helper()
	out := mustRun(t, "find", dir, "-mindepth", "1", "-printf", "%P|%y\n")
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		p, typ, _ := strings.Cut(line, "|")
		if typ == "d" {
			p += "/"
		}
		got = append(got, p)
	}
	sort.Strings(got)
	return got
}

func TestListingsAreCached(t *testing.T) {
	m := mount(t, setup{})
	want := makeTree(t, m.servers["alpha"].Root)
	if out := mustRun(t, "ls", m.mnt); strings.TrimSpace(out) != "alpha" {
		t.Fatalf("ls of the mount root = %q, want the server folder", out)
	}
	dir := m.path("alpha", "")
	got := findList(t, dir)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("find:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Within the TTL, find, ls -l and stat send no FTP command at all.
	before := m.commands("alpha")
	findList(t, dir)
	mustRun(t, "ls", "-lR", dir)
	statOut := mustRun(t, "stat", "-c", "%s %b %B %f", filepath.Join(dir, "dir2/sub 1/file-2.txt"))
	mustRun(t, "find", dir, "-name", "nothing-matches")
	if n := m.commands("alpha") - before; n != 0 {
		t.Fatalf("warm find/ls/stat sent %d FTP commands, want 0", n)
	}

	// st_blocks is full (cp must not take the file for sparse).
	f := strings.Fields(statOut)
	size, _ := strconv.Atoi(f[0])
	blocks, _ := strconv.Atoi(f[1])
	unit, _ := strconv.Atoi(f[2])
	if size != 202 || blocks*unit < size || blocks != (size+511)/512 {
		t.Fatalf("stat size/blocks/unit = %v, want 202 bytes in %d blocks", f, (202+511)/512)
	}
	if f[3] != "81a4" { // regular file, 0644
		t.Errorf("mode = %s, want 81a4", f[3])
	}
}

func TestListingTTLExpires(t *testing.T) {
	m := mount(t, setup{ttl: time.Second})
	randomFile(t, m.disk("alpha", "a.txt"), 10)
	dir := m.path("alpha", "")
	if _, err := os.Stat(filepath.Join(dir, "a.txt")); err != nil {
		t.Fatal(err)
	}
	// A file added behind the mount's back shows up once the TTL has passed.
	randomFile(t, m.disk("alpha", "b.txt"), 10)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "b.txt")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new file never appeared after the listing TTL")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestReadWholeFile(t *testing.T) {
	m := mount(t, setup{})
	const size = 8<<20 + 12345
	data := randomFile(t, m.disk("alpha", "pub/big.bin"), size)
	p := m.path("alpha", "pub/big.bin")

	before := m.clients["alpha"].Stats().BytesIn
	out := mustRun(t, "sha256sum", p)
	if got := strings.Fields(out)[0]; got != sha(data) {
		t.Fatalf("sha256 through the mount %s, want %s", got, sha(data))
	}
	// One streamed RETR: the file crossed the wire once.
	if in := m.clients["alpha"].Stats().BytesIn - before; in < size || in > size+64<<10 {
		t.Errorf("reading %d bytes downloaded %d", size, in)
	}
	mustRun(t, "cat", p) // a second reader works the same
	if n, _ := os.ReadDir(m.root.opts.TempDir); len(n) != 0 || m.root.vfs.Spools() != 0 {
		t.Errorf("reading used temp files: %d", m.root.vfs.Spools())
	}
}

func TestMmapRead(t *testing.T) {
	m := mount(t, setup{})
	data := randomFile(t, m.disk("alpha", "m.bin"), 3<<20+5)
	// The mapping is read in a child process: a page fault on a mount
	// served by the faulting process itself can deadlock the Go runtime
	// (the faulting thread cannot be stopped for garbage collection).
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMmap$")
	cmd.Env = append(os.Environ(), "FXPFS_MMAP_FILE="+m.path("alpha", "m.bin"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mmap helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "sha256="+sha(data)) {
		t.Fatalf("mmapped content differs: %s", out)
	}
}

// TestHelperMmap is TestMmapRead's child process.
func TestHelperMmap(t *testing.T) {
	p := os.Getenv("FXPFS_MMAP_FILE")
	if p == "" {
		return // not a test of its own: TestMmapRead runs it as a child process
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap of a file read with direct I/O: %v", err)
	}
	defer syscall.Munmap(b)
	fmt.Printf("sha256=%s\n", sha(b))
}

// TestShortDownloadFailsCp: a server that ends RETR (226) half-way through
// a file makes cp fail with EIO, never exit 0 with half a copy.
func TestShortDownloadFailsCp(t *testing.T) {
	m := mount(t, setup{srvOpts: []ftptest.Option{ftptest.WithReadLimit(2 << 20)}})
	randomFile(t, m.disk("alpha", "f.bin"), 5<<20)
	out := filepath.Join(t.TempDir(), "copy")
	r, err := run(t, "cp", m.path("alpha", "f.bin"), out)
	if err == nil {
		t.Fatalf("cp of a file the server cut short succeeded")
	}
	if !strings.Contains(r, "Input/output error") {
		t.Errorf("cp: %s, want EIO", r)
	}
}

// TestDirectIOReadsGrowingFile: with --direct-io, a descriptor that read
// to the end of a file growing on the server reads the new bytes without
// being reopened (tail -f), and a read at the end of an unchanged file is
// EOF after one question to the server.
func TestDirectIOReadsGrowingFile(t *testing.T) {
	m := mount(t, setup{opts: Options{DirectIO: true}})
	data := randomFile(t, m.disk("alpha", "grow.log"), 100_000)
	f, err := os.Open(m.path("alpha", "grow.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("first read: %d bytes, %v", len(got), err)
	}
	before := m.servers["alpha"].Retrs()
	if n, err := f.Read(make([]byte, 4096)); n != 0 || err != io.EOF {
		t.Fatalf("read at the end: %d, %v; want EOF", n, err)
	}
	if n := m.servers["alpha"].Retrs() - before; n != 1 {
		t.Errorf("a read at the end sent %d RETRs, want 1", n)
	}
	more := []byte("a line appended on the server\n")
	w, err := os.OpenFile(m.disk("alpha", "grow.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(more); err != nil {
		t.Fatal(err)
	}
	w.Close()
	rest, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(rest, more) {
		t.Fatalf("after the file grew: %q, %v; want %q", rest, err, more)
	}
}
