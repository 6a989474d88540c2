package e2e

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// TestFXPLargerThan4GiB copies a 4200 MiB file (sparse on the source's
// disk, with random bytes at the start, around the 4 GiB mark and at the
// end) with cp through the mount. The kernel splits the copy into several
// copy_file_range calls (at most 0xfffff000 bytes each); the servers move
// the data between themselves: the destination's size and the sampled bytes
// match, and the data never crosses this host.
func TestFXPLargerThan4GiB(t *testing.T) {
	t.Parallel()
	const size = 4200 << 20
	alpha, beta := startPair(t, realftpd.Options{FXP: true}, realftpd.Options{FXP: true})
	samples := []int64{0, 4<<30 - 32<<10, size - 64<<10}
	want := map[int64][]byte{}
	alpha.WriteFile(t, "/huge.bin", nil)
	f, err := os.OpenFile(alpha.Path("/huge.bin"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, off := range samples {
		want[off] = randomBytes(t, 64<<10)
		if _, err := f.WriteAt(want[off], off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}})

	before := m.status(t)
	r := runCmd(t, cmdSpec{env: m.env, timeout: 6 * time.Minute}, "cp", m.path("alpha", "huge.bin"), m.path("beta", "huge.bin"))
	if r.err != nil {
		t.Fatalf("cp of a %d-byte file: %s", int64(size), r)
	}
	after := m.status(t)
	t.Logf("cp of 4200 MiB server-to-server: %v", r.elapsed.Round(time.Millisecond))

	g, err := os.Open(beta.Path("/huge.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if fi, err := g.Stat(); err != nil || fi.Size() != size {
		t.Fatalf("destination on disk: %v, size %d, want %d", err, fi.Size(), int64(size))
	}
	for _, off := range samples {
		got := make([]byte, len(want[off]))
		if _, err := g.ReadAt(got, off); err != nil || !bytes.Equal(got, want[off]) {
			t.Errorf("destination bytes at %d: %v, equal %v", off, err, bytes.Equal(got, want[off]))
		}
	}
	// Between the samples the source is a hole: the destination must be zeros there too.
	zeros := make([]byte, 1<<20)
	for _, off := range []int64{1 << 30, 4<<30 + 1<<20} {
		got := make([]byte, len(zeros))
		if _, err := g.ReadAt(got, off); err != nil || !bytes.Equal(got, zeros) {
			t.Errorf("destination at %d: not the source's zeros (%v)", off, err)
		}
	}
	if got := m.mustRun(t, "stat", "-c", "%s", m.path("beta", "huge.bin")); got != strconv.Itoa(size)+"\n" {
		t.Errorf("size through the mount %q, want %d", got, int64(size))
	}
	checkAllFXP(t, before, after, 1)
}
