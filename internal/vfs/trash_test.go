package vfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// The trash without FUSE, on in-process servers (the kernel's side, GIO
// through a mount, is fusefs's TestTrash and e2e's TestTrashWithGIO).

const testUID = 1000

// infoNodes records the nodes the trash asks for, and which were told
// that their info file was uploaded.
type infoNodes struct {
	mu       sync.Mutex
	uploaded []string
}

type testInfoNode struct{ ns *infoNodes }

func (n testInfoNode) Uploaded(name string) {
	n.ns.mu.Lock()
	n.ns.uploaded = append(n.ns.uploaded, name)
	n.ns.mu.Unlock()
}

func (ns *infoNodes) newNode(*PendingInfo) InfoNode { return testInfoNode{ns} }

func (ns *infoNodes) uploadedNames() []string {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return append([]string(nil), ns.uploaded...)
}

// trashEnv is a VFS over servers names, with their trashes.
func trashEnv(t *testing.T, s setup) (*env, *Trashes, *infoNodes) {
	t.Helper()
	e := newEnv(t, s)
	var clients []*ftpclient.Client
	for _, n := range s.names {
		clients = append(clients, e.clients[n])
	}
	return e, e.v.NewTrashes(clients), &infoNodes{}
}

// writeInfo is GIO's way to the info file of name: create NAME.trashinfo
// exclusively, write the content to a temporary file, rename it over.
func writeInfo(t *testing.T, tr *Trash, ns *infoNodes, name, content string) error {
	t.Helper()
	ctx := context.Background()
	info := name + ".trashinfo"
	if _, err := tr.CreateInfo(ctx, TrashInfo, info, ns.newNode); err != nil {
		return err
	}
	tmp, err := tr.CreateInfo(ctx, TrashInfo, info+".X1Y2Z3", ns.newNode)
	if err != nil {
		t.Fatalf("create the temporary info file: %v", err)
	}
	if n, err := tmp.WriteAt([]byte(content), 0); err != nil || n != len(content) {
		t.Fatalf("write the temporary info file: %d, %v", n, err)
	}
	if err := tr.Rename(ctx, TrashInfo, info+".X1Y2Z3", tr, TrashInfo, info, false); err != nil {
		t.Fatalf("rename the temporary info file over %s: %v", info, err)
	}
	return nil
}

// gioInfo is an info file as GIO writes it.
func gioInfo(orig string) string {
	return "[Trash Info]\nPath=" + EscapeTrashPath(orig) + "\nDeletionDate=2026-01-02T03:04:05\n"
}

// inodeOf returns the inode number of a file on disk (0 if missing).
func inodeOf(p string) uint64 {
	var st syscall.Stat_t
	if syscall.Lstat(p, &st) != nil {
		return 0
	}
	return st.Ino
}

// itemNames returns the names of items, and on which server each is
// ("-" for a pending info file), sorted.
func itemNames(items []TrashItem) []string {
	var out []string
	for _, it := range items {
		where := "-"
		if it.Client != nil {
			where = it.Client.Name()
		}
		out = append(out, it.Name+"@"+where)
	}
	sort.Strings(out)
	return out
}

// diskNames lists a directory on a server's disk, sorted ("" if missing).
func diskNames(e *env, name, p string) string {
	ents, err := os.ReadDir(e.disk(name, p))
	if err != nil {
		return ""
	}
	var out []string
	for _, de := range ents {
		out = append(out, de.Name())
	}
	return strings.Join(out, ",")
}

func TestTrashLife(t *testing.T) {
	e, ts, ns := trashEnv(t, setup{names: []string{"alpha", "beta"}})
	ctx := context.Background()
	tr := ts.Of(testUID)
	st := "/" + TrashName(testUID)
	a := e.putRandom("alpha", "/docs/report v1.txt", 5000)
	b := e.putRandom("beta", "/report v1.txt", 7000)
	e.putRandom("alpha", "/tree/sub/x", 10)
	aIno := inodeOf(e.disk("alpha", "/docs/report v1.txt"))

	// GIO's way on alpha: the info file first (pending: no server yet),
	// then the move. Both end up in alpha's own trash, the file renamed
	// (the same inode on the server's disk), not copied.
	if err := writeInfo(t, tr, ns, "report v1.txt", gioInfo("alpha/docs/report v1.txt")); err != nil {
		t.Fatal(err)
	}
	if got := itemNames(tr.List(ctx, TrashInfo)); fmt.Sprint(got) != "[report v1.txt.trashinfo@-]" {
		t.Errorf("info/ before the move: %q", got)
	}
	if err := tr.MoveIn(ctx, e.clients["alpha"], "/docs/report v1.txt", TrashFiles, "report v1.txt", false); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("alpha", st+"/files/report v1.txt", a)
	if inodeOf(e.disk("alpha", st+"/files/report v1.txt")) != aIno {
		t.Error("the trashed file has another inode on the server: it was copied, not renamed")
	}
	if !notExist(e.disk("alpha", "/docs/report v1.txt")) {
		t.Error("the original is still there")
	}
	e.diskEquals("alpha", st+"/info/report v1.txt.trashinfo", []byte(gioInfo("alpha/docs/report v1.txt")))
	if tr.Pending("report v1.txt.trashinfo") != nil {
		t.Error("the info file is still pending after its upload")
	}
	if got := ns.uploadedNames(); fmt.Sprint(got) != "[report v1.txt.trashinfo]" {
		t.Errorf("nodes told of an upload: %q", got)
	}

	// The same name on beta: taken on alpha (its files/ and info/), so
	// GIO's exclusive create fails and it picks the next name.
	if err := writeInfo(t, tr, ns, "report v1.txt", gioInfo("beta/report v1.txt")); !errors.Is(err, ftpclient.ErrExists) {
		t.Errorf("create an info file alpha has: %v, want ErrExists", err)
	}
	if err := tr.MoveIn(ctx, e.clients["beta"], "/report v1.txt", TrashFiles, "report v1.txt", false); !errors.Is(err, ftpclient.ErrExists) {
		t.Errorf("move into a name alpha's trash has: %v, want ErrExists", err)
	}
	if err := writeInfo(t, tr, ns, "report v1.2.txt", gioInfo("beta/report v1.txt")); err != nil {
		t.Fatal(err)
	}
	if err := tr.MoveIn(ctx, e.clients["beta"], "/report v1.txt", TrashFiles, "report v1.2.txt", false); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("beta", st+"/files/report v1.2.txt", b)

	// A folder by a plain move (no info file first): the trash writes one.
	if err := tr.MoveIn(ctx, e.clients["alpha"], "/tree", TrashFiles, "tree", false); err != nil {
		t.Fatal(err)
	}
	info, err := os.ReadFile(e.disk("alpha", st+"/info/tree.trashinfo"))
	if err != nil || !strings.HasPrefix(string(info), "[Trash Info]\nPath=alpha/tree\nDeletionDate=") {
		t.Errorf("info file the trash wrote: %q, %v", info, err)
	}

	// The union of both servers' folders, each item on its server.
	if got, want := itemNames(tr.List(ctx, TrashFiles)), "[report v1.2.txt@beta report v1.txt@alpha tree@alpha]"; fmt.Sprint(got) != want {
		t.Errorf("files/: %q, want %s", got, want)
	}
	if got, want := itemNames(tr.List(ctx, TrashInfo)), "[report v1.2.txt.trashinfo@beta report v1.txt.trashinfo@alpha tree.trashinfo@alpha]"; fmt.Sprint(got) != want {
		t.Errorf("info/: %q, want %s", got, want)
	}
	it, err := tr.Lookup(ctx, TrashFiles, "report v1.2.txt")
	if err != nil || it.Client != e.clients["beta"] || it.Path != st+"/files/report v1.2.txt" || it.Entry.Size != 7000 {
		t.Errorf("lookup of beta's item: %+v, %v", it, err)
	}
	if _, err := tr.Lookup(ctx, TrashFiles, "nothing"); !errors.Is(err, ftpclient.ErrNotFound) {
		t.Errorf("lookup of a name no server has: %v", err)
	}

	// Restore: onto another server refused, back on its own by a rename.
	if err := tr.Restore(ctx, TrashFiles, "report v1.2.txt", e.clients["alpha"], "/x", false); !errors.Is(err, ErrCrossServer) {
		t.Errorf("restore onto another server: %v, want ErrCrossServer", err)
	}
	if err := tr.Restore(ctx, TrashFiles, "report v1.txt", e.clients["alpha"], "/docs/report v1.txt", false); err != nil {
		t.Fatal(err)
	}
	if err := tr.Remove(ctx, TrashInfo, "report v1.txt.trashinfo"); err != nil {
		t.Fatal(err)
	}
	if inodeOf(e.disk("alpha", "/docs/report v1.txt")) != aIno {
		t.Error("the restored file has another inode")
	}
	if got := diskNames(e, "alpha", st+"/info"); got != "tree.trashinfo" {
		t.Errorf("alpha's info/ after the restore: %q", got)
	}

	// Empty, as gvfs does: into expunged/, deleted there.
	for i, n := range []string{"report v1.2.txt", "tree"} {
		if err := tr.Rename(ctx, TrashFiles, n, tr, TrashExpunged, fmt.Sprint(1000+i), false); err != nil {
			t.Fatal(err)
		}
		if err := tr.Remove(ctx, TrashInfo, n+".trashinfo"); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Remove(ctx, TrashExpunged, "1000"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Rmdir(ctx, TrashExpunged, "1001"); err == nil {
		t.Error("rmdir of a folder that is not empty succeeded")
	}
	alpha, exp := e.clients["alpha"], st+"/expunged/1001"
	if err := e.v.Remove(ctx, alpha, exp+"/sub/x"); err != nil {
		t.Fatal(err)
	}
	if err := e.v.Rmdir(ctx, alpha, exp+"/sub"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Rmdir(ctx, TrashExpunged, "1001"); err != nil {
		t.Fatal(err)
	}
	for _, srv := range []string{"alpha", "beta"} {
		for _, sub := range TrashFolders {
			if got := diskNames(e, srv, st+"/"+string(sub)); got != "" {
				t.Errorf("%s's %s/ after emptying: %q", srv, sub, got)
			}
			if got := tr.List(ctx, sub); len(got) != 0 {
				t.Errorf("%s/ after emptying: %q", sub, itemNames(got))
			}
		}
	}
}

func TestTrashInfoUploadFails(t *testing.T) {
	// Every upload fails after 10 bytes (a full disk): the info file's
	// upload fails, so the trash does, and nothing of it stays.
	e, ts, ns := trashEnv(t, setup{names: []string{"alpha"}, srvOpts: []ftptest.Option{ftptest.WithWriteLimit(10)}})
	ctx := context.Background()
	tr := ts.Of(testUID)
	st := "/" + TrashName(testUID)
	a := e.putRandom("alpha", "/f.txt", 300)
	if err := writeInfo(t, tr, ns, "f.txt", gioInfo("alpha/f.txt")); err != nil {
		t.Fatal(err)
	}
	err := tr.MoveIn(ctx, e.clients["alpha"], "/f.txt", TrashFiles, "f.txt", false)
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("trash with a failing info upload: %v, want ErrFailed", err)
	}
	e.diskEquals("alpha", "/f.txt", a)
	if got := diskNames(e, "alpha", st+"/info"); got != "" {
		t.Errorf("alpha's info/ after the failed upload: %q (nothing half-written may stay)", got)
	}
	if got := diskNames(e, "alpha", st+"/files"); got != "" {
		t.Errorf("alpha's files/ after the failed trash: %q", got)
	}
	if tr.Pending("f.txt.trashinfo") == nil {
		t.Error("the pending info file was lost with the failed trash")
	}
	if got := ns.uploadedNames(); len(got) != 0 {
		t.Errorf("nodes told of an upload that failed: %q", got)
	}
	if got := itemNames(tr.List(ctx, TrashInfo)); fmt.Sprint(got) != "[f.txt.trashinfo@-]" {
		t.Errorf("info/ after the failed trash: %q", got)
	}
	if !ts.CanTrash(ctx, e.clients["alpha"], testUID) {
		t.Error("a full disk made the server one that cannot trash")
	}
}

func TestTrashRenameFails(t *testing.T) {
	// The file went from the server behind the cache's back: the rename
	// fails after the info file was uploaded, which is removed again.
	e, ts, ns := trashEnv(t, setup{names: []string{"alpha"}})
	ctx := context.Background()
	tr := ts.Of(testUID)
	st := "/" + TrashName(testUID)
	e.putRandom("alpha", "/f.txt", 300)
	if _, err := e.cache.Lookup(ctx, e.clients["alpha"], "/f.txt"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(e.disk("alpha", "/f.txt")); err != nil {
		t.Fatal(err)
	}
	if err := writeInfo(t, tr, ns, "f.txt", gioInfo("alpha/f.txt")); err != nil {
		t.Fatal(err)
	}
	err := tr.MoveIn(ctx, e.clients["alpha"], "/f.txt", TrashFiles, "f.txt", false)
	if !errors.Is(err, ftpclient.ErrNotFound) {
		t.Fatalf("trash of a file gone from the server: %v, want ErrNotFound", err)
	}
	if got := diskNames(e, "alpha", st+"/info"); got != "" {
		t.Errorf("alpha's info/ after the failed rename: %q", got)
	}
	if tr.Pending("f.txt.trashinfo") == nil {
		t.Error("the pending info file was lost with the failed trash")
	}
	if got := itemNames(tr.List(ctx, TrashInfo)); fmt.Sprint(got) != "[f.txt.trashinfo@-]" {
		t.Errorf("info/ after the failed trash: %q", got)
	}
	if !ts.CanTrash(ctx, e.clients["alpha"], testUID) {
		t.Error("a missing source made the server one that cannot trash")
	}
}

func TestTrashExistingInfoReplaced(t *testing.T) {
	// A stale info file of the name on the server (its item gone): the new
	// one replaces it by way of a temporary, as any upload over a file.
	e, ts, _ := trashEnv(t, setup{names: []string{"alpha"}})
	ctx := context.Background()
	tr := ts.Of(testUID)
	st := "/" + TrashName(testUID)
	e.put("alpha", st+"/info/f.txt.trashinfo", []byte("stale"))
	e.put("alpha", "/f.txt", []byte("data"))
	if err := tr.MoveIn(ctx, e.clients["alpha"], "/f.txt", TrashFiles, "f.txt", false); err != nil {
		t.Fatal(err)
	}
	info, err := os.ReadFile(e.disk("alpha", st+"/info/f.txt.trashinfo"))
	if err != nil || !strings.HasPrefix(string(info), "[Trash Info]\nPath=alpha/f.txt\n") {
		t.Errorf("info file: %q, %v", info, err)
	}
	if got := diskNames(e, "alpha", st+"/info"); got != "f.txt.trashinfo" {
		t.Errorf("alpha's info/: %q (a temporary left?)", got)
	}
}

func TestTrashFolderInTheWay(t *testing.T) {
	// A file where the server's trash folder should be.
	e, ts, _ := trashEnv(t, setup{names: []string{"alpha"}})
	ctx := context.Background()
	tr := ts.Of(testUID)
	e.put("alpha", "/"+TrashName(testUID), []byte("not a folder"))
	e.put("alpha", "/f.txt", []byte("data"))
	if ts.CanTrash(ctx, e.clients["alpha"], testUID) {
		t.Error("CanTrash with a file in the trash folder's place")
	}
	if err := tr.MoveIn(ctx, e.clients["alpha"], "/f.txt", TrashFiles, "f.txt", false); !errors.Is(err, ftpclient.ErrNotDir) {
		t.Errorf("trash: %v, want ErrNotDir", err)
	}
	e.diskEquals("alpha", "/f.txt", []byte("data"))
}

func TestCanTrash(t *testing.T) {
	e, ts, _ := trashEnv(t, setup{names: []string{"alpha"}})
	ro, rts, _ := trashEnv(t, setup{names: []string{"ro"}, srvOpts: []ftptest.Option{ftptest.WithReadOnly()}})
	ctx := context.Background()
	for _, c := range []struct {
		name string
		e    *env
		ts   *Trashes
		want bool
	}{
		{"alpha", e, ts, true},
		{"ro", ro, rts, false},
	} {
		cl := c.e.clients[c.name]
		if got := c.ts.CanTrash(ctx, cl, testUID); got != c.want {
			t.Errorf("%s: CanTrash = %v, want %v", c.name, got, c.want)
		}
		if got := diskNames(c.e, c.name, "/"); got != "" {
			t.Errorf("%s: the probe left %q behind", c.name, got)
		}
		// Remembered: asked again, the server hears nothing.
		n := cl.Stats().Commands
		if got := c.ts.CanTrash(ctx, cl, testUID+1); got != c.want {
			t.Errorf("%s: CanTrash asked again = %v, want %v", c.name, got, c.want)
		}
		if d := cl.Stats().Commands - n; d != 0 {
			t.Errorf("%s: CanTrash asked again sent %d commands, want none", c.name, d)
		}
	}

	// A refusal learnt from a move, and a success after it.
	rtr := rts.Of(testUID)
	ro.put("ro", "/f.txt", []byte("data"))
	ro.cache.Invalidate(ro.clients["ro"], "/")
	if err := rtr.MoveIn(ctx, ro.clients["ro"], "/f.txt", TrashFiles, "f.txt", false); !errors.Is(err, ftpclient.ErrPermission) {
		t.Errorf("trash on the read-only server: %v, want ErrPermission", err)
	}
	ro.diskEquals("ro", "/f.txt", []byte("data"))

	// After trashRecheck the refusal is tried again.
	c := rts.can[ro.clients["ro"]]
	c.at.Store(time.Now().Add(-trashRecheck - time.Second).UnixNano())
	n := ro.clients["ro"].Stats().Commands
	if rts.CanTrash(ctx, ro.clients["ro"], testUID) {
		t.Error("CanTrash of the read-only server after the recheck")
	}
	if ro.clients["ro"].Stats().Commands == n {
		t.Error("no probe after trashRecheck")
	}
	if ts.CanTrash(ctx, ro.clients["ro"], testUID) {
		t.Error("CanTrash of a server not in the mount")
	}
}

func TestPendingInfo(t *testing.T) {
	e, ts, ns := trashEnv(t, setup{names: []string{"alpha"}})
	ctx := context.Background()
	tr := ts.Of(testUID)
	for _, sub := range []TrashFolder{TrashFiles, TrashExpunged} {
		if _, err := tr.CreateInfo(ctx, sub, "x", ns.newNode); !errors.Is(err, ErrNotPermitted) {
			t.Errorf("create in %s/: %v, want ErrNotPermitted", sub, err)
		}
	}
	if _, err := tr.CreateInfo(ctx, TrashInfo, "a\nb", ns.newNode); !errors.Is(err, ftpclient.ErrBadName) {
		t.Errorf("create a name with LF: %v, want ErrBadName", err)
	}
	pi, err := tr.CreateInfo(ctx, TrashInfo, "f.trashinfo", ns.newNode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.CreateInfo(ctx, TrashInfo, "f.trashinfo", ns.newNode); !errors.Is(err, ftpclient.ErrExists) {
		t.Errorf("second exclusive create: %v, want ErrExists", err)
	}
	if _, ok := pi.Node().(testInfoNode); !ok {
		t.Errorf("node: %T", pi.Node())
	}

	// Content in memory, bounded.
	if _, err := pi.WriteAt([]byte("hello"), 3); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n := pi.ReadAt(buf, 0); !bytes.Equal(buf[:n], []byte("\x00\x00\x00hello")) {
		t.Errorf("read: %q", buf[:n])
	}
	if n := pi.ReadAt(buf, 100); n != 0 {
		t.Errorf("read beyond the end: %d bytes", n)
	}
	if _, err := pi.WriteAt([]byte("x"), maxInfoSize); !errors.Is(err, ErrInfoTooLarge) {
		t.Errorf("write beyond maxInfoSize: %v", err)
	}
	if err := pi.Truncate(maxInfoSize + 1); !errors.Is(err, ErrInfoTooLarge) {
		t.Errorf("truncate beyond maxInfoSize: %v", err)
	}
	if err := pi.Truncate(2); err != nil {
		t.Fatal(err)
	}
	if size, _ := pi.Stat(); size != 2 {
		t.Errorf("size after truncate: %d", size)
	}

	// Renames stay within info/; NOREPLACE is honoured.
	if _, err := tr.CreateInfo(ctx, TrashInfo, "g.trashinfo", ns.newNode); err != nil {
		t.Fatal(err)
	}
	if err := tr.Rename(ctx, TrashInfo, "f.trashinfo", tr, TrashInfo, "g.trashinfo", true); !errors.Is(err, ftpclient.ErrExists) {
		t.Errorf("rename onto a pending file with NOREPLACE: %v, want ErrExists", err)
	}
	if err := tr.Rename(ctx, TrashInfo, "f.trashinfo", tr, TrashFiles, "f", false); !errors.Is(err, ErrCrossServer) {
		t.Errorf("rename out of info/: %v, want ErrCrossServer", err)
	}
	if err := tr.Rename(ctx, TrashInfo, "f.trashinfo", ts.Of(testUID+1), TrashInfo, "f.trashinfo", false); !errors.Is(err, ErrCrossServer) {
		t.Errorf("rename into another trash: %v, want ErrCrossServer", err)
	}
	if err := tr.Rename(ctx, TrashInfo, "f.trashinfo", tr, TrashInfo, "g.trashinfo", false); err != nil {
		t.Fatal(err)
	}
	if got := tr.Pending("g.trashinfo"); got != pi || pi.Name() != "g.trashinfo" || tr.Pending("f.trashinfo") != nil {
		t.Errorf("after the rename: g is %p (want %p), name %q", got, pi, pi.Name())
	}
	if err := tr.Remove(ctx, TrashInfo, "g.trashinfo"); err != nil || tr.Pending("g.trashinfo") != nil {
		t.Errorf("remove: %v", err)
	}
	if got := diskNames(e, "alpha", "/"); got != "" {
		t.Errorf("the server has %q: pending info files are on no server", got)
	}

	// Expired after pendingTTL.
	old, err := tr.CreateInfo(ctx, TrashInfo, "old.trashinfo", ns.newNode)
	if err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	old.created = time.Now().Add(-pendingTTL - time.Second)
	tr.mu.Unlock()
	if tr.Pending("old.trashinfo") != nil {
		t.Error("a pending info file outlived pendingTTL")
	}

	// At most maxPendingInfo.
	var err2 error
	for i := 0; i <= maxPendingInfo && err2 == nil; i++ {
		_, err2 = tr.CreateInfo(ctx, TrashInfo, fmt.Sprintf("n%d.trashinfo", i), ns.newNode)
	}
	if !errors.Is(err2, ErrTrashFull) {
		t.Errorf("more than maxPendingInfo: %v, want ErrTrashFull", err2)
	}
}

func TestTrashNames(t *testing.T) {
	for _, c := range []struct {
		name string
		uid  uint32
		ok   bool
	}{
		{".Trash-0", 0, true},
		{".Trash-1000", 1000, true},
		{".Trash-4294967295", 4294967295, true},
		{".Trash-4294967296", 0, false},
		{".Trash-01", 0, false},
		{".Trash-", 0, false},
		{".Trash", 0, false},
		{".Trash-x", 0, false},
		{"Trash-1", 0, false},
	} {
		uid, ok := ParseTrashName(c.name)
		if uid != c.uid || ok != c.ok {
			t.Errorf("ParseTrashName(%q) = %d, %v, want %d, %v", c.name, uid, ok, c.uid, c.ok)
		}
		if ok && TrashName(uid) != c.name {
			t.Errorf("TrashName(%d) = %q", uid, TrashName(uid))
		}
	}
	for _, c := range []struct{ in, want string }{
		{"alpha/docs/a.txt", "alpha/docs/a.txt"},
		{"alpha/report v1.txt", "alpha/report%20v1.txt"},
		{"b/ü%#?", "b/%C3%BC%25%23%3F"},
		{"b/~a-b_c.d", "b/~a-b_c.d"},
	} {
		if got := EscapeTrashPath(c.in); got != c.want {
			t.Errorf("EscapeTrashPath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	if got, want := string(infoContent(nil, "alpha/a b", now)), "[Trash Info]\nPath=alpha/a%20b\nDeletionDate=2026-01-02T03:04:05\n"; got != want {
		t.Errorf("info file made: %q, want %q", got, want)
	}
}

func TestTrashesLimit(t *testing.T) {
	_, ts, _ := trashEnv(t, setup{names: []string{"alpha"}})
	for uid := uint32(0); uid < maxTrashes; uid++ {
		if ts.Of(uid) == nil {
			t.Fatalf("no trash for uid %d", uid)
		}
	}
	if ts.Of(maxTrashes) != nil {
		t.Error("a trash beyond maxTrashes")
	}
	if ts.Of(0) != ts.Of(0) {
		t.Error("two trashes for one uid")
	}
}

func TestTrashInfoWhileMatching(t *testing.T) {
	// Files were read through the mount, so a new file's writes are
	// matched against them first (match.go): the info file goes up all
	// the same, as what was written.
	e, ts, ns := trashEnv(t, setup{names: []string{"alpha", "beta"}, fxp: true})
	ctx := context.Background()
	tr := ts.Of(testUID)
	content := gioInfo("beta/f.txt")
	e.put("alpha", "/same.txt", []byte(content)) // the very bytes of the info file
	h := e.open(t, "alpha", "/same.txt", os.O_RDONLY)
	if got, err := readAll(h, 4096); err != nil || string(got) != content {
		t.Fatalf("read: %q, %v", got, err)
	}
	h.Release(ctx)
	e.put("beta", "/f.txt", []byte("data"))
	if err := writeInfo(t, tr, ns, "f.txt", content); err != nil {
		t.Fatal(err)
	}
	if err := tr.MoveIn(ctx, e.clients["beta"], "/f.txt", TrashFiles, "f.txt", false); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("beta", "/"+TrashName(testUID)+"/info/f.txt.trashinfo", []byte(content))
	e.diskEquals("beta", "/"+TrashName(testUID)+"/files/f.txt", []byte("data"))
}
