package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Set by TestMain.
var (
	fxpfsBin   string // the fxpfs binary under test
	runtimeDir string // XDG_RUNTIME_DIR of every fxpfs process: short paths for the status sockets
	buildErr   error  // why the binary could not be built
)

// TestMain builds cmd/fxpfs once into a temporary directory. Under -race the
// binary is built with -race too, so that a data race in the daemon fails the
// test that provoked it (see mount.stop).
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// Real servers and mounts are not unit tests: every test skips.
		os.Exit(m.Run())
	}
	tmp, err := os.MkdirTemp("", "fxpfs-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	// The servers run as an unprivileged user and must traverse the test's
	// temporary directories; the mount's subprocesses need the socket dir.
	_ = os.Chmod(tmp, 0o755)
	runtimeDir = filepath.Join(tmp, "run")
	if err := os.Mkdir(runtimeDir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	fxpfsBin = filepath.Join(tmp, "fxpfs")
	buildErr = build(fxpfsBin)
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// build compiles ./cmd/fxpfs (from the module root) to out.
func build(out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/fxpfs")
	cmd := exec.Command(goBin, args...)
	cmd.Dir = filepath.Join("..", "..")
	start := time.Now()
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %v: %w\n%s", args, err, b)
	}
	fmt.Fprintf(os.Stderr, "e2e: built %s (race=%v) in %v\n", out, raceEnabled, time.Since(start).Round(time.Millisecond))
	return nil
}

// needBinary fails the test if the binary could not be built.
func needBinary(t testing.TB) {
	t.Helper()
	if fxpfsBin == "" {
		t.Skip("e2e: -short: the fxpfs binary is not built")
	}
	if buildErr != nil {
		t.Fatalf("e2e: cannot build fxpfs: %v", buildErr)
	}
}
