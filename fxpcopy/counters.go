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
	// RelayReasons counts relayed copies per reason (why FXP was not used),
	// at most maxReasons distinct reasons; the rest count under OtherReasons.
	RelayReasons map[string]int64 `json:",omitempty"`
}

// OtherReasons is the RelayReasons key of reasons beyond maxReasons.
const OtherReasons = "(other reasons)"

// maxReasons bounds RelayReasons (reasons quote server replies, which may
// name ports or files).
const maxReasons = 32

// count adds one finished copy.
func (c *Counters) count(rec Record, err error) {
	moved := max(rec.Bytes-rec.Resumed, 0)
	switch {
	case err != nil:
		c.Failed++
		// Bytes of a failed relay still crossed this host.
		if rec.Mode == ModeRelay {
			c.RelayBytes += moved
		}
	case rec.Mode == ModeRelay:
		c.RelayFiles++
		c.RelayBytes += moved
		reason := rec.Fallback
		if reason == "" {
			reason = "(no reason given)"
		}
		if c.RelayReasons == nil {
			c.RelayReasons = map[string]int64{}
		}
		if _, known := c.RelayReasons[reason]; !known && len(c.RelayReasons) >= maxReasons {
			reason = OtherReasons
		}
		c.RelayReasons[reason]++
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

// clone is a copy that shares no map with c.
func (c Counters) clone() Counters {
	c.RelayReasons = maps.Clone(c.RelayReasons)
	return c
}
