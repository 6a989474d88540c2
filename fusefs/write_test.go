package fusefs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCopyInStreams(t *testing.T) {
	m := mount(t, setup{})
	local := filepath.Join(t.TempDir(), "notes.bin")
	data := randomFile(t, local, 5<<20+3)
	if err := os.Mkdir(m.disk("alpha", "incoming"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "cp", local, m.path("alpha", "incoming/"))
	fileEquals(t, m.disk("alpha", "incoming/notes.bin"), data)
	if n := m.root.vfs.Spools(); n != 0 {
		t.Errorf("a sequential copy-in used %d temp files, want 0", n)
	}
	// The cache shows the new size at once.
	st, err := os.Stat(m.path("alpha", "incoming/notes.bin"))
	if err != nil || st.Size() != int64(len(data)) {
		t.Fatalf("stat after cp: %v, %v", st, err)
	}
}

func TestWriteSequentialFromGo(t *testing.T) {
	m := mount(t, setup{})
	p := m.path("alpha", "stream.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 8192) // 128 KiB
	for i := 0; i < 24; i++ {
		chunk[0] = byte(i)
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
		want.Write(chunk)
	}
	// While open, stat shows what has been written.
	if st, err := os.Stat(p); err != nil || st.Size() != int64(want.Len()) {
		t.Fatalf("stat while writing: %v %v", st, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fileEquals(t, m.disk("alpha", "stream.bin"), want.Bytes())
	if n := m.root.vfs.Spools(); n != 0 {
		t.Errorf("sequential write used %d temp files", n)
	}
	if ents, _ := os.ReadDir(m.root.opts.TempDir); len(ents) != 0 {
		t.Errorf("temp dir not empty: %v", ents)
	}
}

func TestModifyExistingFiles(t *testing.T) {
	m := mount(t, setup{})
	orig := []byte("hello world, this is the original content\n")
	tests := []struct {
		name  string
		cmd   []string // run with the mount path appended via sh -c "$1"
		want  []byte
		spool bool // whether a temp file is expected
	}{
		{"append", []string{"sh", "-c", `printf 'more\n' >> "$0"`}, append(append([]byte{}, orig...), "more\n"...), false},
		{"overwrite middle (O_RDWR-like)", []string{"sh", "-c", `printf 'HELLO' | dd of="$0" bs=1 seek=0 conv=notrunc status=none`}, append([]byte("HELLO"), orig[5:]...), true},
		{"truncate shorter", []string{"truncate", "-s", "5"}, orig[:5], true},
		{"truncate to zero", []string{"truncate", "-s", "0"}, []byte{}, false},
		{"extend", []string{"truncate", "-s", "50"}, append(append([]byte{}, orig...), make([]byte, 50-len(orig))...), true},
		{"replace by redirect", []string{"sh", "-c", `printf 'new' > "$0"`}, []byte("new"), false},
		{"dd seek past end", []string{"sh", "-c", `printf 'X' | dd of="$0" bs=1 seek=60 conv=notrunc status=none`}, append(append(append([]byte{}, orig...), make([]byte, 60-len(orig))...), 'X'), true},
	}
	for i := range tests { // before the mount lists the directory
		if err := os.WriteFile(m.disk("alpha", "file"+string(rune('a'+i))), orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "file" + string(rune('a'+i))
			p := m.path("alpha", name)
			spools := m.root.vfs.Spools()
			mustRun(t, tc.cmd[0], append(tc.cmd[1:], p)...)
			fileEquals(t, m.disk("alpha", name), tc.want)
			fileEquals(t, p, tc.want)
			if used := m.root.vfs.Spools() > spools; used != tc.spool {
				t.Errorf("temp file used = %v, want %v", used, tc.spool)
			}
		})
	}
}

// TestFailedUploadFailsClose: an upload the server refuses fails close(2),
// saying why (the directory became a file: ENOTDIR).
func TestFailedUploadFailsClose(t *testing.T) {
	m := mount(t, setup{})
	if err := os.Mkdir(m.disk("alpha", "gone"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := m.path("alpha", "gone")
	if _, err := os.ReadDir(dir); err != nil { // cached as a directory
		t.Fatal(err)
	}
	// Behind the mount's back the directory becomes a file: STOR into it fails.
	if err := os.Remove(m.disk("alpha", "gone")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.disk("alpha", "gone"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "new.txt"))
	if err != nil {
		t.Fatal(err)
	}
	_, werr := f.Write([]byte("some data"))
	cerr := f.Close()
	if !errors.Is(werr, syscall.ENOTDIR) && !errors.Is(cerr, syscall.ENOTDIR) {
		t.Fatalf("close after a refused upload = %v (write: %v), want ENOTDIR", cerr, werr)
	}
	// The mount keeps working.
	if err := os.WriteFile(m.path("alpha", "ok.txt"), []byte("fine"), 0o644); err != nil {
		t.Fatal(err)
	}
	fileEquals(t, m.disk("alpha", "ok.txt"), []byte("fine"))
}

func TestUploadCutOffLeavesNoFile(t *testing.T) {
	m := mount(t, setup{})
	p := m.path("alpha", "cut.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	m.servers["alpha"].Close() // the server dies mid-upload
	chunk := make([]byte, 1<<20)
	var werr error
	for i := 0; i < 8 && werr == nil; i++ {
		_, werr = f.Write(chunk)
	}
	cerr := f.Close()
	if !errors.Is(cerr, syscall.EIO) {
		t.Fatalf("close = %v (last write: %v), want EIO", cerr, werr)
	}
	// No complete-looking file: the partial one could not even be removed
	// (server gone), but the mount does not show it.
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		deadline := time.Now().Add(5 * time.Second)
		for err == nil && time.Now().Before(deadline) {
			_, err = os.Stat(p)
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("stat after failed upload: %v, want ENOENT", err)
		}
	}
}

func TestBadNames(t *testing.T) {
	m := mount(t, setup{})
	dir := m.path("alpha", "")
	if _, err := os.ReadDir(dir); err != nil {
		t.Fatal(err)
	}
	before := m.commands("alpha")
	for _, c := range []struct {
		name string
		want syscall.Errno
	}{
		{"a\nb", syscall.EINVAL},
		{"cr\rname", syscall.EINVAL},
		{strings.Repeat("x", 256), syscall.ENAMETOOLONG},
		{strings.Repeat("y", 300), syscall.ENAMETOOLONG},
	} {
		if err := os.WriteFile(filepath.Join(dir, c.name), []byte("x"), 0o644); !errors.Is(err, c.want) {
			t.Errorf("create %q: %v, want %v", c.name, err, c.want)
		}
		if err := os.Mkdir(filepath.Join(dir, c.name), 0o755); !errors.Is(err, c.want) {
			t.Errorf("mkdir %q: %v, want %v", c.name, err, c.want)
		}
	}
	if n := m.commands("alpha") - before; n != 0 {
		t.Errorf("bad names sent %d FTP commands", n)
	}
}

func TestReadOnlyMount(t *testing.T) {
	m := mount(t, setup{opts: Options{ReadOnly: true}})
	randomFile(t, m.disk("alpha", "f"), 10)
	if err := os.WriteFile(m.path("alpha", "new"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("create: %v, want EROFS", err)
	}
	if err := os.Remove(m.path("alpha", "f")); !errors.Is(err, syscall.EROFS) {
		t.Errorf("unlink: %v, want EROFS", err)
	}
	if _, err := os.ReadFile(m.path("alpha", "f")); err != nil {
		t.Errorf("read on a read-only mount: %v", err)
	}
}

func TestUnlinkWhileWriting(t *testing.T) {
	m := mount(t, setup{})
	p := m.path("alpha", "doomed")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("some")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(" more")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Stat(); err != nil {
		t.Fatalf("fstat of an unlinked open file: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.disk("alpha", "doomed")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("unlinked file came back on the server: %v", err)
	}
}
