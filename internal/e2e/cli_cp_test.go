package e2e

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// TestCLICopyTree: `fxpfs cp -r -j 8` of a 1,000-file tree between the two
// servers (no mount): exit 0, the summary counts 1,000 files by FXP and
// none relayed, and every file arrives intact.
func TestCLICopyTree(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{FXP: true}, realftpd.Options{FXP: true})
	const n = 1000
	tree := makeTree(t, "/release", n, 10, 1<<10, 4<<10)
	putTree(t, alpha, tree)
	beta.MkdirAll(t, "/mirror")
	servers := []*realftpd.Server{alpha, beta}

	args := []string{"cp", "-r", "-j", "8"}
	for _, s := range servers {
		args = append(args, "--server", s.Name+"="+serverURL(s))
	}
	args = append(args, "alpha:/release", "beta:/mirror/release")
	r := runCmd(t, cmdSpec{env: testEnv(t, servers), timeout: 5 * time.Minute}, fxpfsBin, args...)
	if r.err != nil {
		t.Fatalf("fxpfs cp -r -j 8: %s", r)
	}
	t.Logf("fxpfs cp -r -j 8 of %d files: %v; summary: %s", n, r.elapsed.Round(time.Millisecond),
		regexp.MustCompile(`\d+ files,.*`).FindString(r.stderr))
	summary := map[string]*regexp.Regexp{
		"files":   regexp.MustCompile(`(\d+) files,`),
		"FXP":     regexp.MustCompile(`(\d+) by FXP`),
		"relayed": regexp.MustCompile(`(\d+) relayed`),
	}
	want := map[string]int{"files": n, "FXP": n, "relayed": 0}
	for k, re := range summary {
		m := re.FindStringSubmatch(r.stderr)
		if m == nil {
			t.Errorf("summary has no %q count: %s", k, tail(r.stderr, 1000))
			continue
		}
		if got, _ := strconv.Atoi(m[1]); got != want[k] {
			t.Errorf("summary: %d %s, want %d: %s", got, k, want[k], m[0])
		}
	}
	checkTree(t, beta.Root, tree, "/release", "/mirror/release")
}
