package fxpcopy

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// hashCmd is how one server computes one algorithm.
type hashCmd struct {
	algo string // canonical name: "SHA-256", "SHA-1", "MD5", "CRC32", ...
	cmd  string // "HASH" (after OPTS HASH algo) or an X command: "XSHA1", ...
}

// hashPreference orders the algorithms, strongest first.
var hashPreference = []string{"SHA-512", "SHA-256", "SHA-1", "MD5", "CRC32"}

// hexLen is the digest length in hex digits.
var hexLen = map[string]int{"SHA-512": 128, "SHA-256": 64, "SHA-1": 40, "MD5": 32, "CRC32": 8}

// canonicalAlgo maps a HASH algorithm name as servers spell it.
func canonicalAlgo(s string) string {
	u := strings.ToUpper(strings.TrimSuffix(strings.TrimSpace(s), "*"))
	switch u {
	case "SHA512", "SHA-512":
		return "SHA-512"
	case "SHA256", "SHA-256":
		return "SHA-256"
	case "SHA1", "SHA-1":
		return "SHA-1"
	case "MD5":
		return "MD5"
	case "CRC32", "CRC-32", "CRC":
		return "CRC32"
	}
	return ""
}

// hashCommands lists what a server can hash with, keyed by canonical algorithm.
// HASH is preferred over an X command for the same algorithm.
func hashCommands(f ftpclient.Features) map[string]hashCmd {
	m := map[string]hashCmd{}
	if f.XCRC {
		m["CRC32"] = hashCmd{"CRC32", "XCRC"}
	}
	if f.XMD5 {
		m["MD5"] = hashCmd{"MD5", "XMD5"}
	}
	if f.XSHA1 {
		m["SHA-1"] = hashCmd{"SHA-1", "XSHA1"}
	}
	for _, h := range f.Hashes {
		if a := canonicalAlgo(h); a != "" {
			m[a] = hashCmd{a, "HASH"}
		}
	}
	return m
}

// commonHash picks the strongest algorithm both servers can compute.
func commonHash(fs, fd ftpclient.Features) (src, dst hashCmd, ok bool) {
	ms, md := hashCommands(fs), hashCommands(fd)
	for _, a := range hashPreference {
		s, ok1 := ms[a]
		d, ok2 := md[a]
		if ok1 && ok2 {
			return s, d, true
		}
	}
	return hashCmd{}, hashCmd{}, false
}

// parseDigest finds the digest of algo in a HASH or X-command reply message:
// "SHA-256 0-49 <hex> name" (HASH) or "<hex>" / "<hex> name" (X commands).
func parseDigest(algo, msg string) (string, error) {
	fields := strings.Fields(msg)
	want := hexLen[algo]
	for _, f := range fields {
		if !isHex(f) {
			continue
		}
		if algo == "CRC32" && len(f) <= 8 {
			v, err := strconv.ParseUint(f, 16, 32)
			if err == nil {
				return fmt.Sprintf("%08x", v), nil // some servers drop leading zeros
			}
		}
		if len(f) == want {
			return strings.ToLower(f), nil
		}
	}
	return "", fmt.Errorf("no %s digest in reply %q", algo, msg)
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// digest asks ep's server for the digest of its file.
func digest(ctx context.Context, ep Endpoint, h hashCmd) (sum string, err error) {
	c, err := ep.Client.AcquireRaw(ctx)
	if err != nil {
		return "", err
	}
	defer func() { c.Release(err) }()
	p, err := c.ServerPath(ep.Path)
	if err != nil {
		return "", err
	}
	var r ftpclient.Reply
	if h.cmd == "HASH" {
		if r, err = c.Cmd(ctx, "OPTS HASH %s", h.algo); err != nil {
			return "", err
		}
		if r.Code != 200 {
			return "", fmt.Errorf("OPTS HASH %s: %s", h.algo, replyText(r))
		}
	}
	if r, err = c.Cmd(ctx, "%s %s", h.cmd, p); err != nil {
		return "", err
	}
	if r.Code/100 != 2 {
		return "", fmt.Errorf("%s: %s", h.cmd, replyText(r))
	}
	return parseDigest(h.algo, r.Msg)
}

// verify checks the destination against the source: SIZE, then a common hash
// if both servers offer one. It returns what was checked.
func (e *Engine) verify(ctx context.Context, src, dst Endpoint, size int64) (string, error) {
	n, err := dst.Client.Size(ctx, dst.Path)
	if err != nil {
		return "", fmt.Errorf("verify: size of destination: %w", err)
	}
	if n != size {
		return "", fmt.Errorf("%w: destination has %d bytes, source %d", ErrVerify, n, size)
	}
	verified := "size"
	fs, err1 := src.Client.Features(ctx)
	fd, err2 := dst.Client.Features(ctx)
	if err1 != nil || err2 != nil {
		e.log.Debug("verify: no features, size only", "src", src.String(), "dst", dst.String())
		return verified, nil
	}
	hs, hd, ok := commonHash(fs, fd)
	if !ok {
		return verified, nil
	}
	type res struct {
		sum string
		err error
	}
	sch := make(chan res, 1)
	go func() {
		s, err := digest(ctx, src, hs)
		sch <- res{s, err}
	}()
	ds, derr := digest(ctx, dst, hd)
	sr := <-sch
	if sr.err != nil || derr != nil {
		// Not a mismatch: the hash just could not be had (timeout on a big
		// file, a server that advertises more than it does).
		e.log.Info("verify: hash unavailable, size only", "algo", hs.algo,
			"src", src.String(), "srcErr", sr.err, "dst", dst.String(), "dstErr", derr)
		return verified, nil
	}
	if sr.sum != ds {
		return verified, fmt.Errorf("%w: %s differs: source %s, destination %s", ErrVerify, hs.algo, sr.sum, ds)
	}
	return verified + "+" + hs.algo, nil
}
