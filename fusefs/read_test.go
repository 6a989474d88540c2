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
	"sync"
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
	if n, _ := os.ReadDir(m.root.opts.TempDir); len(n) != 0 || m.root.spools.Load() != 0 {
		t.Errorf("reading used temp files: %d", m.root.spools.Load())
	}
}

func TestReadSeeks(t *testing.T) {
	m := mount(t, setup{})
	const mib = 1 << 20
	data := randomFile(t, m.disk("alpha", "big.bin"), 10*mib+77)
	p := m.path("alpha", "big.bin")
	tests := []struct {
		name              string
		bs, skip, count   int
		wantOff, wantSize int
	}{
		{"middle", mib, 5, 1, 5 * mib, mib},
		{"tail", mib, 10, 1, 10 * mib, 77},
		{"back to start", 4096, 0, 3, 0, 3 * 4096},
		{"small blocks far in", 4096, 2000, 2, 2000 * 4096, 2 * 4096},
		{"past the end", mib, 20, 1, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir() + "/out"
			mustRun(t, "dd", "if="+p, "of="+out, fmt.Sprintf("bs=%d", tc.bs),
				fmt.Sprintf("skip=%d", tc.skip), fmt.Sprintf("count=%d", tc.count), "status=none")
			fileEquals(t, out, data[tc.wantOff:tc.wantOff+tc.wantSize])
		})
	}

	// Random access within one open file: each jump reopens at the offset.
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{9 * mib, 100, 3*mib + 5, 10 * mib} {
		buf := make([]byte, 70)
		n, err := f.ReadAt(buf, off)
		if n == 0 && err != nil {
			t.Fatalf("ReadAt(%d): %v", off, err)
		}
		if string(buf[:n]) != string(data[off:min(int(off)+70, len(data))]) {
			t.Fatalf("ReadAt(%d): wrong data", off)
		}
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
		t.Skip("helper process for TestMmapRead")
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

func TestManyReadersOnCappedServer(t *testing.T) {
	// The server allows 2 connections, the client is configured for 4:
	// eight concurrent readers must all finish with the right data.
	m := mount(t, setup{srvOpts: []ftptest.Option{ftptest.WithMaxConns(2)}, maxConns: 4})
	const n = 8
	files := make([][]byte, n)
	for i := range files {
		files[i] = randomFile(t, m.disk("alpha", fmt.Sprintf("f%d", i)), 1<<20+i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, err := run(t, "sha256sum", m.path("alpha", fmt.Sprintf("f%d", i)))
			if err != nil {
				errs <- fmt.Errorf("reader %d: %v: %s", i, err, out)
				return
			}
			if got := strings.Fields(out)[0]; got != sha(files[i]) {
				errs <- fmt.Errorf("reader %d: sha %s, want %s", i, got, sha(files[i]))
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestIdleStreamGivesBackItsConnection(t *testing.T) {
	// One connection only. A reader that stops half-way must not block
	// another file's reader for good: its idle stream is closed, and it
	// resumes (REST) when it reads again.
	m := mount(t, setup{srvOpts: []ftptest.Option{ftptest.WithMaxConns(1)}, maxConns: 1})
	m.root.idleClose = 200 * time.Millisecond
	a := randomFile(t, m.disk("alpha", "a"), 12<<20)
	b := randomFile(t, m.disk("alpha", "b"), 3<<20)
	fa, err := os.Open(m.path("alpha", "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	head := make([]byte, 1<<20)
	if _, err := io.ReadFull(fa, head); err != nil || !bytes.Equal(head, a[:1<<20]) {
		t.Fatalf("first MiB of a: %v", err)
	}
	fileEquals(t, m.path("alpha", "b"), b) // needs the connection a's stream held
	rest, err := io.ReadAll(fa)
	if err != nil || !bytes.Equal(rest, a[1<<20:]) {
		t.Fatalf("rest of a after its stream was closed: %d bytes, %v", len(rest), err)
	}
}
