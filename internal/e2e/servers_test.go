package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"testing"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// Loopback addresses of the two servers: different ones, so that FXP
// between them meets the servers' foreign-address checks.
const (
	alphaAddr = "127.0.0.2"
	betaAddr  = "127.0.0.3"
)

// startAlpha starts vsftpd on 127.0.0.2 as "alpha".
func startAlpha(t testing.TB, o realftpd.Options) *realftpd.Server {
	t.Helper()
	needBinary(t)
	o.Addr, o.Name = alphaAddr, "alpha"
	return realftpd.StartVsftpd(t, o)
}

// startBeta starts pure-ftpd on 127.0.0.3 as "beta".
func startBeta(t testing.TB, o realftpd.Options) *realftpd.Server {
	t.Helper()
	needBinary(t)
	o.Addr, o.Name = betaAddr, "beta"
	return realftpd.StartPureFTPd(t, o)
}

// startPair starts alpha and beta.
func startPair(t testing.TB, alphaOpts, betaOpts realftpd.Options) (alpha, beta *realftpd.Server) {
	t.Helper()
	return startAlpha(t, alphaOpts), startBeta(t, betaOpts)
}

// randomBytes returns n random bytes.
func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// putRandom writes n random bytes to rel on s's disk and returns them.
func putRandom(t testing.TB, s *realftpd.Server, rel string, n int) []byte {
	t.Helper()
	b := randomBytes(t, n)
	s.WriteFile(t, rel, b)
	return b
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fileSHA hashes the file at p (on disk or through the mount).
func fileSHA(t testing.TB, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatalf("sha256 %s: %v", p, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("sha256 %s: %v", p, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// readDisk reads rel from s's disk.
func readDisk(t testing.TB, s *realftpd.Server, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(s.Path(rel))
	if err != nil {
		t.Fatalf("%s on disk: %v", rel, err)
	}
	return b
}

// existsDisk reports whether rel exists (lstat) on s's disk, with its size.
func existsDisk(s *realftpd.Server, rel string) (bool, int64) {
	fi, err := os.Lstat(s.Path(rel))
	if err != nil {
		return false, 0
	}
	return true, fi.Size()
}
