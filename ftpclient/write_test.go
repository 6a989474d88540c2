package ftpclient_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

// TestAbortDuringWrite: Abort from another goroutine while Writes are in
// flight (usually blocked: the server reads nothing until then) ends
// quickly, the writer sees an error, and Close afterwards is a no-op.
func TestAbortDuringWrite(t *testing.T) {
	abortNow := make(chan struct{})
	s := newFakeServer(t, func(s *fakeServer) {
		s.handlers["STOR"] = func(fc *fakeConn, _ string) {
			fc.reply("150 send it")
			dc := fc.acceptData()
			if dc == nil {
				fc.reply("425 no data connection")
				return
			}
			<-abortNow                        // read nothing until the client gives up
			_, err := io.Copy(io.Discard, dc) // the client's reset ends this
			dc.Close()
			if err != nil {
				fc.reply("426 transfer aborted")
			} else {
				fc.reply("226 done")
			}
		}
		s.handlers["ABOR"] = func(fc *fakeConn, _ string) { fc.reply("225 ok") }
	})
	c := newFakeClient(t, s, nil)
	up, err := c.OpenWrite(context.Background(), "/f", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	writeErr := make(chan error, 1)
	go func() {
		block := bytes.Repeat([]byte("x"), 1<<20)
		for i := 0; i < 1024; i++ { // far more than the socket buffers hold
			if _, err := up.Write(block); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}()
	within(t, 5*time.Second, func() {
		// Abort either interrupts the blocked Write or runs between two
		// Writes; both must end quickly and the writer must see an error.
		close(abortNow)
		if err := up.Abort(); err != nil {
			t.Errorf("Abort: %v", err)
		}
		if err := <-writeErr; err == nil {
			t.Error("every Write succeeded although the upload was aborted")
		}
	})
	if err := up.Close(); err != nil {
		t.Errorf("Close after Abort: %v, want a no-op", err)
	}
}
