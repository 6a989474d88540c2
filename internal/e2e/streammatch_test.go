package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/fxpfs/fxpfs/fxpcopy"
	"github.com/fxpfs/fxpfs/internal/ctl"
	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// matchMin is the mount's stream-matching threshold (--match-min: fixed,
// so that the test knows which files go by FXP; by default it is measured).
const matchMin = 1 << 20

// uploadedBy is the data-channel bytes the client sent to server name
// between two snapshots (STOR/APPE: uploads).
func uploadedBy(t *testing.T, before, after ctl.Snapshot, name string) int64 {
	t.Helper()
	return serverStats(t, after, name).BytesOut - serverStats(t, before, name).BytesOut
}

// matchTree is a tree of 120 files in 6 directories, with spaces and UTF-8
// in the names: 90 small (0-200 KiB, always uploaded), 12 between a block
// and the threshold (300-900 KiB, uploaded), 18 above it (1-4 MiB, FXP).
func matchTree(t *testing.T) (files []fileSpec, large int, smallBytes int64) {
	t.Helper()
	sizes := randomBytes(t, 120)
	for i := 0; i < 120; i++ {
		var size int
		switch {
		case i < 90:
			size = int(sizes[i]) * 800 // 0-200 KiB
		case i < 102:
			size = 300<<10 + int(sizes[i])*2400 // 300-900 KiB
		default:
			size = 1<<20 + int(sizes[i])*12000 + 1 // 1-4 MiB
			large++
		}
		if size < matchMin {
			smallBytes += int64(size)
		}
		files = append(files, fileSpec{
			rel:  fmt.Sprintf("/tree/dir %d – ü/fichier %03d ñ.bin", i%6, i),
			data: randomBytes(t, size),
			perm: 0o644,
		})
	}
	return files, large, smallBytes
}

// TestStreamMatching (issue 6 §1): programs that copy between two servers
// by reading and writing through the mount (rsync, gio copy, Python's
// shutil.copyfile, dd) get their files above the threshold copied by FXP:
// the same bytes on the destination, none of them uploaded by this host,
// records with the origin "matched write stream"; a second rsync transfers
// nothing. Programs whose written bytes are not a copy (sed, a source
// changed mid-way, writes at random offsets, a file written twice) get
// exactly what they wrote.
func TestStreamMatching(t *testing.T) {
	t.Parallel()
	needTools(t, "rsync", "python3", "dd", "sed", "gio")
	alpha, beta := startPair(t, realftpd.Options{FXP: true}, realftpd.Options{FXP: true})
	files, large, smallBytes := matchTree(t)
	putTree(t, alpha, files)
	single := putRandom(t, alpha, "/single/big.bin", 5<<20+77)
	setTimes(t, alpha.Path("/single/big.bin"), oldTime) // a change shows in MDTM
	var text bytes.Buffer
	for i := 0; text.Len() < 3<<20; i++ {
		fmt.Fprintf(&text, "line %07d: the quick brown fox jumps over the lazy dog\n", i)
	}
	alpha.WriteFile(t, "/single/text.txt", text.Bytes())
	beta.MkdirAll(t, "/in")
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}, args: []string{"--match-min", strconv.Itoa(matchMin)}})
	a, b := func(p string) string { return m.path("alpha", p) }, func(p string) string { return m.path("beta", p) }

	t.Run("rsync", func(t *testing.T) {
		before := m.status(t)
		m.mustRun(t, "rsync", "-a", a("tree")+"/", b("tree")+"/")
		after := m.status(t)
		checkTree(t, beta.Root, files, "/tree", "/tree")
		if d := after.Counters.MatchedFiles - before.Counters.MatchedFiles; d != int64(large) {
			t.Errorf("matched FXP copies: %d, want %d (the files of %d bytes and more)", d, large, matchMin)
		}
		if up := uploadedBy(t, before, after, "beta"); up != smallBytes {
			t.Errorf("uploaded %d bytes, want %d: the files below the threshold, nothing of those above", up, smallBytes)
		}
		for _, r := range newRecords(before, after) {
			if r.Origin != fxpcopy.OriginMatchedStream || r.Err != "" || (r.Mode != fxpcopy.ModeFXP && r.Mode != fxpcopy.ModeFXPRev) {
				t.Errorf("record %s -> %s: mode %q origin %q err %q, want a matched FXP", r.Src, r.Dst, r.Mode, r.Origin, r.Err)
			}
		}
		out := m.mustRun(t, "rsync", "-a", "-i", a("tree")+"/", b("tree")+"/")
		if strings.Contains(out, ">f") {
			t.Errorf("a second rsync -a transferred files:\n%s", out)
		}
	})

	copiers := []struct {
		name string
		run  func(t *testing.T, dst string)
	}{
		{"gio_copy", func(t *testing.T, dst string) {
			if r := m.gio(t, "copy", a("single/big.bin"), dst); r.err != nil {
				t.Fatalf("gio copy: %s", r)
			}
		}},
		{"python_shutil_copyfile", func(t *testing.T, dst string) {
			m.mustRun(t, "python3", "-c", "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])", a("single/big.bin"), dst)
		}},
		{"dd_bs_64k", func(t *testing.T, dst string) {
			m.mustRun(t, "dd", "if="+a("single/big.bin"), "of="+dst, "bs=64k", "status=none")
		}},
	}
	for _, c := range copiers {
		t.Run(c.name, func(t *testing.T) {
			dst := b("in/" + c.name + ".bin")
			before := m.status(t)
			c.run(t, dst)
			after := m.status(t)
			if got := readDisk(t, beta, "/in/"+c.name+".bin"); shaHex(got) != shaHex(single) {
				t.Fatalf("destination: %d bytes sha %s, want %d bytes sha %s", len(got), shaHex(got), len(single), shaHex(single))
			}
			if up := uploadedBy(t, before, after, "beta"); up != 0 {
				t.Errorf("uploaded %d bytes, want 0", up)
			}
			if d := after.Counters.MatchedFiles - before.Counters.MatchedFiles; d != 1 {
				t.Errorf("matched FXP copies: %d, want 1", d)
			}
		})
	}

	// Negative cases: the destination holds exactly what was written.
	negative := []struct {
		name string
		run  func(t *testing.T, dst string) []byte // returns what was written
	}{
		{"sed", func(t *testing.T, dst string) []byte {
			// One line changed, 1.3 MB in: the first blocks match, and the
			// FXP started for them is given up.
			m.mustSh(t, `sed '20000s/fox jumps/cat naps/' "$1" > "$2"`, a("single/text.txt"), dst)
			lines := bytes.SplitAfter(text.Bytes(), []byte("\n"))
			lines[19999] = bytes.Replace(lines[19999], []byte("fox jumps"), []byte("cat naps"), 1)
			return bytes.Join(lines, nil)
		}},
		{"source_changed_mid_way", func(t *testing.T, dst string) []byte {
			return copyThroughMount(t, a("single/big.bin"), dst, func(off int64) {
				if off == 2<<20 { // same size, new bytes, behind the mount's back
					putRandom(t, alpha, "/single/big.bin", len(single))
				}
			})
		}},
		{"random_offsets", func(t *testing.T, dst string) []byte {
			data, err := os.ReadFile(a("single/text.txt"))
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Create(dst)
			if err != nil {
				t.Fatal(err)
			}
			for _, off := range []int{0, 2 << 20, 512 << 10, 1 << 20, 1536 << 10, 2560 << 10} {
				if _, err := f.WriteAt(data[off:min(off+512<<10, len(data))], int64(off)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.WriteAt(data[3<<20:], 3<<20); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			return data
		}},
		{"read_once_written_twice", func(t *testing.T, dst string) []byte {
			data, err := os.ReadFile(a("single/text.txt"))
			if err != nil {
				t.Fatal(err)
			}
			twice := append(bytes.Clone(data), data...)
			if err := os.WriteFile(dst, twice, 0o644); err != nil {
				t.Fatal(err)
			}
			return twice
		}},
	}
	for _, c := range negative {
		t.Run(c.name, func(t *testing.T) {
			before := m.status(t)
			want := c.run(t, b("in/"+c.name))
			after := m.status(t)
			if got := readDisk(t, beta, "/in/"+c.name); !bytes.Equal(got, want) {
				t.Fatalf("destination: %d bytes sha %s, want what was written: %d bytes sha %s", len(got), shaHex(got), len(want), shaHex(want))
			}
			if d := after.Counters.MatchedFiles - before.Counters.MatchedFiles; d != 0 {
				t.Errorf("%d matched FXP copies counted for bytes that are no copy", d)
			}
			if l := tempLeftovers(t, beta.Path("/in")); len(l) != 0 {
				t.Errorf("temporaries left: %v", l)
			}
		})
	}
}

// copyThroughMount copies src to dst by read and write in 64 KiB pieces,
// calling between(off) before reading at each offset; it returns what it
// wrote.
func copyThroughMount(t *testing.T, src, dst string, between func(off int64)) []byte {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	var written []byte
	buf := make([]byte, 64<<10)
	for {
		between(int64(len(written)))
		n, err := in.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				t.Fatal(werr)
			}
			written = append(written, buf[:n]...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return written
}
