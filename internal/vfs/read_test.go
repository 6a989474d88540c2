package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

func TestReadWholeFileOneStream(t *testing.T) {
	e := newEnv(t, setup{})
	const size = 8<<20 + 12345
	data := e.putRandom("alpha", "/pub/big.bin", size)
	before := e.clients["alpha"].Stats().BytesIn
	h := e.open(t, "alpha", "/pub/big.bin", os.O_RDONLY)
	got, err := readAll(h, 1<<20)
	h.Release(t.Context())
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes (%v), want %d", len(got), err, size)
	}
	// One streamed RETR: the file crossed the wire once.
	if in := e.clients["alpha"].Stats().BytesIn - before; in < size || in > size+64<<10 {
		t.Errorf("reading %d bytes downloaded %d", size, in)
	}
	if e.v.Spools() != 0 {
		t.Errorf("reading used %d spools", e.v.Spools())
	}
}

func TestReadSeeks(t *testing.T) {
	e := newEnv(t, setup{})
	const mib = 1 << 20
	data := e.putRandom("alpha", "/big.bin", 10*mib+77)
	h := e.open(t, "alpha", "/big.bin", os.O_RDONLY)
	defer h.Release(t.Context())
	tests := []struct {
		off  int64
		n    int
		want []byte
	}{
		{5 * mib, mib, data[5*mib : 6*mib]},
		{10 * mib, mib, data[10*mib:]},
		{0, 3 * 4096, data[:3*4096]},
		{2000 * 4096, 2 * 4096, data[2000*4096 : 2002*4096]},
		{20 * mib, mib, nil}, // past the end
		{9 * mib, 70, data[9*mib : 9*mib+70]},
		{100, 70, data[100:170]},
		{3*mib + 5, 70, data[3*mib+5 : 3*mib+75]},
	}
	for _, tc := range tests {
		got, err := readAt(h, tc.n, tc.off)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("read %d at %d: %d bytes (%v), want %d", tc.n, tc.off, len(got), err, len(tc.want))
		}
	}
}

func TestManyReadersOnCappedServer(t *testing.T) {
	// The server allows 2 connections, the client is configured for 4:
	// eight concurrent readers must all finish with the right data.
	e := newEnv(t, setup{srvOpts: []ftptest.Option{ftptest.WithMaxConns(2)}, maxConns: 4})
	const n = 8
	files := make([][]byte, n)
	for i := range files {
		files[i] = e.putRandom("alpha", fmt.Sprintf("/f%d", i), 1<<20+i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h := e.open(t, "alpha", fmt.Sprintf("/f%d", i), os.O_RDONLY)
			defer h.Release(t.Context())
			got, err := readAll(h, 128<<10)
			if err != nil || !bytes.Equal(got, files[i]) {
				errs <- fmt.Errorf("reader %d: %d bytes, %v", i, len(got), err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestIdleStreamGivesBackItsConnection(t *testing.T) {
	// One connection only. A reader that stops half-way must not block
	// another file's reader for good: its idle stream is closed, and it
	// resumes (REST) when it reads again.
	e := newEnv(t, setup{srvOpts: []ftptest.Option{ftptest.WithMaxConns(1)}, maxConns: 1,
		opts: Options{IdleClose: 200 * time.Millisecond}})
	a := e.putRandom("alpha", "/a", 12<<20)
	b := e.putRandom("alpha", "/b", 3<<20)
	ha := e.open(t, "alpha", "/a", os.O_RDONLY)
	defer ha.Release(t.Context())
	head, err := readAt(ha, 1<<20, 0)
	if err != nil || !bytes.Equal(head, a[:1<<20]) {
		t.Fatalf("first MiB of a: %v", err)
	}
	hb := e.open(t, "alpha", "/b", os.O_RDONLY)
	gotB, err := readAll(hb, 1<<20) // needs the connection a's stream held
	hb.Release(t.Context())
	if err != nil || !bytes.Equal(gotB, b) {
		t.Fatalf("b: %d bytes, %v", len(gotB), err)
	}
	var rest []byte
	for off := int64(1 << 20); ; {
		p, err := readAt(ha, 1<<20, off)
		if err != nil {
			t.Fatalf("rest of a after its stream was closed: %v", err)
		}
		if len(p) == 0 {
			break
		}
		rest = append(rest, p...)
		off += int64(len(p))
	}
	if !bytes.Equal(rest, a[1<<20:]) {
		t.Fatalf("rest of a: %d bytes, want %d", len(rest), len(a)-1<<20)
	}
}

// TestShortReadIsAnError: a server ends the download (226) half-way
// through a file that did not change: the read fails with ErrShortRead,
// never a silent end of file (issue 7, item 2). Where the file did change
// on the server, the read ends where the server's file ends.
func TestShortReadIsAnError(t *testing.T) {
	const cut = 300_000
	e := newEnv(t, setup{srvOpts: []ftptest.Option{ftptest.WithReadLimit(cut)}})
	data := e.putRandom("alpha", "/f.bin", 1<<20)
	changed := e.putRandom("alpha", "/changed.bin", 1<<20)

	h := e.open(t, "alpha", "/f.bin", os.O_RDONLY)
	got, err := readAll(h, 128<<10)
	h.Release(t.Context())
	if !errors.Is(err, ftpclient.ErrShortRead) {
		t.Fatalf("read of a file cut short: %d bytes, %v; want ErrShortRead", len(got), err)
	}
	if !bytes.Equal(got, data[:len(got)]) {
		t.Fatal("the bytes before the error are wrong")
	}

	// The file shrinks on the server after the listing: not an error.
	h = e.open(t, "alpha", "/changed.bin", os.O_RDONLY)
	changed = changed[:cut]
	e.put("alpha", "/changed.bin", changed)
	got, err = readAll(h, 128<<10)
	h.Release(t.Context())
	if err != nil || !bytes.Equal(got, changed) {
		t.Fatalf("read of a file that shrank on the server: %d bytes, %v; want its %d bytes", len(got), err, cut)
	}
}

// TestReadPastEndAsksAgain: a handle that read to the end of a file still
// growing on the server sees the new bytes without reopening (a direct-I/O
// reader, tail -f): a read at or past the end it saw asks the server again
// (one RETR at that offset); an end seen after the read arrived is its
// answer, so a read at the end of an unchanged file costs one RETR, never
// more.
func TestReadPastEndAsksAgain(t *testing.T) {
	e := newEnv(t, setup{})
	data := e.putRandom("alpha", "/grow.log", 300_000)
	h := e.open(t, "alpha", "/grow.log", os.O_RDONLY)
	defer h.Release(t.Context())
	srv := e.servers["alpha"]
	got, err := readAll(h, 128<<10)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("first read: %d bytes, %v", len(got), err)
	}
	// At the end, nothing new: one RETR per read at the end, and EOF.
	for i := 0; i < 3; i++ {
		before := srv.Retrs()
		b, err := readAt(h, 128<<10, int64(len(data)))
		if err != nil || len(b) != 0 {
			t.Fatalf("read at the end: %d bytes, %v; want 0", len(b), err)
		}
		if n := srv.Retrs() - before; n != 1 {
			t.Fatalf("a read at the end sent %d RETRs, want 1", n)
		}
	}
	// Past the end: EOF too (a REST beyond the size is EOF, whether the
	// server refuses it or sends nothing).
	if b, err := readAt(h, 4096, int64(len(data))+1<<20); err != nil || len(b) != 0 {
		t.Fatalf("read past the end: %d bytes, %v; want 0", len(b), err)
	}
	// The file grows on the server: the same handle reads on.
	more := randomBytes(t, 200_000)
	f, err := os.OpenFile(e.disk("alpha", "/grow.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(more); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rest, err := readFrom(h, 128<<10, int64(len(data)))
	if err != nil || !bytes.Equal(rest, more) {
		t.Fatalf("after the file grew: %d bytes, %v; want the %d new ones", len(rest), err, len(more))
	}
}

// readFrom reads h from off to its end in requests of size bs.
func readFrom(h *Handle, bs int, off int64) ([]byte, error) {
	var out []byte
	for {
		b, err := readAt(h, bs, off+int64(len(out)))
		if err != nil || len(b) == 0 {
			return out, err
		}
		out = append(out, b...)
	}
}
