package vfs

import (
	"math"
	"sync"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// The stream-matching threshold (Options.MatchMin = 0, the default) is
// measured, not guessed: a matched FXP costs about fxpExtraRoundTrips
// command round trips more than an upload (BenchmarkMatchedCopy: 15.6
// commands to the two servers against 5.2), and saves the upload of the
// file. So it pays off for a file of more than
//
//	fxpExtraRoundTrips × round-trip time × upload rate
//
// bytes: on a 10 Mbit/s uplink, 12.5 KB per millisecond of round trip
// (about 400 KB at 30 ms); on loopback, where an upload costs nothing,
// megabytes. The round-trip time is the larger of the two servers', from
// commands vfs times itself (SIZE of a source, RNFR/RNTO of an upload);
// the upload rate is the destination's, from the uploads of at least
// rateMinBytes it carried out (STOR to its final reply, less three round
// trips). Until a server has been measured, priors stand in: 2 ms and a
// 10 Mbit/s uplink (25 KB; 4 KB once the round trip is known to be
// 0.3 ms). The prior leans to FXP: moving the bytes server to server is
// what fxpfs is for, and a fast uplink shows in the first large upload.

// fxpExtraRoundTrips is what a matched FXP costs beyond an upload, in
// command round trips.
const fxpExtraRoundTrips = 10

// Priors and limits of the measures.
const (
	priorRTT     = 2 * time.Millisecond
	priorUpRate  = 1.25e6  // bytes/s: 10 Mbit/s, a home line's uplink
	rateMinBytes = 1 << 20 // smaller uploads pass in a shaper's burst or TCP's first windows: not the line's rate
	ewmaWeight   = 0.25    // weight of a new sample
	minMatchMin  = 4 << 10 // below a page, an FXP never pays
)

// linkStats are what vfs measured of one server's link.
type linkStats struct {
	mu     sync.Mutex
	rtt    float64 // seconds, 0: not measured
	upRate float64 // bytes/s, 0: not measured
}

// link returns cl's measures.
func (v *VFS) link(cl *ftpclient.Client) *linkStats {
	l, _ := v.links.LoadOrStore(cl, &linkStats{})
	return l.(*linkStats)
}

func ewma(old, sample float64) float64 {
	if old == 0 {
		return sample
	}
	return old + ewmaWeight*(sample-old)
}

// roundTrip records that one command (one round trip) took d.
func (l *linkStats) roundTrip(d time.Duration) {
	l.mu.Lock()
	l.rtt = ewma(l.rtt, d.Seconds())
	l.mu.Unlock()
}

// uploaded records an upload of n bytes that took d from STOR to its
// final reply: about three round trips (data connection, STOR, reply) are
// not the link's bandwidth and are taken out.
func (l *linkStats) uploaded(n int64, d time.Duration) {
	if n < rateMinBytes || d <= 0 {
		return
	}
	l.mu.Lock()
	data := max(d.Seconds()-3*l.rtt, d.Seconds()/4)
	l.upRate = ewma(l.upRate, float64(n)/data)
	l.mu.Unlock()
}

func (l *linkStats) get() (rtt, upRate float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rtt, l.upRate
}

// matchMin is the smallest source worth an FXP instead of the upload of
// a copy from src to dst (see the top of this file).
func (v *VFS) matchMin(src, dst *ftpclient.Client) int64 {
	if v.opts.MatchMin > 0 {
		return v.opts.MatchMin
	}
	sr, _ := v.link(src).get()
	dr, rate := v.link(dst).get()
	return adaptiveMatchMin(sr, dr, rate)
}

// adaptiveMatchMin is the threshold for the measures given (0: unknown).
func adaptiveMatchMin(srcRTT, dstRTT, upRate float64) int64 {
	rtt := math.Max(srcRTT, dstRTT)
	if rtt == 0 {
		rtt = priorRTT.Seconds()
	}
	if upRate == 0 {
		upRate = priorUpRate
	}
	return max(int64(fxpExtraRoundTrips*rtt*upRate), minMatchMin)
}
