// Package e2e holds the end-to-end tests of fxpfs: the real fxpfs binary,
// built once per test run, mounts real vsftpd and pure-ftpd instances
// (package internal/realftpd) through the kernel as a subprocess, and the
// tests drive the mount with ordinary tools (ls, stat, find, cat, dd, cp,
// mv, rm, mkdir, touch, rsync, install) and with `fxpfs cp` and
// `fxpfs status`, comparing what they see with the servers' directories on
// disk.
//
// The servers listen on different loopback addresses (alpha: vsftpd on
// 127.0.0.2, beta: pure-ftpd on 127.0.0.3), so that FXP between them crosses
// the servers' foreign-address checks as it would between two hosts.
//
// Requirements: root, /dev/fuse, fusermount3, mountpoint, rsync and the two
// servers (scripts/install-deps.sh). Missing ones skip a test, saying why;
// with CI set they fail it instead. Under `go test -short` nothing runs.
//
// The package has no code outside its tests.
package e2e
