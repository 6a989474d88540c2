package fxpcopy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Data protection of FXP with TLS servers: which of the two servers, if
// any, is the TLS client of the data connection between them, or whether
// that connection may go in clear. The rules (README "TLS"):
//
//   - No TLS server: nothing to decide.
//   - A TLS server's data connection is never in clear unless its config
//     says fxp_clear_data = true (ServerConfig.FXPClearData). A pair where
//     that does not hold and no encrypted way exists is refused, so the
//     engine relays: each leg of a relay is protected as its server's own
//     connections are.
//   - Two TLS servers: both stay in PROT P (as ftpclient keeps its sessions), and
//     one server must act as the TLS client of the data connection, since
//     both would otherwise wait as TLS servers: SSCN ON on a server that
//     offers it (proftpd's mod_tls, glftpd, DrFTPD, ...), in either
//     orientation, or CPSV instead of PASV on the passive side. The other
//     server is then TLS server to a client that cannot resume its control
//     connection's session: pure-ftpd accepts that, vsftpd's default
//     (require_ssl_reuse) and proftpd's default do not. So a plan is tried
//     and its failure remembered per (client, server, direction) for
//     planMemory; SSCN and CPSV support is taken from FEAT or learned by
//     sending the command, and remembered per server.
//   - No encrypted way between two TLS servers: PROT C on both if both allow
//     clear data, else refused (relay).
//
// The server that receives the data is preferred as the TLS client: a
// sending client closes the connection with the server's unread TLS 1.3
// session tickets pending, which resets it and can cost the receiving
// server the tail of the file (seen with proftpd sending to vsftpd: 426).

// planMemory is how long a failed encrypted plan is not tried again.
const planMemory = 30 * time.Minute

type protMode int

const (
	protNone  protMode = iota // no TLS server in the pair
	protTLS                   // encrypted: client is the TLS client of the data connection
	protClear                 // PROT C on the TLS side(s), allowed by fxp_clear_data
)

// protection is the plan of one FXP attempt (Engine.protect), carried out
// by passive and settle.
type protection struct {
	e        *Engine
	mode     protMode
	pasv     *side
	port     *side
	src      *side
	client   *side   // protTLS: the TLS client of the data connection
	server   *side   // protTLS: the other side
	cpsv     bool    // protTLS: the client is the passive side, asked with CPSV
	sscnOn   *side   // the side SSCN ON was sent to (to switch it off again)
	clear    []*side // protClear: the sides switched to PROT C
	tlsSides []*side
	plans    []tlsPlan // protTLS: the plans not yet tried in this attempt
	unusual  []string  // why plans were skipped or failed, for the record
}

// tlsPlan is one way to encrypt: client is the TLS client, by SSCN or CPSV.
type tlsPlan struct {
	client, server *side
	cpsv           bool
}

func (pl tlsPlan) method() string {
	if pl.cpsv {
		return "CPSV"
	}
	return "SSCN"
}

// protect decides the data protection of one FXP attempt in the given
// orientation, before any connection is taken: from the configs and what
// the engine remembers (FEAT, refused commands, failed plans). It returns a
// *refusal when no allowed way can exist — a TLS server paired with a plain
// one, or two TLS servers with no encrypted plan left, without
// fxp_clear_data — so that such an attempt costs no connection (the relay
// follows). prepare then carries the plan out on the attempt's connections.
func (e *Engine) protect(ctx context.Context, s, d *side, mode Mode) (*protection, error) {
	p := &protection{e: e, pasv: d, port: s, src: s}
	if mode == ModeFXPRev {
		p.pasv, p.port = s, d
	}
	for _, sd := range []*side{s, d} {
		if sd.ep.Client.Config().TLS != ftpclient.TLSNone {
			p.tlsSides = append(p.tlsSides, sd)
		}
	}
	switch len(p.tlsSides) {
	case 0:
		return p, nil
	case 1:
		other := s
		if p.tlsSides[0] == s {
			other = d
		}
		p.unusual = append(p.unusual, fmt.Sprintf("%s has no TLS", other.name()))
	case 2:
		// CPSV answers like PASV, with an IPv4 address: no use where the
		// passive server is reached over IPv6 (EPSV). Checked again on the
		// connection (prepare): a host name may resolve either way.
		ip := net.ParseIP(p.pasv.ep.Client.Config().Host)
		cpsvOK := ip == nil || ip.To4() != nil
		var notes []string
		p.plans, notes = e.tlsMem.plans(ctx, s, d, p.pasv, cpsvOK)
		p.unusual = append(p.unusual, notes...)
		if len(p.plans) > 0 {
			return p, nil
		}
	}
	if err := p.clearRefusal(); err != nil {
		return nil, err
	}
	return p, nil
}

// prepare carries out the plan on the attempt's connections: SSCN ON for
// an encrypted plan (CPSV is sent by passive), or PROT C where the data
// goes in clear. It returns a *refusal when the servers refuse every
// encrypted way left and clear data is not allowed.
func (p *protection) prepare(ctx context.Context, t *transfer) error {
	if len(p.tlsSides) == 0 {
		return nil
	}
	if len(p.plans) > 0 && net.ParseIP(p.pasv.conn.Host()).To4() == nil {
		kept := p.plans[:0]
		for _, pl := range p.plans {
			if !pl.cpsv {
				kept = append(kept, pl)
			}
		}
		p.plans = kept
	}
	if err := p.next(ctx); err != nil {
		return err
	}
	if p.mode == protTLS {
		t.update(func(r *Record) { r.Protection = p.note() })
		return nil
	}
	return p.inClear(ctx, t)
}

// clearRefusal is the refusal of an attempt that would have to send a TLS
// server's data in clear without its fxp_clear_data, or nil when every TLS
// side allows clear data.
func (p *protection) clearRefusal() error {
	var closed []string
	for _, sd := range p.tlsSides {
		if !sd.ep.Client.Config().FXPClearData {
			closed = append(closed, sd.name())
		}
	}
	if len(closed) == 0 {
		return nil
	}
	why := strings.Join(p.unusual, "; ")
	if why == "" {
		why = "no encrypted way"
	}
	return &refusal{step: "encrypted FXP", server: strings.Join(closed, ", "),
		err: fmt.Errorf("%s; fxp_clear_data is not set on %s: its data is not sent in clear", why, strings.Join(closed, ", "))}
}

// inClear switches the TLS sides to PROT C when every one allows clear
// data (fxp_clear_data), else refuses the attempt, saying why.
func (p *protection) inClear(ctx context.Context, t *transfer) error {
	if err := p.clearRefusal(); err != nil {
		return err
	}
	for _, sd := range p.tlsSides {
		r, err := sd.conn.Cmd(ctx, "PROT C")
		if err != nil || r.Code/100 != 2 {
			return refusalOf("PROT C", sd, r, err)
		}
		p.clear = append(p.clear, sd)
	}
	p.mode = protClear
	t.update(func(r *Record) { r.Protection = p.note() })
	return nil
}

// next takes the next TLS plan that the servers accept at the command
// level (SSCN ON answered 2xx; CPSV is checked by passive). It leaves
// p.mode at protNone when none is left.
func (p *protection) next(ctx context.Context) error {
	for len(p.plans) > 0 {
		pl := p.plans[0]
		p.plans = p.plans[1:]
		if pl.cpsv {
			p.mode, p.client, p.server, p.cpsv = protTLS, pl.client, pl.server, true
			return nil
		}
		r, err := pl.client.conn.Cmd(ctx, "SSCN ON")
		if err != nil {
			return refusalOf("SSCN ON", pl.client, r, err)
		}
		if r.Code/100 != 2 {
			p.e.tlsMem.noCommand(pl.client, "SSCN")
			p.unusual = append(p.unusual, refusedNote(pl.client, "SSCN", r))
			continue
		}
		p.e.tlsMem.hasCommand(pl.client, "SSCN")
		p.sscnOn = pl.client
		p.mode, p.client, p.server, p.cpsv = protTLS, pl.client, pl.server, false
		return nil
	}
	p.mode = protNone
	return nil
}

// passive sends PASV, or CPSV when the plan makes the passive side the TLS
// client; a refused CPSV moves on to the next plan (or to clear data, or
// refuses the attempt).
func (p *protection) passive(ctx context.Context, t *transfer) (string, error) {
	for p.mode == protTLS && p.cpsv {
		addr, err := p.pasv.conn.Cpsv(ctx)
		if err == nil {
			p.e.tlsMem.hasCommand(p.pasv, "CPSV")
			return addr, nil
		}
		var oe *ftpclient.OpError
		if !errors.As(err, &oe) || oe.Code == 0 {
			return "", err
		}
		p.e.tlsMem.noCommand(p.pasv, "CPSV")
		p.unusual = append(p.unusual, refusedNote(p.pasv, "CPSV", ftpclient.Reply{Code: oe.Code, Msg: oe.Msg}))
		if err := p.next(ctx); err != nil {
			return "", err
		}
		if p.mode != protTLS {
			if err := p.inClear(ctx, t); err != nil {
				return "", err
			}
			break
		}
		t.update(func(r *Record) { r.Protection = p.note() })
	}
	return p.pasv.conn.Pasv(ctx)
}

// refusedNote says that sd refused cmd, for Record.Protection (shown by
// fxpfs cp and fxpfs status): the reply is quoted as replyText does, so
// that a server cannot put control characters into them.
func refusedNote(sd *side, cmd string, r ftpclient.Reply) string {
	return fmt.Sprintf("%s refused %s (%s)", sd.name(), cmd, replyText(r))
}

// settle runs when the attempt is over, before its connections are
// released: an encrypted plan's outcome is remembered (a failed one is not
// tried again for planMemory, unless the copy was cancelled or the file
// itself refused), and after a success the sessions are put back (SSCN OFF,
// PROT P) so that they can be kept for reuse. nil-safe.
func (p *protection) settle(ctx context.Context, err error) {
	if p == nil {
		return
	}
	if p.mode == protTLS {
		if err == nil {
			p.e.tlsMem.planWorked(p.client, p.server, p.client == p.src)
		} else if ctx.Err() == nil && !finalErr(err) {
			p.e.tlsMem.planFailed(p.client, p.server, p.client == p.src, err)
		}
	}
	if err != nil {
		return // the connections are destroyed on release
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.e.timing.removeWait)
	defer cancel()
	if p.sscnOn != nil {
		_, _ = p.sscnOn.conn.Cmd(rctx, "SSCN OFF")
	}
	for _, sd := range p.clear {
		_, _ = sd.conn.Cmd(rctx, "PROT P")
	}
}

// note says how the data went, for Record.Protection.
func (p *protection) note() string {
	switch p.mode {
	case protTLS:
		return fmt.Sprintf("TLS, %s is the TLS client (%s)", p.client.name(), tlsPlan{cpsv: p.cpsv}.method())
	case protClear:
		names := make([]string, len(p.clear))
		for i, sd := range p.clear {
			names[i] = sd.name()
		}
		s := "clear, allowed by fxp_clear_data on " + strings.Join(names, ", ")
		if len(p.unusual) > 0 {
			s += " (" + strings.Join(p.unusual, "; ") + ")"
		}
		return s
	}
	return ""
}

// relayNote says how each leg of a relay is protected, for Record.Protection.
func relayNote(src, dst Endpoint) string {
	leg := func(ep Endpoint) string {
		if ep.Client.Config().TLS == ftpclient.TLSNone {
			return "clear"
		}
		return "TLS"
	}
	s, d := leg(src), leg(dst)
	if s == "clear" && d == "clear" {
		return ""
	}
	return fmt.Sprintf("%s from %s, %s to %s (through this host)", s, src.Client.Name(), d, dst.Client.Name())
}

// protMemory is what the engine has learned about TLS between servers:
// which servers lack SSCN or CPSV, and which encrypted plans failed.
type protMemory struct {
	mu       sync.Mutex
	commands map[string]bool      // "server\x00SSCN" -> supported
	failed   map[string]planFault // planKey -> when and why it failed
}

type planFault struct {
	at  time.Time
	why string
}

func planKey(client, server *side, clientSends bool) string {
	return fmt.Sprintf("%s\x00%s\x00%v", client.name(), server.name(), clientSends)
}

func (m *protMemory) hasCommand(sd *side, cmd string) { m.setCommand(sd, cmd, true) }
func (m *protMemory) noCommand(sd *side, cmd string)  { m.setCommand(sd, cmd, false) }

func (m *protMemory) setCommand(sd *side, cmd string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.commands == nil {
		m.commands = map[string]bool{}
	}
	m.commands[sd.name()+"\x00"+cmd] = ok
}

// command says whether sd is worth trying cmd on: known to work or listed
// in FEAT first (true, true), not known either way next (false, true), and
// known refused never (_, false).
func (m *protMemory) command(ctx context.Context, sd *side, cmd string) (known, try bool) {
	m.mu.Lock()
	ok, seen := m.commands[sd.name()+"\x00"+cmd]
	m.mu.Unlock()
	if seen {
		return ok, ok
	}
	f, err := sd.ep.Client.Features(ctx)
	if err == nil && ((cmd == "SSCN" && f.SSCN) || (cmd == "CPSV" && f.CPSV)) {
		return true, true
	}
	return false, true
}

func (m *protMemory) planFailed(client, server *side, clientSends bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failed == nil {
		m.failed = map[string]planFault{}
	}
	m.failed[planKey(client, server, clientSends)] = planFault{time.Now(), err.Error()}
}

func (m *protMemory) planWorked(client, server *side, clientSends bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.failed, planKey(client, server, clientSends))
}

func (m *protMemory) fault(client, server *side, clientSends bool) (planFault, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.failed[planKey(client, server, clientSends)]
	if ok && time.Since(f.at) > planMemory {
		delete(m.failed, planKey(client, server, clientSends))
		return planFault{}, false
	}
	return f, ok
}

// plans lists the encrypted plans for two TLS sides s (source) and d, pasv
// being the passive one: known-supported commands before untried ones, the
// receiving server as TLS client before the sending one, CPSV before SSCN.
// Plans that failed recently, and commands a server refused, are left out;
// notes say so, for the record.
func (m *protMemory) plans(ctx context.Context, s, d, pasv *side, cpsvOK bool) (plans []tlsPlan, notes []string) {
	type cand struct {
		pl    tlsPlan
		known bool
	}
	var cands []cand
	for _, client := range []*side{d, s} { // the receiver first
		server := s
		if client == s {
			server = d
		}
		cmds := []string{"SSCN"}
		if client == pasv && cpsvOK {
			cmds = []string{"CPSV", "SSCN"}
		}
		for _, cmd := range cmds {
			known, try := m.command(ctx, client, cmd)
			if !try {
				notes = append(notes, fmt.Sprintf("%s has no %s", client.name(), cmd))
				continue
			}
			pl := tlsPlan{client, server, cmd == "CPSV"}
			if f, bad := m.fault(client, server, client == s); bad {
				// Stable text (no "ago"): summaries count files per reason.
				notes = append(notes, fmt.Sprintf("%s as TLS client of %s failed at %s, not tried again before %s (%s)",
					client.name(), server.name(), f.at.Format("15:04:05"), f.at.Add(planMemory).Format("15:04:05"), f.why))
				continue
			}
			cands = append(cands, cand{pl, known})
		}
	}
	for _, wantKnown := range []bool{true, false} {
		for _, c := range cands {
			if c.known == wantKnown {
				plans = append(plans, c.pl)
			}
		}
	}
	return plans, dedupe(notes)
}

func dedupe(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
