package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// Reads through the kernel page cache, on vsftpd (LIST, minute mtimes) and
// pure-ftpd (MLSD), through a kernel mount of the real binary.

// ttlConfig is a config file for servers with the given listing TTL.
func ttlConfig(ttl string, servers ...*realftpd.Server) string {
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "[servers.%s]\nurl = %q\nlisting_ttl = %q\n\n", s.Name, serverURL(s), ttl)
	}
	return b.String()
}

// mmapSHA maps p read-only and hashes it (the mount is another process:
// the page faults are served by it).
func mmapSHA(t *testing.T, p string) string {
	t.Helper()
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
		t.Fatalf("mmap %s: %v", p, err)
	}
	defer syscall.Munmap(b)
	return shaHex(b)
}

// ddSHA reads p with dd bs=BS and returns the sha256 of what it read.
func (m *mount) ddSHA(t *testing.T, p string, bs string) string {
	t.Helper()
	out := m.mustSh(t, `dd if="$1" bs="$2" status=none | sha256sum`, p, bs)
	sum, _, _ := strings.Cut(out, " ")
	return sum
}

func TestPageCacheReads(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{}, realftpd.Options{})
	const size = 5<<20 + 4321
	data := map[string][]byte{}
	for _, s := range []*realftpd.Server{alpha, beta} {
		data[s.Name] = putRandom(t, s, "/pub/f.bin", size)
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}, config: ttlConfig("2s", alpha, beta)})

	for _, s := range []*realftpd.Server{alpha, beta} {
		t.Run(s.Name+"-"+string(s.Kind), func(t *testing.T) {
			p := m.path(s.Name, "pub", "f.bin")
			v1 := data[s.Name]
			for _, bs := range []string{"4k", "1M"} {
				if got := m.ddSHA(t, p, bs); got != shaHex(v1) {
					t.Fatalf("dd bs=%s: sha %s, want %s", bs, got, shaHex(v1))
				}
			}
			// Read again at once (within the TTL): from the page cache, not
			// one FTP command. (The kernel may reclaim pages at any time,
			// this machine's DAMON within seconds: a try that finds some
			// gone is repeated.)
			var cmds int64
			for try := 0; try < 3; try++ {
				c0 := m.stats(t, s.Name).Commands
				if got := m.ddSHA(t, p, "32k"); got != shaHex(v1) {
					t.Fatal("third read: wrong data")
				}
				if got := mmapSHA(t, p); got != shaHex(v1) {
					t.Fatal("mmap: wrong data")
				}
				if cmds = m.stats(t, s.Name).Commands - c0; cmds == 0 {
					break
				}
			}
			if cmds != 0 {
				t.Errorf("re-reading the unchanged file (dd, mmap) sent %d FTP commands, want 0 (3 tries)", cmds)
			}

			// Changed on the server: after the TTL the listing shows it, and
			// every reader gets the new content (a descriptor open all along too).
			held, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			if b, err := io.ReadAll(held); err != nil || !bytes.Equal(b, v1) {
				t.Fatalf("held descriptor: %v", err)
			}
			v2 := putRandom(t, s, "/pub/f.bin", size-1000) // LIST gives minutes: the size says it changed
			deadline := time.Now().Add(15 * time.Second)
			for m.ddSHA(t, p, "1M") != shaHex(v2) {
				if time.Now().After(deadline) {
					t.Fatal("the server's change never showed through the mount")
				}
				time.Sleep(200 * time.Millisecond)
			}
			got := make([]byte, size)
			n, err := held.ReadAt(got, 0)
			if err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:n], v2) {
				t.Errorf("the descriptor open across the change read %d bytes (sha %s), want the new %d", n, shaHex(got[:n])[:12], len(v2))
			}
			if got := mmapSHA(t, p); got != shaHex(v2) {
				t.Error("mmap after the server's change: old data")
			}

			// Rewritten through the mount: the cached pages go at once (no TTL).
			v3 := randomBytes(t, size-1000)
			if err := os.WriteFile(p, v3, 0o644); err != nil {
				t.Fatal(err)
			}
			if got := m.ddSHA(t, p, "4k"); got != shaHex(v3) {
				t.Errorf("read after writing through the mount: sha %s, want %s", got, shaHex(v3))
			}
			if got := mmapSHA(t, p); got != shaHex(v3) {
				t.Error("mmap after writing through the mount: old data")
			}
			if n, err := held.ReadAt(got, 0); (err != nil && err != io.EOF) || !bytes.Equal(got[:n], v3) {
				t.Errorf("the descriptor open across the write read %d bytes (%v), want the new content", n, err)
			}
			if got := readDisk(t, s, "/pub/f.bin"); !bytes.Equal(got, v3) {
				t.Error("the server's file differs from what was written")
			}
		})
	}
}

func TestDirectIOOption(t *testing.T) {
	t.Parallel()
	alpha := startAlpha(t, realftpd.Options{})
	v := putRandom(t, alpha, "/f.bin", 3<<20)
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha}, args: []string{"--direct-io"}})
	p := m.path("alpha", "f.bin")
	if got := m.ddSHA(t, p, "4k"); got != shaHex(v) {
		t.Fatal("dd bs=4k with --direct-io: wrong data")
	}
	c0 := m.stats(t, "alpha").Commands
	if got := m.ddSHA(t, p, "1M"); got != shaHex(v) {
		t.Fatal("second read with --direct-io: wrong data")
	}
	if n := m.stats(t, "alpha").Commands - c0; n == 0 {
		t.Error("with --direct-io a second read sent no command: it came from a cache")
	}
	if got := mmapSHA(t, p); got != shaHex(v) {
		t.Error("mmap with --direct-io: wrong data")
	}
}
