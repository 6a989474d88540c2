package fxpcopy

import "maps"

// Origin says what asked for a copy, when it was not a plain copy request
// (fxpfs cp, copy_file_range). It is shown after the mode in records and
// in `fxpfs status`.
type Origin string

// Origins.
const (
	// OriginMatchedStream: a program wrote, through the mount, the bytes it
	// had read from another server, and the upload was carried out by FXP
	// instead (issue 6, stream matching).
	OriginMatchedStream Origin = "matched write stream"
)

// Counters are totals since the engine was made: one count per outcome, so
// that a copy of thousands of files can be checked from `fxpfs status`
// alone, whatever the history still holds.
//
// Outcomes are exclusive: a finished copy counts in exactly one of
// FXPFiles-FXPRevFiles-MatchedFiles (plain "fxp"), FXPRevFiles, MatchedFiles,
// RelayFiles, Failed (or none, for a resume that found the destination
// complete).
type Counters struct {
	FXPFiles     int64 // copies moved server-to-server, all orientations and origins
	FXPRevFiles  int64 // of FXPFiles: in the reversed orientation (PASV on the source)
	MatchedFiles int64 // of FXPFiles: uploads replaced by FXP (OriginMatchedStream)
	RelayFiles   int64 // copies whose bytes passed through this host
	Failed       int64 // copies that failed
	FXPBytes     int64 // bytes moved server-to-server
	MatchedBytes int64 // of FXPBytes: by copies with OriginMatchedStream
	RelayBytes   int64 // bytes that passed through this host (downloaded and uploaded again)
	// RelayReasons counts relayed copies per reason (why FXP was not used:
	// Record.Reason, one of RelayPolicy, RelayRefused, RelayRemembered,
	// RelayFailed; else the Fallback text), at most maxReasons distinct
	// reasons; the rest count under OtherReasons.
	RelayReasons map[string]int64 `json:",omitempty"`
	// FailedReasons counts failed copies per kind (Record.Reason: "no
	// space", "permission", "timeout", "cancelled", "fxp refused", ...),
	// at most maxReasons distinct; the rest count under OtherReasons.
	FailedReasons map[string]int64 `json:",omitempty"`
	// Retried counts copies (of any outcome) that took more than one way:
	// an FXP attempt failed or was refused and another orientation or the
	// relay was tried.
	Retried int64 `json:",omitempty"`
}

// OtherReasons is the RelayReasons key of reasons beyond maxReasons.
const OtherReasons = "(other reasons)"

// maxReasons bounds RelayReasons (reasons quote server replies, which may
// name ports or files).
const maxReasons = 32

// addReason counts one under reason in *m (made when nil), bounded.
func addReason(m *map[string]int64, reason string) {
	if reason == "" {
		reason = "(no reason given)"
	}
	if *m == nil {
		*m = map[string]int64{}
	}
	if _, known := (*m)[reason]; !known && len(*m) >= maxReasons {
		reason = OtherReasons
	}
	(*m)[reason]++
}

// count adds one finished copy.
func (c *Counters) count(rec Record, err error) {
	moved := max(rec.Bytes-rec.Resumed, 0)
	if rec.Attempts > 1 {
		c.Retried++
	}
	switch {
	case err != nil:
		c.Failed++
		addReason(&c.FailedReasons, rec.Reason)
		// Bytes of a failed relay still crossed this host.
		if rec.Mode == ModeRelay {
			c.RelayBytes += moved
		}
	case rec.Mode == ModeRelay:
		c.RelayFiles++
		c.RelayBytes += moved
		reason := rec.Reason
		if reason == "" {
			reason = rec.Fallback
		}
		addReason(&c.RelayReasons, reason)
	case rec.Mode == ModeFXP || rec.Mode == ModeFXPRev:
		c.FXPFiles++
		c.FXPBytes += moved
		switch {
		case rec.Origin == OriginMatchedStream:
			c.MatchedFiles++
			c.MatchedBytes += moved
		case rec.Mode == ModeFXPRev:
			c.FXPRevFiles++
		}
	}
}

// uncount takes back what count added for rec, a copy that succeeded
// (Reject).
func (c *Counters) uncount(rec Record) {
	moved := max(rec.Bytes-rec.Resumed, 0)
	if rec.Attempts > 1 {
		c.Retried--
	}
	switch rec.Mode {
	case ModeRelay:
		c.RelayFiles--
		c.RelayBytes -= moved
		reason := rec.Reason
		if reason == "" {
			reason = rec.Fallback
		}
		if reason == "" {
			reason = "(no reason given)"
		}
		if n, ok := c.RelayReasons[reason]; ok {
			if n > 1 {
				c.RelayReasons[reason] = n - 1
			} else {
				delete(c.RelayReasons, reason)
			}
		}
	case ModeFXP, ModeFXPRev:
		c.FXPFiles--
		c.FXPBytes -= moved
		switch {
		case rec.Origin == OriginMatchedStream:
			c.MatchedFiles--
			c.MatchedBytes -= moved
		case rec.Mode == ModeFXPRev:
			c.FXPRevFiles--
		}
	}
}

// clone is a copy that shares no map with c.
func (c Counters) clone() Counters {
	c.RelayReasons = maps.Clone(c.RelayReasons)
	c.FailedReasons = maps.Clone(c.FailedReasons)
	return c
}
