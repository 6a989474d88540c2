package fusefs

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// rereadTries is how often a re-read that should come from the page cache
// is tried: the kernel may have reclaimed some pages meanwhile.
const rereadTries = 3

// readWith reads the file at p with read(2)s of bs bytes.
func readWith(t *testing.T, p string, bs int) []byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	buf := make([]byte, bs)
	for {
		n, err := f.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes()
		}
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
	}
}

func TestPageCacheReads(t *testing.T) {
	const size = 4<<20 + 333
	tests := []struct {
		name     string
		directIO bool
		// bounds on the READ requests of a 4 KiB-read(2) pass, and on the
		// FTP commands and bytes of a second pass
		maxReads, minReads     int64
		rereadCmds, rereadData bool
	}{
		// Read-ahead: 128 KiB requests (a few smaller at the start), not
		// one per read(2); the second pass comes from the page cache.
		{name: "page cache", maxReads: size / (64 << 10), minReads: 1},
		// Direct I/O: every 4 KiB read(2) is one request, every pass a RETR.
		{name: "direct I/O", directIO: true, minReads: size / 4096, maxReads: size/4096 + 2, rereadCmds: true, rereadData: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mount(t, setup{opts: Options{DirectIO: tc.directIO}})
			data := randomFile(t, m.disk("alpha", "f.bin"), size)
			p := m.path("alpha", "f.bin")

			r0 := m.root.reads.Load()
			if got := readWith(t, p, 4096); !bytes.Equal(got, data) {
				t.Fatalf("4 KiB reads: %d bytes (sha %s), want %d (sha %s)", len(got), sha(got)[:12], size, sha(data)[:12])
			}
			if n := m.root.reads.Load() - r0; n < tc.minReads || n > tc.maxReads {
				t.Errorf("4 KiB read(2)s of %d bytes made %d READ requests, want %d..%d", size, n, tc.minReads, tc.maxReads)
			}

			// The kernel may reclaim cached pages at any time (this
			// machine's DAMON pages idle memory out within seconds), so a
			// re-read that finds pages gone is tried again at once.
			var cmds, in int64
			for try := 0; try < rereadTries; try++ {
				c0, b0, k0 := m.commands("alpha"), m.clients["alpha"].Stats().BytesIn, m.root.keptOpens.Load()
				if got := readWith(t, p, 1<<20); !bytes.Equal(got, data) {
					t.Fatalf("second read: wrong data")
				}
				cmds, in = m.commands("alpha")-c0, m.clients["alpha"].Stats().BytesIn-b0
				kept := m.root.keptOpens.Load() > k0
				if kept == tc.rereadCmds {
					t.Errorf("the second open kept the page cache: %v, want %v", kept, !tc.rereadCmds)
				}
				if (cmds > 0) == tc.rereadCmds {
					break
				}
			}
			if (cmds > 0) != tc.rereadCmds || (in > 0) != tc.rereadData {
				t.Errorf("re-reading the unchanged file sent %d FTP commands and downloaded %d bytes (%d tries); want commands: %v, data: %v",
					cmds, in, rereadTries, tc.rereadCmds, tc.rereadData)
			}
		})
	}
}

func TestPageCacheServerChange(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, disk string) []byte
	}{
		{"same size, new mtime", func(t *testing.T, disk string) []byte {
			b := randomFile(t, disk, 200000)
			later := time.Now().Add(time.Hour) // LIST may show only minutes
			if err := os.Chtimes(disk, later, later); err != nil {
				t.Fatal(err)
			}
			return b
		}},
		{"new size", func(t *testing.T, disk string) []byte { return randomFile(t, disk, 150000) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mount(t, setup{ttl: time.Second})
			disk, p := m.disk("alpha", "f.bin"), m.path("alpha", "f.bin")
			v1 := randomFile(t, disk, 200000)
			held, err := os.Open(p) // a descriptor open across the change
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			if b, err := io.ReadAll(held); err != nil || !bytes.Equal(b, v1) {
				t.Fatalf("first read: %v", err)
			}
			fileEquals(t, p, v1) // cached

			st1, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			v2 := tc.change(t, disk)
			// Within the TTL the listing still shows the old version; once
			// it has expired, stat shows the new one...
			deadline := time.Now().Add(10 * time.Second)
			for {
				st, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if st.Size() != st1.Size() || !st.ModTime().Equal(st1.ModTime()) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the change never showed in stat")
				}
				time.Sleep(100 * time.Millisecond)
			}
			// ...and the descriptor that was open all along reads the new
			// content (its read-ahead window held the old one)...
			got := make([]byte, len(v2)+10)
			n, err := held.ReadAt(got, 0)
			if err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:n], v2) {
				t.Errorf("the descriptor open across the change reads %d bytes (sha %s), want the new %d (sha %s)",
					n, sha(got[:n])[:12], len(v2), sha(v2)[:12])
			}
			// ...and so does a new open.
			fileEquals(t, p, v2)
		})
	}
}

func TestPageCacheMountWrite(t *testing.T) {
	m := mount(t, setup{}) // 1 min TTL: only the write can invalidate
	disk, p := m.disk("alpha", "f.bin"), m.path("alpha", "f.bin")
	v1 := randomFile(t, disk, 300000)
	held, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	buf := make([]byte, len(v1))
	if _, err := io.ReadFull(held, buf); err != nil || !bytes.Equal(buf, v1) {
		t.Fatalf("first read: %v", err)
	}
	mmapSHA := func() string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMmap$")
		cmd.Env = append(os.Environ(), "FXPFS_MMAP_FILE="+p)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mmap helper: %v\n%s", err, out)
		}
		_, after, _ := strings.Cut(string(out), "sha256=")
		return strings.Fields(after)[0]
	}
	if got := mmapSHA(); got != sha(v1) {
		t.Fatalf("mmap: sha %s, want %s", got, sha(v1))
	}

	// Rewritten in place through the mount (no O_TRUNC), same size, and
	// the old mtime set again before close (rsync --inplace -t does
	// that): size and mtime in the listing are as before, yet the cached
	// pages must go.
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	v2 := bytes.Repeat([]byte("new content "), len(v1)/12)
	v2 = append(v2, v1[len(v2):]...)
	w, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(v2, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fileEquals(t, disk, v2)
	if st2, err := os.Stat(p); err != nil || st2.Size() != st.Size() || !st2.ModTime().Equal(st.ModTime()) {
		t.Fatalf("after the rewrite: %v, %v; want size %d and mtime %v as before", st2, err, st.Size(), st.ModTime())
	}
	fileEquals(t, p, v2)
	if _, err := held.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, v2) {
		t.Errorf("the descriptor open during the write still reads the old content (err %v)", err)
	}
	if got := mmapSHA(); got != sha(v2) {
		t.Errorf("mmap after the write: sha %s, want %s", got, sha(v2))
	}
	// And the new content is cached in turn. (One more read may fetch it
	// again: the kernel drops its pages once more when it first sees the
	// mtime the upload left, if it had cached the one shown during the
	// write.)
	fileEquals(t, p, v2)
	var n int64
	for try := 0; try < rereadTries; try++ {
		c0 := m.commands("alpha")
		fileEquals(t, p, v2)
		if n = m.commands("alpha") - c0; n == 0 {
			break
		}
	}
	if n != 0 {
		t.Errorf("re-reading the file written through the mount sent %d commands (%d tries)", n, rereadTries)
	}
}

func TestReadWhileMountWrites(t *testing.T) {
	m := mount(t, setup{})
	disk, p := m.disk("alpha", "f.bin"), m.path("alpha", "f.bin")
	v1 := randomFile(t, disk, 100000)
	fileEquals(t, p, v1) // cached
	// Behind the mount's back the server's file changes, keeping its size
	// and mtime: the listing cannot tell, the cached pages are old.
	st, err := os.Stat(disk)
	if err != nil {
		t.Fatal(err)
	}
	v1b := bytes.Repeat([]byte{'o'}, len(v1))
	if err := os.WriteFile(disk, v1b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(disk, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}

	w, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	v2 := bytes.Repeat([]byte{'x'}, 250000)
	if _, err := w.Write(v2[:100000]); err != nil {
		t.Fatal(err)
	}
	// Opened while the mount writes the file: no page from before, read
	// from the server. The server still has the file as it was: the upload
	// goes to a temporary that replaces the file once complete (vfs).
	r, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	during := make([]byte, 100000)
	n, _ := r.ReadAt(during, 0)
	if i := bytes.IndexFunc(during[:n], func(c rune) bool { return c != 'o' }); i >= 0 {
		t.Errorf("read during the write: byte %d of %d is not the server's file (an old cached page?)", i, n)
	}
	if _, err := w.Write(v2[100000:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, v2) {
		t.Errorf("reader opened during the write read %d bytes (sha %s) after it ended, want %d (sha %s)",
			len(got), sha(got)[:12], len(v2), sha(v2)[:12])
	}
	fileEquals(t, p, v2)
}
