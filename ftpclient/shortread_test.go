package ftpclient_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// TestShortRead: the server sends half of a 10-byte file and then 226.
// With the size known, that is an error unless the file changed on the
// server (SIZE, or MDTM when the expected mtime is precise).
func TestShortRead(t *testing.T) {
	listed := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		size      string // SIZE reply
		mdtm      string // MDTM reply
		want      ftpclient.Expect
		plain     bool // OpenRead, no expectation
		wantShort bool
	}{
		{name: "unchanged", size: "213 10", want: ftpclient.Expect{Size: 10}, wantShort: true},
		{name: "unchanged, same mtime", size: "213 10", mdtm: "213 20240506070809", want: ftpclient.Expect{Size: 10, Mtime: listed}, wantShort: true},
		{name: "shrunk meanwhile", size: "213 5", want: ftpclient.Expect{Size: 10}},
		{name: "rewritten, same size", size: "213 10", mdtm: "213 20240506070912", want: ftpclient.Expect{Size: 10, Mtime: listed}},
		{name: "LIST mtime: minutes only, not compared", size: "213 10", mdtm: "213 20240506070912",
			want: ftpclient.Expect{Size: 10, Mtime: listed.Truncate(time.Minute)}, wantShort: true},
		{name: "SIZE refused", size: "502 no SIZE", want: ftpclient.Expect{Size: 10}, wantShort: true},
		{name: "no expectation", plain: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newFakeServer(t, func(s *fakeServer) {
				s.handlers["FEAT"] = func(fc *fakeConn, _ string) {
					fc.reply("211-Features:", " SIZE", " MDTM", " REST STREAM", "211 End")
				}
				s.handlers["RETR"] = listHandler("01234") // 5 of 10 bytes, then 226
				s.handlers["SIZE"] = func(fc *fakeConn, _ string) { fc.reply(tc.size) }
				s.handlers["MDTM"] = func(fc *fakeConn, _ string) { fc.reply(tc.mdtm) }
				s.handlers["LIST"] = listHandler("-rw-r--r-- 1 u g 10 Mar  1  2020 f\r\n")
			})
			c := newFakeClient(t, s, nil)
			ctx := context.Background()
			var rc io.ReadCloser
			var err error
			if tc.plain {
				rc, err = c.OpenRead(ctx, "/f", 0)
			} else {
				rc, err = c.OpenReadExpect(ctx, "/f", 0, tc.want)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			var b []byte
			within(t, 5*time.Second, func() { b, err = io.ReadAll(rc) })
			if string(b) != "01234" {
				t.Errorf("read %q", b)
			}
			if tc.wantShort {
				if !errors.Is(err, ftpclient.ErrShortRead) {
					t.Errorf("got %v, want ErrShortRead", err)
				}
				t.Logf("error: %v", err)
			} else if err != nil {
				t.Errorf("got %v, want EOF (the file changed)", err)
			}
		})
	}
}
