package fxpcopy

import (
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// TestCopyTree copies a tree of 120 files in nested directories with 8
// parallel transfers, all by FXP, and checks every file on disk. One
// unreadable file fails without stopping the rest.
func TestCopyTree(t *testing.T) {
	vs, pure := servers(t, true, true)
	e := newEngine(t)
	cvs, cpure := client(t, vs, ftpclient.FXPAuto), client(t, pure, ftpclient.FXPAuto)
	want := map[string]string{} // relative path -> sha256
	for i := range 120 {
		rel := fmt.Sprintf("/tree/d%d/sub %d/file %03d.bin", i%4, i%3, i)
		data := randomBytes(t, (i*7919)%70_000) // includes an empty file
		vs.WriteFile(t, rel, data)
		want[strings.TrimPrefix(rel, "/tree")] = sha(data)
	}
	vs.MkdirAll(t, "/tree/empty dir")
	vs.WriteFile(t, "/tree/unreadable.bin", []byte("secret"))
	if err := os.Chmod(vs.Path("/tree/unreadable.bin"), 0); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	finished := 0
	var planFiles int
	var planBytes int64
	failedRecords := 0
	opts := Options{Plan: func(f int, b int64) { planFiles, planBytes = f, b }}
	sum, err := e.CopyTree(ctxT(t, 5*time.Minute), Endpoint{cvs, "/tree"}, Endpoint{cpure, "/mirror"}, opts, 8,
		func(r Record) {
			if !r.Active {
				mu.Lock()
				finished++
				if r.Err != "" {
					failedRecords++
				}
				mu.Unlock()
			}
		})
	t.Logf("summary: %s", sum)
	if err == nil || !strings.Contains(err.Error(), "1 of 121 files failed") {
		t.Errorf("err = %v, want 1 of 121 files failed", err)
	}
	if sum.Files != 120 || sum.FXP != 120 || sum.Relay != 0 || len(sum.Failures) != 1 || sum.Dirs < 12 {
		t.Errorf("summary %+v", sum)
	}
	if finished != 121 || planFiles != 121 || planBytes < 1 {
		t.Errorf("progress saw %d finished files, plan %d files %d bytes", finished, planFiles, planBytes)
	}
	if len(sum.Failures) == 1 && !strings.Contains(sum.Failures[0].Src, "unreadable.bin") {
		t.Errorf("failure %+v", sum.Failures[0])
	}
	for rel, h := range want {
		if got := fileSHA(t, pure.Path(path.Join("/mirror", rel))); got != h {
			t.Errorf("%s: sha256 %q, want %s", rel, got, h)
		}
	}
	if fi, err := os.Stat(pure.Path("/mirror/empty dir")); err != nil || !fi.IsDir() {
		t.Errorf("empty directory not made: %v", err)
	}
	if _, err := os.Stat(pure.Path("/mirror/unreadable.bin")); !os.IsNotExist(err) {
		t.Errorf("failed file left at the destination: %v", err)
	}
	if c := e.Counters(); c.RelayBytes != 0 || c.FXPFiles != 120 {
		t.Errorf("counters %+v", c)
	}
	if failedRecords != 1 {
		t.Errorf("progress saw %d failed records, want 1", failedRecords)
	}
}

// TestCopyTreeSingleFile: CopyTree of a file copies that file.
func TestCopyTreeSingleFile(t *testing.T) {
	vs, pure := servers(t, true, true)
	e := newEngine(t)
	data := randomBytes(t, 12345)
	vs.WriteFile(t, "/one.bin", data)
	sum, err := e.CopyTree(ctxT(t, time.Minute), Endpoint{client(t, vs, ""), "/one.bin"},
		Endpoint{client(t, pure, ""), "/two.bin"}, Options{}, 4, nil)
	if err != nil || sum.Files != 1 || sum.Bytes != int64(len(data)) {
		t.Fatalf("sum %+v err %v", sum, err)
	}
	if got := fileSHA(t, pure.Path("/two.bin")); got != sha(data) {
		t.Fatalf("sha256 %s, want %s", got, sha(data))
	}
}
