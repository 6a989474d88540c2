package vfs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// TestRenameOverOnServerThatRefuses: rsync's last step, renaming its
// temporary over the file, works on a server that refuses to rename onto
// an existing file (IIS): by way of a backup name, which does not stay.
func TestRenameOverOnServerThatRefuses(t *testing.T) {
	e := newEnv(t, setup{quirks: &ftptest.Quirks{NoRenameOver: true, Vague550: true}})
	e.put("alpha", "/f", []byte("old"))
	e.put("alpha", "/.f.XyZ123", []byte("new content"))
	e.put("alpha", "/g", []byte("g"))
	ctx := context.Background()
	cl := e.clients["alpha"]
	if err := e.v.Rename(ctx, cl, "/.f.XyZ123", "/f", false); err != nil {
		t.Fatal(err)
	}
	e.diskEquals("alpha", "/f", []byte("new content"))
	if !notExist(e.disk("alpha", "/.f.XyZ123")) || len(leftovers(t, e, "alpha", "/")) != 0 {
		t.Errorf("left behind: temp %v, backups %v", !notExist(e.disk("alpha", "/.f.XyZ123")), leftovers(t, e, "alpha", "/"))
	}
	// Without replacing (RENAME_NOREPLACE) an existing target is refused.
	if err := e.v.Rename(ctx, cl, "/g", "/f", true); !errors.Is(err, ftpclient.ErrExists) {
		t.Errorf("noReplace onto a file: %v, want ErrExists", err)
	}
	e.diskEquals("alpha", "/f", []byte("new content"))
}

// TestNewFileCaseClash: on a server that ignores case, a new file "a.txt"
// next to "A.txt" is that file. Its upload goes to a temporary like any
// overwrite, so a failed one (the disk fills up) leaves "A.txt" as it was
// — written straight to "a.txt" and removed after the failure, it would
// have taken "A.txt" with it — and a complete one replaces it.
func TestNewFileCaseClash(t *testing.T) {
	for _, fail := range []bool{true, false} {
		q := ftptest.Quirks{CaseInsensitive: true}
		if fail {
			q.MidTransfer, q.MidAfter, q.FailOn = "452 Insufficient storage space.", 3, "STOR APPE"
		}
		e := newEnv(t, setup{quirks: &q})
		e.put("alpha", "/A.txt", []byte("precious"))
		if _, err := e.v.List(context.Background(), e.clients["alpha"], "/"); err != nil {
			t.Fatal(err)
		}
		h, _ := e.create("alpha", "/a.txt")
		mustWrite(t, h, []byte("new bytes"), 0)
		err := closeFile(h)
		if fail {
			if !errors.Is(err, ftpclient.ErrNoSpace) {
				t.Errorf("close of the failed upload: %v, want ErrNoSpace", err)
			}
			e.diskEquals("alpha", "/A.txt", []byte("precious"))
		} else {
			if err != nil {
				t.Fatal(err)
			}
			e.diskEquals("alpha", "/A.txt", []byte("new bytes"))
		}
		if l := leftovers(t, e, "alpha", "/"); len(l) != 0 {
			t.Errorf("temporaries left: %v", l)
		}
		if ents, _ := os.ReadDir(e.disk("alpha", "/")); len(ents) != 1 {
			t.Errorf("%d entries on the server, want A.txt alone", len(ents))
		}
	}
}

// TestReadAtOffsetWithoutRest: reads at an offset (a seek, the read-ahead
// window restarting) on a server without REST, or one that ignores it,
// return the bytes at that offset: the download starts at 0 and drops what
// comes before (found out once per server).
func TestReadAtOffsetWithoutRest(t *testing.T) {
	for _, q := range []ftptest.Quirks{{NoREST: true}, {RESTIgnored: true}, {}} {
		e := newEnv(t, setup{quirks: &q})
		data := e.putRandom("alpha", "/f.bin", 3<<20+17)
		h := e.open(t, "alpha", "/f.bin", os.O_RDONLY)
		for _, off := range []int64{2 << 20, 5, 3<<20 + 10, 1 << 20} {
			got, err := readAt(h, 4096, off)
			want := data[off:min(off+4096, int64(len(data)))]
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%+v: read at %d: %d bytes (%v), want %d bytes of the file", q, off, len(got), err, len(want))
			}
		}
		h.Release(context.Background())
	}
}
