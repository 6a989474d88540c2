package e2e

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// TestReadFiles reads a multi-MB random file through the mount with cat and
// with dd at offsets (skip=), on each server, comparing with the disk.
func TestReadFiles(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{}, realftpd.Options{})
	const size = 9<<20 + 12345
	data := map[string][]byte{}
	for _, s := range []*realftpd.Server{alpha, beta} {
		data[s.Name] = putRandom(t, s, "/pub/big file.bin", size)
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}})

	for _, s := range []*realftpd.Server{alpha, beta} {
		t.Run(s.Name+"-"+string(s.Kind), func(t *testing.T) {
			want := data[s.Name]
			p := m.path(s.Name, "pub", "big file.bin")
			sum := m.mustSh(t, `cat "$1" | sha256sum`, p)
			if got, _, _ := strings.Cut(sum, " "); got != shaHex(want) {
				t.Errorf("cat | sha256sum = %s, want %s", got, shaHex(want))
			}
			// Two readers at once, in different places of the file.
			both := m.mustSh(t, `cat "$1" | sha256sum & dd if="$1" bs=1M skip=5 status=none | sha256sum; wait`, p)
			if !strings.Contains(both, shaHex(want)) || !strings.Contains(both, shaHex(want[5<<20:])) {
				t.Errorf("concurrent cat and dd skip=5: %q, want %s and %s", both, shaHex(want), shaHex(want[5<<20:]))
			}
			for _, c := range []struct{ bs, skip, count int }{
				{1 << 20, 3, 2},  // a slice in the middle
				{1 << 20, 0, 1},  // the start
				{1 << 20, 8, 4},  // runs past EOF: the short tail
				{4096, 777, 5},   // odd offset, small blocks
				{1 << 20, 10, 1}, // entirely past EOF: nothing
			} {
				t.Run(fmt.Sprintf("dd_bs%d_skip%d_count%d", c.bs, c.skip, c.count), func(t *testing.T) {
					out := m.mustRun(t, "dd", "if="+p, fmt.Sprintf("bs=%d", c.bs), fmt.Sprintf("skip=%d", c.skip),
						fmt.Sprintf("count=%d", c.count), "status=none")
					lo := min(c.bs*c.skip, len(want))
					hi := min(c.bs*(c.skip+c.count), len(want))
					if !bytes.Equal([]byte(out), want[lo:hi]) {
						t.Errorf("dd read %d bytes (sha %s), want bytes %d..%d (%d bytes, sha %s)",
							len(out), shaHex([]byte(out)), lo, hi, hi-lo, shaHex(want[lo:hi]))
					}
				})
			}
		})
	}
}
