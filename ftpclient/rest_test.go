package ftpclient_test

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
	"github.com/fxpfs/fxpfs/internal/testutil"
)

// TestRestProbeUsesCurrentSize: on a server whose FEAT does not vouch for
// REST, the first download at an offset checks REST with the file's last
// byte. A caller's stale size (the file was replaced by a larger one since
// it was listed) must not make a working REST look ignored: that once
// switched every later download of the server to "from byte 0".
func TestRestProbeUsesCurrentSize(t *testing.T) {
	srv := ftptest.StartQuirky(t, ftptest.Quirks{RESTUnadvertised: true})
	var logs testutil.SyncBuffer
	c, err := ftpclient.New(srv.Config("q"), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := ctxT(t)
	body := bytes.Repeat([]byte("0123456789"), 25000)
	write(t, srv.Root, "f", body) // 250000 bytes; the caller still thinks 100000

	rc, err := c.OpenReadExpect(ctx, "/f", 60000, ftpclient.Expect{Size: 100000})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if len(got) > 0 && !bytes.Equal(got, body[60000:60000+len(got)]) {
		t.Errorf("read at 60000 brought bytes from elsewhere in the file")
	}
	if strings.Contains(logs.String(), "ignores REST") {
		t.Errorf("a stale expected size made REST look ignored:\n%s", logs.String())
	}
	rc, err = c.OpenRead(ctx, "/f", 200000)
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, body[200000:]) {
		t.Errorf("read at 200000: %d bytes, %v; want the file's last 50000", len(got), err)
	}
	var rests int
	for _, l := range srv.Received() {
		if strings.HasPrefix(l, "REST ") {
			rests++
		}
	}
	if rests < 2 {
		t.Errorf("REST sent %d times, want the check plus each download at an offset: %q", rests, srv.Received())
	}
}
