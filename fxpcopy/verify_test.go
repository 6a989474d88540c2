package fxpcopy

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	server "goftp.io/server/v2"
	"goftp.io/server/v2/driver/file"
)

func TestParseDigest(t *testing.T) {
	for _, tc := range []struct {
		algo, msg, want string
		ok              bool
	}{
		{"SHA-256", "SHA-256 0-49 B1C2E0F5D1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C /a b.txt", "b1c2e0f5d1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c", true},
		{"SHA-1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "da39a3ee5e6b4b0d3255bfef95601890afd80709", true},
		{"MD5", "d41d8cd98f00b204e9800998ecf8427e /x", "d41d8cd98f00b204e9800998ecf8427e", true},
		{"CRC32", "1c291ca3", "1c291ca3", true},
		{"CRC32", "C291CA3", "0c291ca3", true}, // leading zero dropped by the server
		{"MD5", "File not found", "", false},
		{"SHA-1", "deadbeef", "", false}, // wrong length
	} {
		got, err := parseDigest(tc.algo, tc.msg)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDigest(%s, %q) = %q, %v; want %q ok=%v", tc.algo, tc.msg, got, err, tc.want, tc.ok)
		}
	}
}

func TestCommonHash(t *testing.T) {
	for _, tc := range []struct {
		name     string
		s, d     ftpclient.Features
		algo     string
		scmd, dc string
	}{
		{"none", ftpclient.Features{}, ftpclient.Features{XMD5: true}, "", "", ""},
		{"HASH both", ftpclient.Features{Hashes: []string{"SHA-1", "SHA-256"}}, ftpclient.Features{Hashes: []string{"SHA-256", "MD5"}}, "SHA-256", "HASH", "HASH"},
		{"HASH meets X command", ftpclient.Features{Hashes: []string{"SHA-1"}}, ftpclient.Features{XSHA1: true, XCRC: true}, "SHA-1", "HASH", "XSHA1"},
		{"strongest common", ftpclient.Features{XMD5: true, XSHA1: true, XCRC: true}, ftpclient.Features{XCRC: true, XMD5: true}, "MD5", "XMD5", "XMD5"},
		{"spellings", ftpclient.Features{Hashes: []string{"SHA256"}}, ftpclient.Features{Hashes: []string{"sha-256"}}, "SHA-256", "HASH", "HASH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, d, ok := commonHash(tc.s, tc.d)
			if ok != (tc.algo != "") || s.algo != tc.algo || s.cmd != tc.scmd || d.cmd != tc.dc {
				t.Errorf("commonHash = %+v %+v %v; want %s via %s/%s", s, d, ok, tc.algo, tc.scmd, tc.dc)
			}
		})
	}
}

// xhash is an X-command (XMD5, XSHA1) for the in-process goftp server; with
// lie set it reports the digest of something else.
type xhash struct {
	root string
	h    func() hash.Hash
	lie  *atomic.Bool
}

func (xhash) IsExtend() bool     { return true }
func (xhash) RequireParam() bool { return true }
func (xhash) RequireAuth() bool  { return true }
func (x xhash) Execute(sess *server.Session, param string) {
	f, err := os.Open(filepath.Join(x.root, filepath.FromSlash(sess.BuildPath(param))))
	if err != nil {
		sess.WriteMessage(550, "no such file")
		return
	}
	defer f.Close()
	h := x.h()
	io.Copy(h, f)
	if x.lie.Load() {
		h.Write([]byte("tampered"))
	}
	sess.WriteMessage(250, hex.EncodeToString(h.Sum(nil)))
}

// hashServer starts a goftp server on 127.0.0.1 offering the given X commands.
func hashServer(t *testing.T, lie *atomic.Bool, cmds ...string) (ftpclient.ServerConfig, string) {
	t.Helper()
	root := t.TempDir()
	drv, err := file.NewDriver(root)
	if err != nil {
		t.Fatal(err)
	}
	commands := map[string]server.Command{}
	for k, v := range server.DefaultCommands() {
		commands[k] = v
	}
	for _, c := range cmds {
		switch c {
		case "XMD5":
			commands[c] = xhash{root, md5.New, lie}
		case "XSHA1":
			commands[c] = xhash{root, sha1.New, lie}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	srv, err := server.NewServer(&server.Options{
		Driver: drv, Auth: &server.SimpleAuth{Name: "u", Password: "p"},
		Perm: server.NewSimplePerm("u", "u"), Commands: commands,
		Hostname: "127.0.0.1", Port: port, Logger: &server.DiscardLogger{},
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return ftpclient.ServerConfig{
		Name: "h" + cmds[0], Host: "127.0.0.1", Port: port, User: "u", Password: "p",
		FXP: ftpclient.FXPAuto, CmdTimeout: 10 * time.Second,
	}, root
}

// TestVerifyHash: with a common hash command the destination is checked by
// digest; a digest mismatch fails the copy and removes the destination.
func TestVerifyHash(t *testing.T) {
	var honest, lie atomic.Bool
	scfg, sroot := hashServer(t, &honest, "XSHA1", "XMD5")
	dcfg, droot := hashServer(t, &lie, "XMD5")
	src, err := ftpclient.New(scfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := ftpclient.New(dcfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	data := randomBytes(t, 200_000)
	if err := os.WriteFile(filepath.Join(sroot, "a.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t)
	rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{src, "/a.bin"}, Endpoint{dst, "/a.bin"}, Options{})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if rec.Verified != "size+MD5" {
		t.Errorf("Verified = %q, want size+MD5", rec.Verified)
	}
	lie.Store(true)
	_, err = e.Copy(ctxT(t, time.Minute), Endpoint{src, "/a.bin"}, Endpoint{dst, "/b.bin"}, Options{})
	if !errors.Is(err, ErrVerify) {
		t.Fatalf("with a lying server: err = %v, want ErrVerify", err)
	}
	if _, err := os.Stat(filepath.Join(droot, "b.bin")); !os.IsNotExist(err) {
		t.Errorf("destination with a bad digest not removed: %v", err)
	}
	// NoVerify skips the check.
	if _, err := e.Copy(ctxT(t, time.Minute), Endpoint{src, "/a.bin"}, Endpoint{dst, "/c.bin"}, Options{NoVerify: true}); err != nil {
		t.Errorf("NoVerify: %v", err)
	}
}
