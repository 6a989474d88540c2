package streammatch

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"testing"
)

func TestSum(t *testing.T) {
	data := randBytes(70, 3*mib+11)
	crc := crc32.ChecksumIEEE(data)
	s256, s1, m5 := sha256.Sum256(data), sha1.Sum(data), md5.Sum(data)
	wantSums := map[Algo][]byte{
		SHA256: s256[:], SHA1: s1[:], MD5: m5[:],
		CRC32: {byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)},
	}
	ix := NewIndex(Options{})

	t.Run("all four, written in odd pieces, nothing read", func(t *testing.T) {
		w := ix.NewWriter(SHA256, SHA1, MD5, CRC32, SHA256)
		write(w, data, 0, len(data), 12345)
		for algo, want := range wantSums {
			got, err := w.Sum(algo)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("Sum(%s) = %x, %v; want %x", algo, got, err, want)
			}
		}
		if v := w.Verdict(); v.Result != Unknown {
			t.Errorf("verdict %v for data never read", v)
		}
	})
	t.Run("only those asked for", func(t *testing.T) {
		w := ix.NewWriter(MD5, "BLAKE9")
		write(w, data, 0, len(data), mib)
		if got, err := w.Sum(MD5); err != nil || !bytes.Equal(got, wantSums[MD5]) {
			t.Errorf("Sum(MD5) = %x, %v", got, err)
		}
		for _, a := range []Algo{SHA256, SHA1, CRC32, "BLAKE9"} {
			if _, err := w.Sum(a); !errors.Is(err, ErrNoSum) {
				t.Errorf("Sum(%s) error %v, want ErrNoSum", a, err)
			}
		}
	})
	t.Run("none after a write out of sequence", func(t *testing.T) {
		w := ix.NewWriter(SHA256)
		write(w, data, 0, mib, mib)
		w.Write(10, data[10:20])
		if _, err := w.Sum(SHA256); !errors.Is(err, ErrNoSum) {
			t.Errorf("error %v, want ErrNoSum", err)
		}
	})
	t.Run("none with a hole at the end", func(t *testing.T) {
		w := ix.NewWriter(SHA256)
		write(w, data, 0, mib, mib)
		w.Truncate(2 * mib)
		if _, err := w.Sum(SHA256); !errors.Is(err, ErrNoSum) {
			t.Errorf("error %v, want ErrNoSum", err)
		}
		write(w, data, mib, len(data), mib) // filled, and beyond
		want := sha256.Sum256(data)
		if got, err := w.Sum(SHA256); err != nil || !bytes.Equal(got, want[:]) {
			t.Errorf("Sum = %x, %v", got, err)
		}
	})
	t.Run("also while the copy is matched", func(t *testing.T) {
		src := id("a", "/d", data)
		readAll(ix, src, data, mib)
		w := ix.NewWriter(CRC32)
		write(w, data, 0, len(data), mib)
		if v := w.Verdict(); v.Result != Proven {
			t.Fatalf("verdict %v", v)
		}
		if got, err := w.Sum(CRC32); err != nil || !bytes.Equal(got, wantSums[CRC32]) {
			t.Errorf("Sum(CRC32) = %x, %v", got, err)
		}
	})
}
