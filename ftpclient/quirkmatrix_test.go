package ftpclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// The quirk matrix: every operation of a mount (browse, read, write a new
// file, overwrite, replace, rename, delete, mkdir/rmdir, set mtime) against
// a server with one quirk each (ftptest.Quirks). Each operation either works
// or fails with the error a row names — within its bound, never hanging,
// never with a wrong result.

// Fixture: the files every row starts with.
var (
	qmOld    = time.Date(2023, 3, 4, 5, 6, 7, 0, time.UTC) // LIST shows the day
	qmBody   = []byte("hello, quirky world\n")
	qmSetTo  = time.Date(2022, 7, 8, 9, 10, 11, 0, time.UTC)
	qmRecent = time.Now().Add(-time.Hour).Truncate(time.Second).UTC() // LIST shows the minute
)

func qmFixture(t *testing.T, root string) {
	t.Helper()
	for name, body := range map[string][]byte{
		"f.txt": qmBody, "recent.txt": []byte("recent"), ".hidden": []byte("h"),
		"dir/inner.txt": []byte("inner"), "dir/old.txt": []byte("old"), "ro.txt": []byte("read-only"),
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, qmOld, qmOld); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(filepath.Join(root, "recent.txt"), qmRecent, qmRecent); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "ro.txt"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f.txt", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
}

// qmOps are the operations of a row, in the order they run.
var qmOps = []string{
	"list", "list-hidden", "stat", "stat-missing", "read", "read-at", "read-missing",
	"write", "overwrite", "append", "replace", "rename", "rename-over", "delete", "delete-ro", "write-ro",
	"mkdir", "mkdir-exists", "rmdir", "rmdir-notempty", "rmdir-missing", "setmtime", "mtime",
}

// qmRow is one server quirk and what differs from "everything works".
type qmRow struct {
	name string
	q    ftptest.Quirks
	cfg  func(*ftpclient.ServerConfig)
	want map[string]error // an operation's expected error (a sentinel); unlisted: nil
	// mtime is the precision the listing's times have: time.Second (MLSD,
	// or LIST + MDTM), time.Minute, or 24h (LIST alone).
	mtime time.Duration
	// noLinks: the listing cannot show symlinks (DOS, NLST): the link to
	// f.txt shows as a file.
	noLinks bool
}

// qmDefaultFail are the operations meant to fail, and how.
var qmDefaultFail = map[string]error{
	"stat-missing": ftpclient.ErrNotFound, "read-missing": ftpclient.ErrNotFound,
	"delete-ro": ftpclient.ErrPermission, "write-ro": ftpclient.ErrPermission,
	"mkdir-exists": ftpclient.ErrExists, "rmdir-notempty": ftpclient.ErrNotEmpty,
	"rmdir-missing": ftpclient.ErrNotFound,
}

// errWrong marks an operation known to give a wrong result.
var errWrong = errors.New("wrong result")

// errAny marks an operation whose failure is expected but not classified
// more precisely (a server that cannot tell).
var errAny = errors.New("any error")

func qmRows() []qmRow {
	unsupportedMtime := map[string]error{"setmtime": ftpclient.ErrUnsupported, "mtime": ftpclient.ErrUnsupported}
	return []qmRow{
		{name: "plain"},
		{name: "no FEAT", q: ftptest.Quirks{NoFEAT: true}, mtime: 24 * time.Hour, want: unsupportedMtime},
		{name: "odd FEAT", q: ftptest.Quirks{OddFEAT: true}},
		{name: "no MLSD", q: ftptest.Quirks{NoMLSD: true}},
		{name: "no MLST", q: ftptest.Quirks{NoMLST: true}},
		{name: "MLSD proftpd facts", q: ftptest.Quirks{MLSDStyle: ftptest.MLSDProFTPD, MLSDCdir: true}},
		{name: "MLSD upper-case facts", q: ftptest.Quirks{MLSDStyle: ftptest.MLSDUpper, MLSDFraction: true}},
		{name: "LIST unix, no group", q: ftptest.Quirks{NoMLSD: true, ListStyle: ftptest.ListUnixNoGroup, ListTotal: true}},
		{name: "LIST unix, numeric ids", q: ftptest.Quirks{NoMLSD: true, ListStyle: ftptest.ListUnixNumeric}},
		{name: "LIST DOS", q: ftptest.Quirks{NoMLSD: true, ListStyle: ftptest.ListDOS}, noLinks: true},
		{name: "LIST with devices and oddities", q: ftptest.Quirks{NoMLSD: true, ListExtra: []string{
			"crw-rw-rw-    1 root     root       1,   3 Jan  5 12:00 null",
			"brw-rw----    1 root     disk       8,   0 Mar  1  2020 sda",
			"prw-r--r--    1 ftp      ftp             0 Jan  5 12:00 fifo",
			"srwxrwxrwx    1 ftp      ftp             0 Jan  5 12:00 socket",
			"this line is not a listing line",
			"",
		}}},
		{name: "LIST German months", q: ftptest.Quirks{NoMLSD: true, ListStyle: ftptest.ListGerman, NoMDTM: true},
			mtime: 24 * time.Hour, want: map[string]error{"setmtime": nil}},
		{name: "LIST without MDTM", q: ftptest.Quirks{NoMLSD: true, NoMDTM: true}, mtime: 24 * time.Hour},
		{name: "LIST ignores -a", q: ftptest.Quirks{NoMLSD: true, DashA: ftptest.DashAIgnored},
			want: map[string]error{"list-hidden": ftpclient.ErrNotFound}},
		{name: "LIST -a as a path", q: ftptest.Quirks{NoMLSD: true, DashA: ftptest.DashAAsPath},
			want: map[string]error{"list-hidden": ftpclient.ErrNotFound}},
		{name: "LIST -a as a pattern", q: ftptest.Quirks{NoMLSD: true, DashA: ftptest.DashAAsEmpty},
			want: map[string]error{"list-hidden": ftpclient.ErrNotFound}},
		{name: "NLST only", q: ftptest.Quirks{NoMLSD: true, NoLIST: true}, noLinks: true,
			want: map[string]error{"list-hidden": ftpclient.ErrNotFound}},
		{name: "no SIZE", q: ftptest.Quirks{NoSIZE: true}},
		{name: "SIZE refused in ASCII", q: ftptest.Quirks{SizeASCII: true}},
		{name: "no MDTM, no MFMT", q: ftptest.Quirks{NoMDTM: true, NoMFMT: true}, want: unsupportedMtime},
		// Known only once a time was set (and read back): the first
		// listing is off by the server's UTC offset, later ones are right.
		{name: "MDTM local time", q: ftptest.Quirks{NoMLSD: true, MDTMZone: time.FixedZone("CEST", 2*3600)},
			want: map[string]error{"list": errWrong}},
		{name: "MDTM fractions", q: ftptest.Quirks{NoMLSD: true, MDTMFraction: true}},
		{name: "no REST", q: ftptest.Quirks{NoREST: true}},
		{name: "REST ignored", q: ftptest.Quirks{RESTIgnored: true}},
		{name: "no APPE", q: ftptest.Quirks{NoAPPE: true}, want: map[string]error{"append": ftpclient.ErrUnsupported}},
		{name: "no EPSV", q: ftptest.Quirks{NoEPSV: true}},
		{name: "EPSV broken", q: ftptest.Quirks{EPSVBroken: true}},
		{name: "PASV 0.0.0.0", q: ftptest.Quirks{NoEPSV: true, PASVAddr: "0,0,0,0"}},
		{name: "PASV private address", q: ftptest.Quirks{NoEPSV: true, PASVAddr: "10,1,2,3"}},
		{name: "PASV without parentheses", q: ftptest.Quirks{NoEPSV: true, PASVNoParens: true}},
		{name: "multi-line 150", q: ftptest.Quirks{Multiline150: true}},
		{name: "125 for 150", q: ftptest.Quirks{Reply125: true}},
		{name: "250 for 226", q: ftptest.Quirks{Final250: true}},
		{name: "226 before data closed", q: ftptest.Quirks{FinalBeforeClose: true}},
		{name: "data never closed", q: ftptest.Quirks{NeverCloseData: true}},
		// Refused renames onto a file look like refused permission: the
		// mount (vfs) and Replace then take the backup way.
		{name: "RNTO over a file refused", q: ftptest.Quirks{NoRenameOver: true},
			want: map[string]error{"rename-over": ftpclient.ErrPermission}},
		{name: "case-insensitive", q: ftptest.Quirks{CaseInsensitive: true}},
		{name: "vague 550", q: ftptest.Quirks{Vague550: true}},
		{name: "MKD exists message", q: ftptest.Quirks{MKDExistsMessage: true}},
		{name: "DOS, Windows semantics", q: ftptest.Quirks{NoMLSD: true, ListStyle: ftptest.ListDOS, CaseInsensitive: true,
			NoRenameOver: true, NoDeleteBusy: true, Vague550: true}, noLinks: true, want: map[string]error{"rename-over": ftpclient.ErrPermission}},
		{name: "slow multi-line greeting", q: ftptest.Quirks{GreetDelay: 300 * time.Millisecond, GreetMultiline: true, Greet120: true}},
		{name: "idle connections closed", q: ftptest.Quirks{IdleClose: 150 * time.Millisecond}},
	}
}

// qmBound bounds each operation: a few replies of a server that answers.
const qmBound = 3 * time.Second

func TestQuirkMatrix(t *testing.T) {
	for _, row := range qmRows() {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			srv := ftptest.StartQuirky(t, row.q)
			qmFixture(t, srv.Root)
			cfg := srv.Config("q")
			cfg.DialTimeout, cfg.CmdTimeout, cfg.DataTimeout = 2*time.Second, 2*time.Second, 2*time.Second
			if row.cfg != nil {
				row.cfg(&cfg)
			}
			c, err := ftpclient.New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			got := qmRun(t, c, srv, row)
			for _, op := range qmOps {
				want, ok := row.want[op]
				if !ok {
					want = qmDefaultFail[op]
				}
				err := got[op]
				switch {
				case want == errAny && err != nil:
				case want == errWrong && err != nil && strings.HasPrefix(err.Error(), "wrong result"):
				case want == nil && err == nil:
				case want != nil && want != errAny && errors.Is(err, want):
				default:
					t.Errorf("%s: got %v, want %v", op, err, want)
				}
			}
		})
	}
}

// qmRun runs every operation of qmOps once, in order, and returns what each
// did: nil, or why it failed (a wrong result is an error too).
func qmRun(t *testing.T, c *ftpclient.Client, srv *ftptest.Server, row qmRow) map[string]error {
	res := map[string]error{}
	disk := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(srv.Root, filepath.FromSlash(name)))
		if err != nil {
			return nil
		}
		return b
	}
	wrong := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{errWrong}, args...)...)
	}
	upload := func(ctx context.Context, p string, mode ftpclient.WriteMode, data []byte) error {
		up, err := c.OpenWrite(ctx, p, 0, mode)
		if err != nil {
			return err
		}
		if _, err := up.Write(data); err != nil {
			up.Abort()
			return err
		}
		return up.Close()
	}
	readAll := func(ctx context.Context, p string, off int64, size int64) ([]byte, error) {
		rc, err := c.OpenReadExpect(ctx, p, off, ftpclient.Expect{Size: size})
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	precision := row.mtime
	if precision == 0 {
		precision = time.Second
	}
	steps := map[string]func(ctx context.Context) error{
		"list": func(ctx context.Context) error {
			ents, err := c.List(ctx, "/")
			if err != nil {
				return err
			}
			byName := map[string]ftpclient.Entry{}
			for _, e := range ents {
				byName[e.Name] = e
			}
			f, ok := byName["f.txt"]
			switch {
			case !ok || f.Type != ftpclient.TypeFile || f.Size != int64(len(qmBody)):
				return wrong("f.txt listed as %+v in %v", f, names(ents))
			case byName["dir"].Type != ftpclient.TypeDir || byName["empty"].Type != ftpclient.TypeDir:
				return wrong("directories listed as %+v, %+v", byName["dir"], byName["empty"])
			case !f.Mtime.Truncate(precision).Equal(qmOld.Truncate(precision)):
				return wrong("f.txt mtime %v, want %v at precision %v", f.Mtime, qmOld, precision)
			}
			for _, dev := range row.q.ListExtra {
				if fields := strings.Fields(dev); len(fields) > 8 && len(fields[0]) == 10 {
					name := fields[len(fields)-1]
					if d, ok := byName[name]; !ok || d.Type != ftpclient.TypeFile || d.Size != 0 {
						return wrong("%s listed as %+v (%v), want an empty file", name, d, ok)
					}
				}
			}
			for n := range byName {
				if strings.Contains(n, "listing line") {
					return wrong("a garbage line listed as %q", n)
				}
			}
			switch l := byName["link"]; {
			case row.noLinks && l.Type != ftpclient.TypeFile:
				return wrong("link listed as %+v, want a file", l)
			case !row.noLinks && (l.Type != ftpclient.TypeLink || l.Target != "f.txt"):
				return wrong("link listed as %+v, want a link to f.txt", l)
			}
			if r := byName["recent.txt"]; !r.Mtime.Truncate(min(precision, time.Minute)).Equal(qmRecent.Truncate(min(precision, time.Minute))) {
				return wrong("recent.txt mtime %v, want %v", r.Mtime, qmRecent)
			}
			for n := range byName {
				if n == "." || n == ".." || n == "" {
					return wrong("listed %q", n)
				}
			}
			return nil
		},
		"list-hidden": func(ctx context.Context) error {
			ents, err := c.List(ctx, "/")
			if err != nil {
				return err
			}
			if !slices.Contains(names(ents), ".hidden") {
				return ftpclient.ErrNotFound
			}
			return nil
		},
		"stat": func(ctx context.Context) error {
			e, err := c.Stat(ctx, "/f.txt")
			if err != nil {
				return err
			}
			if e.Type != ftpclient.TypeFile || e.Size != int64(len(qmBody)) {
				return wrong("stat f.txt: %+v", e)
			}
			d, err := c.Stat(ctx, "/dir")
			if err != nil {
				return err
			}
			if d.Type != ftpclient.TypeDir {
				return wrong("stat dir: %+v", d)
			}
			return nil
		},
		"stat-missing": func(ctx context.Context) error {
			_, err := c.Stat(ctx, "/nope.txt")
			return mustFail(err)
		},
		"read": func(ctx context.Context) error {
			b, err := readAll(ctx, "/f.txt", 0, int64(len(qmBody)))
			if err == nil && !bytes.Equal(b, qmBody) {
				return wrong("read %q", b)
			}
			return err
		},
		"read-at": func(ctx context.Context) error {
			b, err := readAll(ctx, "/f.txt", 7, int64(len(qmBody)))
			if err == nil && !bytes.Equal(b, qmBody[7:]) {
				return wrong("read at 7: %q", b)
			}
			return err
		},
		"read-missing": func(ctx context.Context) error {
			_, err := readAll(ctx, "/nope.txt", 0, 5)
			return mustFail(err)
		},
		"write": func(ctx context.Context) error {
			if err := upload(ctx, "/new.txt", ftpclient.WriteTruncate, []byte("new file")); err != nil {
				return err
			}
			if b := disk("new.txt"); string(b) != "new file" {
				return wrong("new.txt holds %q", b)
			}
			return nil
		},
		"overwrite": func(ctx context.Context) error {
			if err := upload(ctx, "/new.txt", ftpclient.WriteTruncate, []byte("second")); err != nil {
				return err
			}
			if b := disk("new.txt"); string(b) != "second" {
				return wrong("new.txt holds %q", b)
			}
			return nil
		},
		"append": func(ctx context.Context) error {
			err := upload(ctx, "/new.txt", ftpclient.WriteAppend, []byte("+more"))
			if b := disk("new.txt"); err == nil && string(b) != "second+more" || err != nil && string(b) != "second" {
				return wrong("new.txt holds %q after an append (%v)", b, err)
			}
			return err
		},
		"replace": func(ctx context.Context) error {
			tmp := ftpclient.TempName("/f.txt", true)
			if err := upload(ctx, tmp, ftpclient.WriteTruncate, []byte("replaced")); err != nil {
				return err
			}
			if _, err := c.Replace(ctx, tmp, "/f.txt", nil); err != nil {
				return err
			}
			if b := disk("f.txt"); string(b) != "replaced" || len(ftptest.TempFiles(t, srv.Root)) != 0 {
				return wrong("f.txt holds %q, temporaries %v", b, ftptest.TempFiles(t, srv.Root))
			}
			return nil
		},
		"rename": func(ctx context.Context) error {
			if err := c.Rename(ctx, "/new.txt", "/renamed.txt"); err != nil {
				return err
			}
			if disk("new.txt") != nil || disk("renamed.txt") == nil {
				return wrong("rename left new.txt=%q renamed.txt=%q", disk("new.txt"), disk("renamed.txt"))
			}
			return nil
		},
		"rename-over": func(ctx context.Context) error {
			err := c.Rename(ctx, "/renamed.txt", "/recent.txt")
			if err == nil && (disk("renamed.txt") != nil || !strings.HasPrefix(string(disk("recent.txt")), "second")) {
				return wrong("rename over left renamed.txt=%q recent.txt=%q", disk("renamed.txt"), disk("recent.txt"))
			}
			if err != nil && (disk("renamed.txt") == nil || string(disk("recent.txt")) != "recent") {
				return wrong("refused rename over changed files (%v)", err)
			}
			return err
		},
		"delete": func(ctx context.Context) error {
			p := "/renamed.txt"
			if disk("renamed.txt") == nil {
				p = "/recent.txt"
			}
			if err := c.Remove(ctx, p); err != nil {
				return err
			}
			if disk(p[1:]) != nil {
				return wrong("%s still there", p)
			}
			return nil
		},
		"delete-ro": func(ctx context.Context) error {
			err := c.Remove(ctx, "/ro.txt")
			if disk("ro.txt") == nil {
				return wrong("ro.txt removed")
			}
			return mustFail(err)
		},
		"write-ro": func(ctx context.Context) error {
			err := upload(ctx, "/ro.txt", ftpclient.WriteTruncate, []byte("x"))
			if string(disk("ro.txt")) != "read-only" {
				return wrong("ro.txt changed")
			}
			return mustFail(err)
		},
		"mkdir": func(ctx context.Context) error {
			if err := c.Mkdir(ctx, "/sub"); err != nil {
				return err
			}
			if fi, err := os.Stat(filepath.Join(srv.Root, "sub")); err != nil || !fi.IsDir() {
				return wrong("no directory sub")
			}
			return nil
		},
		"mkdir-exists": func(ctx context.Context) error {
			return mustFail(c.Mkdir(ctx, "/dir"))
		},
		"rmdir": func(ctx context.Context) error {
			if err := c.Rmdir(ctx, "/empty"); err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(srv.Root, "empty")); err == nil {
				return wrong("empty still there")
			}
			return nil
		},
		"rmdir-notempty": func(ctx context.Context) error {
			return mustFail(c.Rmdir(ctx, "/dir"))
		},
		"rmdir-missing": func(ctx context.Context) error {
			return mustFail(c.Rmdir(ctx, "/nope"))
		},
		"setmtime": func(ctx context.Context) error {
			if err := c.SetModTime(ctx, "/dir/inner.txt", qmSetTo); err != nil {
				return err
			}
			if fi, err := os.Stat(filepath.Join(srv.Root, "dir", "inner.txt")); err != nil || !fi.ModTime().Equal(qmSetTo) {
				return wrong("inner.txt mtime on disk %v", fi.ModTime())
			}
			return nil
		},
		"mtime": func(ctx context.Context) error {
			if fi, err := os.Stat(filepath.Join(srv.Root, "dir", "inner.txt")); err != nil || !fi.ModTime().Equal(qmSetTo) {
				return ftpclient.ErrUnsupported // setmtime did not work: nothing to see
			}
			e, err := c.Stat(ctx, "/dir/inner.txt")
			if err != nil {
				return err
			}
			if !e.Mtime.Truncate(precision).Equal(qmSetTo.Truncate(precision)) {
				return wrong("inner.txt shows mtime %v, set %v", e.Mtime, qmSetTo)
			}
			// And the listing's other times are right now.
			ents, err := c.List(ctx, "/dir")
			if err != nil {
				return err
			}
			for _, e := range ents {
				want, ok := map[string]time.Time{"inner.txt": qmSetTo, "old.txt": qmOld}[e.Name]
				if ok && !e.Mtime.Truncate(precision).Equal(want.Truncate(precision)) {
					return wrong("listing shows %s at %v, want %v", e.Name, e.Mtime, want)
				}
			}
			return nil
		},
	}
	for _, op := range qmOps {
		ctx, cancel := context.WithTimeout(context.Background(), 4*qmBound)
		start := time.Now()
		var err error
		within(t, 4*qmBound, func() { err = steps[op](ctx) })
		cancel()
		if took := time.Since(start); took > qmBound {
			err = errors.Join(err, errors.New("took "+took.Round(time.Millisecond).String()))
		}
		res[op] = err
		if row.q.IdleClose > 0 {
			time.Sleep(2 * row.q.IdleClose) // every connection is closed by the server meanwhile
		}
	}
	return res
}

// mustFail is err for an operation meant to fail: success is an error too.
func mustFail(err error) error {
	if err == nil {
		return errors.New("succeeded")
	}
	return err
}

func names(ents []ftpclient.Entry) []string {
	var out []string
	for _, e := range ents {
		out = append(out, e.Name)
	}
	return out
}
