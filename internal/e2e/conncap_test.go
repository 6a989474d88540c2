package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// parallelCats reads n files at once with cat | sha256sum, one line per
// file: "INDEX SHA".
const parallelCats = `
dir=$1 n=$2
for i in $(seq 0 $((n-1))); do
	( sum=$(cat "$dir/f$i.bin" | sha256sum) && echo "$i ${sum%% *}" ) &
done
wait
`

// TestConnectionCap: servers that accept only 2 sessions (fxpfs is
// configured for 4) serve 8 parallel readers through the mount: all finish,
// with the right data, within a deadline.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{MaxClients: 2}, realftpd.Options{MaxClients: 2})
	const n = 8
	want := map[string][]string{}
	for _, s := range []*realftpd.Server{alpha, beta} {
		for i := range n {
			want[s.Name] = append(want[s.Name], shaHex(putRandom(t, s, fmt.Sprintf("/cap/f%d.bin", i), 2<<20+i)))
		}
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}})
	for _, s := range []*realftpd.Server{alpha, beta} {
		t.Run(s.Name+"-"+string(s.Kind), func(t *testing.T) {
			r := runCmd(t, cmdSpec{env: m.env, timeout: 2 * time.Minute}, "bash", "-c", parallelCats, "sh",
				m.path(s.Name, "cap"), fmt.Sprint(n))
			if r.err != nil {
				t.Fatalf("8 parallel cats: %s", r)
			}
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				i, sum, _ := strings.Cut(line, " ")
				got[i] = sum
			}
			for i := range n {
				if g := got[fmt.Sprint(i)]; g != want[s.Name][i] {
					t.Errorf("f%d.bin: sha256 %q, want %q", i, g, want[s.Name][i])
				}
			}
			st := m.stats(t, s.Name)
			t.Logf("8 readers on a 2-session server: %v; connection limit now %d, %d dials", r.elapsed.Round(time.Millisecond),
				st.MaxConns, st.Dials)
		})
	}
}
