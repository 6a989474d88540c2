package fxpcopy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// fakeSide is a side of a server that is never dialled.
func fakeSide(t *testing.T, name string) *side {
	c, err := ftpclient.New(ftpclient.ServerConfig{Name: name, Host: "192.0.2.1", TLS: ftpclient.TLSExplicit}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &side{ep: Endpoint{Client: c, Path: "/f"}}
}

// TestTLSPlans: the order in which encrypted ways are tried (the receiver
// as TLS client first, CPSV only on the passive side, servers known to
// support a command before untried ones), and what is left out: commands a
// server refused, and plans that failed, each said in a note.
func TestTLSPlans(t *testing.T) {
	// Untried commands are looked up in FEAT: with ctx done, that fails at
	// once (nothing is dialled) and the command counts as untried.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, d := fakeSide(t, "src"), fakeSide(t, "dst")
	show := func(pls []tlsPlan) string {
		var out []string
		for _, pl := range pls {
			out = append(out, pl.client.name()+":"+pl.method())
		}
		return strings.Join(out, " ")
	}
	cases := []struct {
		name      string
		pasv      *side
		known     map[string]bool // "server cmd" -> supported
		failed    [][2]*side      // client, server
		want      string
		wantNotes []string
	}{
		{name: "all known, PASV on destination", pasv: d,
			known: map[string]bool{"src SSCN": true, "src CPSV": true, "dst SSCN": true, "dst CPSV": true},
			want:  "dst:CPSV dst:SSCN src:SSCN"},
		{name: "all known, PASV on source", pasv: s,
			known: map[string]bool{"src SSCN": true, "src CPSV": true, "dst SSCN": true, "dst CPSV": true},
			want:  "dst:SSCN src:CPSV src:SSCN"},
		{name: "refused commands left out", pasv: d,
			known:     map[string]bool{"src SSCN": true, "dst SSCN": false, "dst CPSV": false},
			want:      "src:SSCN",
			wantNotes: []string{"dst has no CPSV", "dst has no SSCN"}},
		{name: "known before untried", pasv: d,
			known: map[string]bool{"src SSCN": true},
			want:  "src:SSCN dst:CPSV dst:SSCN"},
		{name: "failed plan left out", pasv: d,
			known:     map[string]bool{"src SSCN": true, "dst SSCN": false, "dst CPSV": false},
			failed:    [][2]*side{{s, d}},
			want:      "",
			wantNotes: []string{"src as TLS client of dst failed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m protMemory
			for k, ok := range tc.known {
				name, cmd, _ := strings.Cut(k, " ")
				sd := s
				if name == "dst" {
					sd = d
				}
				m.setCommand(sd, cmd, ok)
			}
			for _, f := range tc.failed {
				m.planFailed(f[0], f[1], f[0] == s, errors.New("522 session reuse required"))
			}
			pls, notes := m.plans(ctx, s, d, tc.pasv, true)
			if got := show(pls); got != tc.want {
				t.Errorf("plans %q, want %q", got, tc.want)
			}
			joined := strings.Join(notes, "; ")
			for _, n := range tc.wantNotes {
				if !strings.Contains(joined, n) {
					t.Errorf("notes %q lack %q", joined, n)
				}
			}
		})
	}
}

// TestRefusedNoteEscapes: a refusal of SSCN or CPSV goes into
// Record.Protection with the server's text escaped, as every other reply
// fxpcopy quotes (the CPSV refusal used to be quoted raw).
func TestRefusedNoteEscapes(t *testing.T) {
	sd := fakeSide(t, "dst")
	got := refusedNote(sd, "CPSV", ftpclient.Reply{Code: 500, Msg: "no\x1b[2J\rway\nat all \xff"})
	if strings.ContainsAny(got, "\x1b\r\n\xff") || !strings.HasPrefix(got, "dst refused CPSV (500 no") {
		t.Errorf("refusedNote = %q", got)
	}
}
