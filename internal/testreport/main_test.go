package main

import (
	"bytes"
	"strings"
	"testing"
)

// A go test -json stream with a pass, a failure, two skips for one reason
// and one for another, a package without tests, and a build error line.
const stream = `{"Action":"start","Package":"example.org/m/a"}
{"Action":"run","Package":"example.org/m/a","Test":"TestOK"}
{"Action":"output","Package":"example.org/m/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"example.org/m/a","Test":"TestOK","Output":"    a_test.go:9: chatty log\n"}
{"Action":"output","Package":"example.org/m/a","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"example.org/m/a","Test":"TestOK"}
{"Action":"run","Package":"example.org/m/a","Test":"TestBad"}
{"Action":"output","Package":"example.org/m/a","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"output","Package":"example.org/m/a","Test":"TestBad","Output":"    a_test.go:20: got 1, want 2\n"}
{"Action":"output","Package":"example.org/m/a","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"example.org/m/a","Test":"TestBad"}
{"Action":"output","Package":"example.org/m/a","Output":"FAIL\n"}
{"Action":"output","Package":"example.org/m/a","Output":"FAIL\texample.org/m/a\t0.01s\n"}
{"Action":"fail","Package":"example.org/m/a"}
{"Action":"run","Package":"example.org/m/b/e2e","Test":"TestMount"}
{"Action":"output","Package":"example.org/m/b/e2e","Test":"TestMount","Output":"=== RUN   TestMount\n"}
{"Action":"output","Package":"example.org/m/b/e2e","Test":"TestMount","Output":"    mount.go:38: FUSE not available: /dev/fuse missing\n"}
{"Action":"output","Package":"example.org/m/b/e2e","Test":"TestMount","Output":"--- SKIP: TestMount (0.00s)\n"}
{"Action":"skip","Package":"example.org/m/b/e2e","Test":"TestMount"}
{"Action":"run","Package":"example.org/m/b/e2e","Test":"TestCp/sub"}
{"Action":"output","Package":"example.org/m/b/e2e","Test":"TestCp/sub","Output":"    servers.go:1: started\n"}
{"Action":"output","Package":"example.org/m/b/e2e","Test":"TestCp/sub","Output":"    mount.go:38: FUSE not available: /dev/fuse missing\n"}
{"Action":"skip","Package":"example.org/m/b/e2e","Test":"TestCp/sub"}
{"Action":"run","Package":"example.org/m/c","Test":"TestReal"}
{"Action":"output","Package":"example.org/m/c","Test":"TestReal","Output":"    realftpd.go:217: realftpd: vsftpd not found\n"}
{"Action":"output","Package":"example.org/m/c","Test":"TestReal","Output":"        (install it with scripts/install-deps.sh)\n"}
{"Action":"skip","Package":"example.org/m/c","Test":"TestReal"}
{"Action":"output","Package":"example.org/m/c","Output":"PASS\n"}
{"Action":"output","Package":"example.org/m/c","Output":"ok  \texample.org/m/c\t0.02s\n"}
{"Action":"output","Package":"example.org/m/d","Output":"?   \texample.org/m/d\t[no test files]\n"}
go: downloading example.org/x v1.0.0
`

func TestReport(t *testing.T) {
	var out bytes.Buffer
	r := newReport(&out)
	if err := r.read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	r.finish()
	want := "    a_test.go:20: got 1, want 2\n" +
		"--- FAIL: TestBad (0.00s)\n" +
		"FAIL\n" +
		"FAIL\texample.org/m/a\t0.01s\n" +
		"ok  \texample.org/m/c\t0.02s\n" +
		"?   \texample.org/m/d\t[no test files]\n" +
		"go: downloading example.org/x v1.0.0\n" +
		"skipped: 3 tests: FUSE not available: /dev/fuse missing (2: e2e.TestMount, e2e.TestCp/sub); " +
		"realftpd: vsftpd not found (install it with scripts/install-deps.sh) (1: c.TestReal)\n" +
		"tests: 1 passed, 1 failed, 3 skipped\n"
	if got := out.String(); got != want {
		t.Errorf("report:\n%s\nwant:\n%s", got, want)
	}
	if r.failed != 1 {
		t.Errorf("failed = %d", r.failed)
	}
}

func TestReportNoSkips(t *testing.T) {
	var out bytes.Buffer
	r := newReport(&out)
	_ = r.read(strings.NewReader(`{"Action":"pass","Package":"p","Test":"TestA"}` + "\n"))
	r.finish()
	if got := out.String(); got != "tests: 1 passed, 0 failed, 0 skipped\n" {
		t.Errorf("got %q", got)
	}
}
