package streammatch

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
)

// newSum returns a hash for algo, nil for an unknown one.
func newSum(algo Algo) hash.Hash {
	switch algo {
	case SHA256:
		return sha256.New()
	case SHA1:
		return sha1.New()
	case MD5:
		return md5.New()
	case CRC32:
		return crc32.NewIEEE()
	}
	return nil
}

// sumOf returns the hash computing algo, nil if not asked for. Called with
// w.mu held.
func (w *Writer) sumOf(algo Algo) hash.Hash {
	for _, s := range w.sums {
		if s.algo == algo {
			return s.h
		}
	}
	return nil
}

// ErrNoSum is returned by Sum when the digest cannot describe the file.
var ErrNoSum = errors.New("streammatch: no digest of the written file")

// Sum returns the digest algo of the file written so far, for comparison
// with the destination server's HASH, XSHA1, XMD5 or XCRC reply.
// It fails (wrapping ErrNoSum) if algo was not given to NewWriter, or if
// the writes were not one sequential stream or left a hole at the end (the
// digest would not describe the file).
func (w *Writer) Sum(algo Algo) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.stop != "":
		return nil, fmt.Errorf("%w: %s", ErrNoSum, w.stop)
	case w.end > w.written:
		return nil, fmt.Errorf("%w: the file was extended to %d bytes but only %d were written", ErrNoSum, w.end, w.written)
	}
	h := w.sumOf(algo)
	if h == nil {
		return nil, fmt.Errorf("%w: %s was not asked for", ErrNoSum, algo)
	}
	return h.Sum(nil), nil
}
