package e2e

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// TestCLIOneFileCommands (issue 6, fixed costs of a copy): the control
// connections and commands that `fxpfs sync` and `fxpfs cp` of one file
// from vsftpd (LIST only, in a directory of 40 other files) to pure-ftpd
// (MLSD) send, from start to exit, read from `--debug`. One login per
// server; the source is listed once (its size and MDTM time come from
// that listing: no SIZE, no second MDTM, and no MDTM for its 40
// neighbours); the destination is looked up once (sync: and its parent),
// then PASV, STOR, and the verification SIZE and MFMT. Before: cp listed
// the source twice and asked SIZE and MDTM again, and a SIZE of the
// destination; both asked MDTM for every file of the directory.
func TestCLIOneFileCommands(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{FXP: true}, realftpd.Options{FXP: true})
	servers := []*realftpd.Server{alpha, beta}
	data := putRandom(t, alpha, "/pub/big.bin", 1<<20)
	for i := range 40 {
		putRandom(t, alpha, fmt.Sprintf("/pub/other%02d", i), 100)
	}
	// A time with seconds: exact, whichever way it is listed.
	mt := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := os.Chtimes(alpha.Path("/pub/big.bin"), mt, mt); err != nil {
		t.Fatal(err)
	}
	beta.MkdirAll(t, "/in")

	srcWant := map[string]int{"CWD": 1, "EPSV": 1, "LIST": 1, "MDTM": 1, "PORT": 1, "RETR": 1}
	for _, tc := range []struct {
		name    string
		args    []string
		dst     string
		dstWant map[string]int
	}{
		{"sync", []string{"sync", "alpha:/pub/big.bin", "beta:/in/"}, "/in/big.bin",
			map[string]int{"MLST": 2, "PASV": 1, "STOR": 1, "SIZE": 1, "MFMT": 1}},
		{"cp", []string{"cp", "alpha:/pub/big.bin", "beta:/in/cp.bin"}, "/in/cp.bin",
			map[string]int{"MLST": 1, "PASV": 1, "STOR": 1, "SIZE": 1, "MFMT": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{tc.args[0], "--debug"}, tc.args[1:]...)
			for _, s := range servers {
				args = append(args, "--server", s.Name+"="+serverURL(s))
			}
			r := runCmd(t, cmdSpec{env: testEnv(t, servers), timeout: time.Minute}, fxpfsBin, args...)
			if r.err != nil {
				t.Fatalf("fxpfs %s: %s", tc.name, r)
			}
			got, err := os.ReadFile(beta.Path(tc.dst))
			if err != nil || shaHex(got) != shaHex(data) {
				t.Fatalf("%s: %d bytes, %v; want the source's %d", tc.dst, len(got), err, len(data))
			}
			if st, err := os.Stat(beta.Path(tc.dst)); err != nil || !st.ModTime().Equal(mt) {
				t.Errorf("%s: mtime %v (%v), want the source's %v", tc.dst, st.ModTime(), err, mt)
			}
			cmds, dials := traceOf(r.stderr)
			t.Logf("fxpfs %s: %v; alpha %v, beta %v (after login); dials %v", tc.name,
				r.elapsed.Round(time.Millisecond), cmds["alpha"], cmds["beta"], dials)
			for srv, want := range map[string]map[string]int{"alpha": srcWant, "beta": tc.dstWant} {
				if !maps.Equal(cmds[srv], want) || dials[srv] != 1 {
					t.Errorf("%s: %v after login on %d connections, want %v on 1", srv, cmds[srv], dials[srv], want)
				}
			}
		})
	}
}

var (
	traceCmd  = regexp.MustCompile(`msg="ftp > (\S+)[^"]*" server=(\S+)`)
	traceDial = regexp.MustCompile(`msg="ftp connected" server=(\S+)`)
)

// traceOf counts, per server, the commands a --debug log shows sent after
// the logins (by verb), and the control connections opened.
func traceOf(log string) (cmds map[string]map[string]int, dials map[string]int) {
	cmds, dials = map[string]map[string]int{}, map[string]int{}
	login := map[string]bool{"USER": true, "PASS": true, "FEAT": true, "TYPE": true, "OPTS": true}
	for _, m := range traceCmd.FindAllStringSubmatch(log, -1) {
		if login[m[1]] {
			continue
		}
		if cmds[m[2]] == nil {
			cmds[m[2]] = map[string]int{}
		}
		cmds[m[2]][m[1]]++
	}
	for _, m := range traceDial.FindAllStringSubmatch(log, -1) {
		dials[m[1]]++
	}
	return cmds, dials
}
