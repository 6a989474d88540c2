package fusefs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/cache"
	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
	"github.com/fxpfs/fxpfs/internal/testutil"
)

// needRoot skips a test that needs root (in CI: fails), saying why.
func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("test needs root in CI: %s", why)
	}
	t.Skipf("needs root: %s", why)
}

// TestKernelReadAheadRaised reads files whole through the mount with the
// kernel's read-ahead for the mount raised, as users and distributions
// tune it: every read finishes quickly, with the right bytes, from one
// RETR. (With read_ahead_kb=4096 the read-ahead stream used to restart
// its RETR over and over at 99% CPU, the kernel's concurrent requests
// lying further apart than its window.)
func TestKernelReadAheadRaised(t *testing.T) {
	needRoot(t, "writes /sys/class/bdi/<mount>/read_ahead_kb")
	m := mount(t, setup{})
	const size = 48<<20 + 4321
	const bound = 60 * time.Second // reading 48 MiB on loopback takes well under a second
	was, err := ReadAheadKB(m.mnt)
	if err != nil {
		t.Fatal(err)
	}
	srv := m.servers["alpha"]
	type tcase struct {
		kb     int
		reader []string
		file   string
		data   []byte
	}
	var cases []tcase
	for _, kb := range []int{1024, 4096, 16384} {
		for _, reader := range [][]string{{"dd", "bs=1M"}, {"dd", "bs=4k"}, {"cat"}, {"two dd at once", "bs=1M"}} {
			cases = append(cases, tcase{kb: kb, reader: reader, file: fmt.Sprintf("f%d.bin", len(cases))})
		}
	}
	// A file per case (nothing in the page cache), all on the server
	// before the mount lists the folder.
	for i := range cases {
		cases[i].data = randomFile(t, m.disk("alpha", cases[i].file), size)
	}
	for _, tc := range cases {
		reader, data, p := tc.reader, tc.data, m.path("alpha", tc.file)
		t.Run(fmt.Sprintf("read_ahead_kb=%d/%s", tc.kb, strings.Join(reader, " ")), func(t *testing.T) {
			if err := SetReadAheadKB(m.mnt, tc.kb); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = SetReadAheadKB(m.mnt, was) })
			want := fmt.Sprintf("%d bytes", size)
			ctx, cancel := context.WithTimeout(context.Background(), bound)
			defer cancel()
			retrs, in := srv.Retrs(), m.clients["alpha"].Stats().BytesIn
			start := time.Now()
			var cmds []*exec.Cmd
			switch reader[0] {
			case "dd":
				cmds = append(cmds, exec.CommandContext(ctx, "dd", "if="+p, "of=/dev/null", reader[1]))
			case "cat":
				cmds = append(cmds, exec.CommandContext(ctx, "sh", "-c", `cat "$1" | wc -c`, "sh", p))
			default: // two readers of the same file (two handles, one page cache)
				for range 2 {
					cmds = append(cmds, exec.CommandContext(ctx, "dd", "if="+p, "of=/dev/null", reader[1]))
				}
			}
			outs := make([]chan string, len(cmds))
			for i, c := range cmds {
				outs[i] = make(chan string, 1)
				go func() {
					out, err := c.CombinedOutput()
					if err != nil {
						out = append(out, fmt.Sprintf(" (%v)", err)...)
					}
					outs[i] <- string(out)
				}()
			}
			for i := range cmds {
				out := <-outs[i]
				if !strings.Contains(out, want) && strings.TrimSpace(out) != fmt.Sprint(size) {
					t.Errorf("%s: %s; want %s", reader[0], strings.TrimSpace(out), want)
				}
			}
			took := time.Since(start)
			if ctx.Err() != nil {
				t.Fatalf("reading %d MiB took more than %v: the read-ahead stalls", size>>20, bound)
			}
			n := srv.Retrs() - retrs
			t.Logf("%v, %d RETRs, %d bytes downloaded", took.Round(time.Millisecond), n, m.clients["alpha"].Stats().BytesIn-in)
			// One stream per handle, restarted a few times at most: on a
			// loaded machine go-fuse may deliver the kernel's read-ahead
			// requests tens of ms apart, and a request far ahead of the
			// stream then restarts it once before the rest arrive (the
			// stall this guards against restarted it hundreds of times).
			// Two handles share the page cache, so each one's requests
			// also skip what the other's fetched.
			limit := int64(4)
			if len(cmds) > 1 {
				limit = 10
			}
			if n > limit {
				t.Errorf("%d RETRs for %d readers of one file, want at most %d", n, len(cmds), limit)
			}
			// The page cache holds what was read: the file is intact.
			if got := strings.Fields(mustRun(t, "sha256sum", p))[0]; got != sha(data) {
				t.Errorf("sha256 through the mount %s, want %s", got, sha(data))
			}
		})
	}
}

// TestMountSetsReadAhead: Mount gives the kernel's read-ahead for the
// mount the value asked for (DefaultReadAheadKB unless told otherwise), or
// leaves the kernel's (128 KiB for FUSE) with -1.
func TestMountSetsReadAhead(t *testing.T) {
	needRoot(t, "only root may write /sys/class/bdi/<mount>/read_ahead_kb")
	testutil.SkipIfNoFUSE(t)
	for _, tc := range []struct{ opt, want int }{{0, DefaultReadAheadKB}, {2048, 2048}, {-1, 128}} {
		t.Run(fmt.Sprint(tc.opt), func(t *testing.T) {
			srv := ftptest.Start(t)
			cl, err := ftpclient.New(srv.Config("alpha"), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cl.Close() })
			root, err := NewRoot([]*ftpclient.Client{cl}, cache.New(0), nil, Options{ReadAheadKB: tc.opt, TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			mnt := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			fsrv, err := Mount(ctx, mnt, root)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cancel()
				fsrv.Wait()
				root.Close()
			})
			if got, err := ReadAheadKB(mnt); err != nil || got != tc.want {
				t.Errorf("read_ahead_kb = %d (%v), want %d", got, err, tc.want)
			}
		})
	}
}
