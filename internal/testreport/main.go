// Command testreport runs `go test -json ...` and prints what plain `go test`
// prints (one line per package, the output of failing tests), then one line
// naming every skipped test and why, and a closing count:
//
//	go run ./internal/testreport -- go test -race -json ./...
//
//	skipped: 2 tests: FUSE not available: /dev/fuse missing (2: e2e.TestMount, fusefs.TestRead)
//	tests: 512 passed, 0 failed, 2 skipped
//
// so that a run that skipped the real-server or mount tests says so at the
// end instead of ending on a row of "ok". Its exit status is go test's (or 1
// if a test failed and go test still exited 0).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: testreport -- go test -json [flags] [packages]")
		os.Exit(2)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	r := newReport(os.Stdout)
	if err := r.read(out); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
	}
	werr := cmd.Wait()
	r.finish()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(werr, &ee):
		code = ee.ExitCode()
	case werr != nil:
		fmt.Fprintln(os.Stderr, "testreport:", werr)
		code = 2
	}
	if code == 0 && r.failed > 0 {
		code = 1
	}
	os.Exit(code)
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output events
	Test       string
	Output     string
}

type testKey struct{ pkg, test string }

// report follows the event stream.
type report struct {
	w                     io.Writer
	output                map[testKey][]string // output of tests still running
	passed, failed, skipN int
	skips                 []skip
	seenPkgs              map[string]bool
}

type skip struct {
	pkg, test, reason string
}

func newReport(w io.Writer) *report {
	return &report{w: w, output: map[testKey][]string{}, seenPkgs: map[string]bool{}}
}

// read consumes the stream; lines that are not JSON are printed as they are.
func (r *report) read(rd io.Reader) error {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			fmt.Fprintln(r.w, string(line))
			continue
		}
		r.handle(ev)
	}
	return sc.Err()
}

func (r *report) handle(ev event) {
	if ev.Action == "build-output" {
		fmt.Fprint(r.w, ev.Output)
		return
	}
	if ev.Package != "" {
		r.seenPkgs[ev.Package] = true
	}
	if ev.Test == "" {
		// Package-level: go test's own summary lines ("ok", "FAIL", "?"),
		// and whatever a test binary printed outside a test (a panic in
		// TestMain, a timeout). "PASS" alone is noise go test omits too.
		if ev.Action == "output" && ev.Output != "PASS\n" {
			fmt.Fprint(r.w, ev.Output)
		}
		return
	}
	k := testKey{ev.Package, ev.Test}
	switch ev.Action {
	case "output":
		r.output[k] = append(r.output[k], ev.Output)
	case "pass":
		r.passed++
		delete(r.output, k)
	case "fail":
		r.failed++
		for _, l := range r.output[k] {
			if !isFramingLine(l) || strings.HasPrefix(strings.TrimSpace(l), "--- FAIL") {
				fmt.Fprint(r.w, l)
			}
		}
		delete(r.output, k)
	case "skip":
		r.skipN++
		r.skips = append(r.skips, skip{ev.Package, ev.Test, skipReason(r.output[k])})
		delete(r.output, k)
	}
}

// isFramingLine is a line test2json adds around a test's own output.
func isFramingLine(l string) bool {
	t := strings.TrimSpace(l)
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS", "--- SKIP", "--- FAIL"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// fileLinePrefix is the "file_test.go:12: " in front of t.Log/t.Skip output.
var fileLinePrefix = regexp.MustCompile(`^[\w.-]+\.go:\d+: `)

// skipReason is the message the test gave t.Skip (its last output lines).
func skipReason(lines []string) string {
	var msg []string
	for _, l := range lines {
		if isFramingLine(l) {
			continue
		}
		msg = append(msg, strings.TrimSpace(l))
	}
	// The reason is the last logged message: t.Skip logs just before the
	// test ends; earlier lines are the test's own logs.
	for i := len(msg) - 1; i >= 0; i-- {
		if fileLinePrefix.MatchString(msg[i]) {
			return fileLinePrefix.ReplaceAllString(strings.Join(msg[i:], " "), "")
		}
	}
	if len(msg) > 0 {
		return msg[len(msg)-1]
	}
	return "no reason given"
}

// finish prints the skip line and the closing count.
func (r *report) finish() {
	if len(r.skips) > 0 {
		fmt.Fprintln(r.w, r.skipLine())
	}
	fmt.Fprintf(r.w, "tests: %d passed, %d failed, %d skipped\n", r.passed, r.failed, r.skipN)
}

// skipLine groups the skipped tests by reason, on one line.
func (r *report) skipLine() string {
	prefix := commonPrefix(r.seenPkgs)
	byReason := map[string][]string{}
	var reasons []string
	for _, s := range r.skips {
		if _, ok := byReason[s.reason]; !ok {
			reasons = append(reasons, s.reason)
		}
		pkg := strings.TrimPrefix(s.pkg, prefix)
		if i := strings.LastIndex(pkg, "/"); i >= 0 {
			pkg = pkg[i+1:]
		}
		byReason[s.reason] = append(byReason[s.reason], pkg+"."+s.test)
	}
	sort.SliceStable(reasons, func(i, j int) bool { return len(byReason[reasons[i]]) > len(byReason[reasons[j]]) })
	parts := make([]string, 0, len(reasons))
	for _, why := range reasons {
		names := byReason[why]
		list := names
		if len(list) > 3 {
			list = append(append([]string{}, names[:3]...), fmt.Sprintf("+%d more", len(names)-3))
		}
		if len(why) > 160 {
			why = why[:157] + "..."
		}
		parts = append(parts, fmt.Sprintf("%s (%d: %s)", why, len(names), strings.Join(list, ", ")))
	}
	return fmt.Sprintf("skipped: %d tests: %s", len(r.skips), strings.Join(parts, "; "))
}

// commonPrefix is the import path prefix all packages share, up to a "/".
func commonPrefix(pkgs map[string]bool) string {
	first := true
	var p string
	for k := range pkgs {
		if first {
			p, first = k, false
			continue
		}
		for !strings.HasPrefix(k, p) {
			p = p[:len(p)-1]
		}
	}
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[:i+1]
	}
	return ""
}
