package fxpcopy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// TestCopiesReserveTheirConnections: four relayed copies within one server
// that takes two connections, at once. Each needs a download and an upload
// together; they reserve both or wait holding none, so all finish, and the
// server never sees more than two connections.
func TestCopiesReserveTheirConnections(t *testing.T) {
	srv := ftptest.Start(t, ftptest.WithMaxConns(2))
	cfg := srv.Config("one")
	cfg.MaxConns, cfg.FXP = 2, ftpclient.FXPOff
	c, err := ftpclient.New(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := bytes.Repeat([]byte("relay me "), 100000)
	for i := range 4 {
		if err := os.WriteFile(filepath.Join(srv.Root, fmt.Sprintf("src%d", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := newEngine(t)
	ctx := ctxT(t, time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Copy(ctx, Endpoint{c, fmt.Sprintf("/src%d", i)}, Endpoint{c, fmt.Sprintf("/dst%d", i)}, Options{})
			errs <- err
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("copies still running after 30 s (deadlocked?)")
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for i := range 4 {
		if got, _ := os.ReadFile(filepath.Join(srv.Root, fmt.Sprintf("dst%d", i))); !bytes.Equal(got, data) {
			t.Errorf("dst%d: %d bytes", i, len(got))
		}
	}
	if p := srv.PeakConns(); p > 2 {
		t.Errorf("peak %d connections, the server takes 2", p)
	}
	if st := c.Stats(); st.Slots != 0 || st.Waiting != 0 {
		t.Errorf("slots left held: %+v", st)
	}
}
