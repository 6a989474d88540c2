package fusefs

import (
	"fmt"
	"os"
	"testing"
	"time"
)

func best(t *testing.T, f func()) time.Duration {
	var b time.Duration
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		f()
		if d := time.Since(t0); b == 0 || d < b {
			b = d
		}
	}
	return b
}

func TestZZThroughput(t *testing.T) {
	m := mount(t, setup{opts: Options{Debug: os.Getenv("DBG") != ""}})
	f, _ := os.Create(m.disk("alpha", "big"))
	f.Truncate(500 << 20)
	f.Close()
	srv := m.servers["alpha"]
	url := fmt.Sprintf("ftp://%s:%s@%s/big", srv.User, srv.Password, srv.Addr())
	t.Logf("curl %v", best(t, func() { mustRun(t, "curl", "-s", "-o", "/dev/null", url) }))
	t.Logf("cat %v", best(t, func() { mustRun(t, "sh", "-c", "cat \"$0\" >/dev/null", m.path("alpha", "big")) }))
	t.Logf("dd1M %v", best(t, func() { mustRun(t, "dd", "if="+m.path("alpha", "big"), "of=/dev/null", "bs=1M") }))
	t.Logf("write %v", best(t, func() { mustRun(t, "dd", "if=/dev/zero", "of="+m.path("alpha", "w"), "bs=1M", "count=500") }))
	t.Logf("curl up %v", best(t, func() { mustRun(t, "curl", "-s", "-T", m.disk("alpha", "big"), url+"2") }))
}
