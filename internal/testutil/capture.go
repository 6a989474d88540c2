package testutil

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Capture records the TCP traffic between two IPv4 addresses on the
// loopback interface (an AF_PACKET socket, which needs root): how many
// payload bytes went between them, how many TCP connections began with a
// TLS handshake record, and how often each marker appeared in clear. It is
// how tests show that two servers' FXP data connection is encrypted: the
// copied file's marker never shows, and the connection starts with TLS.
//
// Everything on lo between the two addresses counts, whoever sent it: give
// the servers addresses no other process uses (see LoopbackAddrs).
type Capture struct {
	fd      int
	a, b    [4]byte
	markers [][]byte

	mu      sync.Mutex
	stats   CaptureStats
	flows   map[[2]uint16]bool // connections seen with payload
	done    chan struct{}
	stopped bool
	fence   []byte // Stop's UDP datagram from a to b: everything before it is read
	fenced  bool   // the fence was seen
}

// CaptureStats is what a Capture saw.
type CaptureStats struct {
	Payload   int64 // TCP payload bytes between the two addresses
	Flows     int   // TCP connections between them that carried payload
	TLSFlows  int   // of those, the ones whose first payload is a TLS handshake record
	Hits      []int // per marker: packets it appeared in (clear text)
	Truncated int   // packets cut short by the buffer (should be 0)
	Dropped   int   // packets the kernel dropped because the reader fell behind (should be 0)
}

// CaptureLoopback starts capturing between hosts a and b (IPv4 literals).
// It skips the test without root (fails under CI) and stops at cleanup.
func CaptureLoopback(t testing.TB, a, b string, markers ...[]byte) *Capture {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("packet capture needs root [CI is set: a failure, not a skip]")
		}
		t.Skip("packet capture needs root")
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	proto := htons(syscall.ETH_P_ALL)
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(proto))
	if err != nil {
		t.Fatalf("capture: socket: %v", err)
	}
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 64<<20)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: proto, Ifindex: lo.Index}); err != nil {
		syscall.Close(fd)
		t.Fatalf("capture: bind lo: %v", err)
	}
	if err := attachPairFilter(fd, a, b); err != nil {
		// Everything on lo then reaches the reader: it works, with more
		// risk of kernel drops on a busy machine.
		t.Logf("capture: no kernel filter (%v): reading all of lo", err)
	}
	// A receive timeout lets the reader notice Stop.
	tv := syscall.NsecToTimeval(int64(100 * time.Millisecond))
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	c := &Capture{fd: fd, markers: markers, flows: map[[2]uint16]bool{}, done: make(chan struct{})}
	copy(c.a[:], net.ParseIP(a).To4())
	copy(c.b[:], net.ParseIP(b).To4())
	c.stats.Hits = make([]int, len(markers))
	go c.run()
	t.Cleanup(func() { c.Stop() })
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// attachPairFilter makes the kernel queue only IPv4 packets between a and
// b (either way) on the socket: the loopback of a machine running other
// tests carries far more, and a reader that falls behind loses packets
// (CaptureStats.Dropped).
func attachPairFilter(fd int, a, b string) error {
	ia, ib := net.ParseIP(a).To4(), net.ParseIP(b).To4()
	if ia == nil || ib == nil {
		return fmt.Errorf("not IPv4: %s, %s", a, b)
	}
	A, B := binary.BigEndian.Uint32(ia), binary.BigEndian.Uint32(ib)
	const (
		ldh  = unix.BPF_LD | unix.BPF_H | unix.BPF_ABS
		ldw  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
		keep = 0x40000 // bytes of a packet to keep (the reader's buffer is 256 KiB)
	)
	// Offsets in the frame: Ethernet type 12, IPv4 source 26, destination 30.
	prog := []unix.SockFilter{
		{Code: ldh, K: 12},
		{Code: jeq, K: 0x0800, Jt: 0, Jf: 8}, // not IPv4: drop
		{Code: ldw, K: 26},
		{Code: jeq, K: A, Jt: 1, Jf: 0}, // from a: check the destination is b
		{Code: jeq, K: B, Jt: 2, Jf: 5}, // from b: check it is a; else drop
		{Code: ldw, K: 30},
		{Code: jeq, K: B, Jt: 2, Jf: 3},
		{Code: ldw, K: 30},
		{Code: jeq, K: A, Jt: 0, Jf: 1},
		{Code: ret, K: keep},
		{Code: ret, K: 0},
	}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
}

func (c *Capture) run() {
	defer close(c.done)
	buf := make([]byte, 256<<10)
	var drainUntil time.Time // once Stop is asked: read what is queued, for at most a while
	for {
		n, from, err := syscall.Recvfrom(c.fd, buf, syscall.MSG_TRUNC)
		c.mu.Lock()
		stopped := c.stopped
		c.mu.Unlock()
		if stopped && drainUntil.IsZero() {
			drainUntil = time.Now().Add(2 * time.Second)
		}
		if err != nil {
			if stopped && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK) {
				return // the queue is empty
			}
			if stopped && time.Now().After(drainUntil) {
				return
			}
			continue // timeout or EINTR while running
		}
		if stopped && time.Now().After(drainUntil) {
			return
		}
		if ll, ok := from.(*syscall.SockaddrLinklayer); ok && ll.Pkttype == syscall.PACKET_OUTGOING {
			continue // loopback shows each packet twice: keep the incoming copy
		}
		truncated := n > len(buf)
		if truncated {
			n = len(buf)
		}
		if c.packet(buf[:n], truncated) {
			return // Stop's fence: every packet sent before Stop has been read
		}
	}
}

// packet looks at one Ethernet frame (lo gives zeroed Ethernet headers).
// It reports whether the frame is Stop's fence.
func (c *Capture) packet(f []byte, truncated bool) (fence bool) {
	const eth = 14
	if len(f) < eth+20 || binary.BigEndian.Uint16(f[12:14]) != 0x0800 {
		return false
	}
	ip := f[eth:]
	if ip[0]>>4 != 4 || (ip[9] != 6 && ip[9] != 17) {
		return false
	}
	ihl := int(ip[0]&0x0f) * 4
	var src, dst [4]byte
	copy(src[:], ip[12:16])
	copy(dst[:], ip[16:20])
	if !(src == c.a && dst == c.b) && !(src == c.b && dst == c.a) {
		return false
	}
	if ip[9] == 17 { // UDP: only Stop's fence goes between the two
		if src != c.a || len(ip) < ihl+8 {
			return false
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.fenced = c.fenced || c.fence != nil && bytes.Equal(ip[ihl+8:min(len(ip), int(binary.BigEndian.Uint16(ip[2:4])))], c.fence)
		return c.fenced
	}
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if len(ip) < ihl+20 || total > len(ip) && !truncated {
		return false
	}
	tcp := ip[ihl:min(total, len(ip))]
	off := int(tcp[12]>>4) * 4
	if len(tcp) < off {
		return false
	}
	payload := tcp[off:]
	if len(payload) == 0 {
		return false
	}
	sp, dp := binary.BigEndian.Uint16(tcp[0:2]), binary.BigEndian.Uint16(tcp[2:4])
	key := [2]uint16{min(sp, dp), max(sp, dp)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if truncated {
		c.stats.Truncated++
	}
	c.stats.Payload += int64(len(payload))
	if !c.flows[key] {
		c.flows[key] = true
		c.stats.Flows++
		if len(payload) >= 3 && payload[0] == 0x16 && payload[1] == 0x03 {
			c.stats.TLSFlows++
		}
	}
	for i, m := range c.markers {
		if bytes.Contains(payload, m) {
			c.stats.Hits[i]++
		}
	}
	return false
}

// Stats returns what was seen so far.
func (c *Capture) Stats() CaptureStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Hits = append([]int(nil), c.stats.Hits...)
	return s
}

// Stop ends the capture (idempotent) and returns what it saw: every
// packet sent between the two addresses before Stop. It sends a fence, a
// UDP datagram from a to b, and reads until the fence comes (at most 2 s,
// else until the queue is empty): reading until the queue is empty alone
// takes the whole 2 s whenever other tests keep the loopback busy.
func (c *Capture) Stop() CaptureStats {
	c.mu.Lock()
	already := c.stopped
	c.stopped = true
	c.fence = []byte(fmt.Sprintf("fxpfs-capture-fence-%016x", rand.Uint64()))
	fence := c.fence
	c.mu.Unlock()
	if !already {
		uc, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IP(c.a[:])}, &net.UDPAddr{IP: net.IP(c.b[:]), Port: 9})
		if err == nil {
			_, _ = uc.Write(fence)
			uc.Close()
		}
		<-c.done
		if st, err := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			c.mu.Lock()
			c.stats.Dropped = int(st.Drops)
			c.mu.Unlock()
		}
		syscall.Close(c.fd)
	}
	return c.Stats()
}

func (s CaptureStats) String() string {
	return fmt.Sprintf("%d payload bytes in %d connections (%d starting with TLS), marker hits %v, truncated %d, dropped %d",
		s.Payload, s.Flows, s.TLSFlows, s.Hits, s.Truncated, s.Dropped)
}

// LoopbackAddrs returns n distinct random addresses in 127.64.0.0/10, for
// servers whose traffic a Capture must tell apart from other tests' (which
// use 127.0.0.x) on the same machine.
func LoopbackAddrs(n int) []string {
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		a := fmt.Sprintf("127.%d.%d.%d", 64+rand.IntN(64), rand.IntN(256), 1+rand.IntN(254))
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}
