package ftpclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// RawConn is a raw FTP control channel granted by the server's scheduler
// (for FXP): one command at a time, full multi-line replies. It takes a
// transfer slot like any download or upload (from the Reservation bound to
// the ctx of AcquireRaw, if any). Not safe for concurrent use.
//
// The scheduler must be able to trust a released connection, so RawConn tracks
// what the commands sent through it did: a transfer answered 1xx whose final
// reply was not read, a command sent with Send whose final reply was not
// read, a pending REST or RNFR, or any command not known to leave the
// session as it was (TYPE A, PROT C, SITE UMASK, ...) make Release destroy
// the connection instead of pooling it.
//
// Two ways to drive it: Cmd sends a command and reads its reply (one
// goroutine at a time); or Send writes commands without reading, and one
// goroutine reads the replies with ReadReply meanwhile, so that a caller can
// send ABOR while another goroutine waits for a transfer's final reply.
type RawConn struct {
	c  *Client
	cn *conn
	mu sync.Mutex // held while reading replies (Cmd, ReadReply, Abort) and by Release
	// wmu is held by Send while it writes: one writer at a time, apart from
	// the reader.
	wmu      sync.Mutex
	released atomic.Bool

	smu      sync.Mutex
	awaiting []sentCmd // sent by Send, final reply not read yet (oldest first)
}

// sentCmd is a command sent with Send.
type sentCmd struct{ verb, arg string }

// AcquireRaw borrows a raw control connection (logged in, TYPE I) for FXP:
// a slot of the Reservation bound to ctx when it has one free for this
// server, else a transfer slot of the server (waiting as Reserve does). A
// caller that needs two connections at once (an FXP copy) must Reserve
// them first. The caller must Release it.
func (c *Client) AcquireRaw(ctx context.Context) (*RawConn, error) {
	var cn *conn
	err := retry(ctx, func() (bool, error) {
		var err error
		cn, err = c.sched.acquire(ctx, classXfer)
		return shouldRetry(ctx, err), err
	})
	if err != nil {
		return nil, c.translate("connect", "", err)
	}
	return &RawConn{c: c, cn: cn}, nil
}

// neutral commands leave the session state as it was (for pooling). CPSV
// is PASV for one data connection, as the TLS client: the next PASV or EPSV
// sets up its own (glftpd, ebftpd, DrFTPD).
var neutral = map[string]bool{
	"NOOP": true, "PASV": true, "EPSV": true, "CPSV": true, "PORT": true, "EPRT": true, "SIZE": true, "MDTM": true,
	"MFMT": true, "MLST": true, "FEAT": true, "SYST": true, "PWD": true, "XPWD": true, "CWD": true,
	"CDUP": true, "DELE": true, "MKD": true, "XMKD": true, "RMD": true, "XRMD": true, "STAT": true,
	"HASH": true, "XMD5": true, "XSHA1": true, "XSHA256": true, "XSHA512": true, "XCRC": true,
	"ABOR": true, "RETR": true, "STOR": true, "APPE": true, "STOU": true, "LIST": true, "NLST": true,
	"MLSD": true, "ALLO": true, "HELP": true, "RNTO": true, "RNFR": true, "REST": true, "TYPE": true,
	"SITE": true,
}

// Cmd sends one command (arguments are validated: no CR/LF/NUL) and reads its
// reply. An error is returned only for I/O or protocol failures, not for a
// 4xx/5xx reply: the caller inspects Reply.Code.
func (r *RawConn) Cmd(ctx context.Context, format string, args ...any) (Reply, error) {
	line := fmt.Sprintf(format, args...)
	verb, arg, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	if r.outstanding() > 0 {
		// Refused at once, not after a ReadReply that may wait for a
		// transfer's end (it holds mu meanwhile).
		return Reply{}, r.c.translate(verb, "", errors.New("replies to earlier commands not read yet"))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released.Load() {
		return Reply{}, r.c.translate(verb, "", ErrClosed)
	}
	if r.outstanding() > 0 {
		// The next reply belongs to a command sent earlier: reading it as
		// this command's would put the channel out of step.
		return Reply{}, r.c.translate(verb, "", errors.New("replies to earlier commands not read yet"))
	}
	r.forget(verb, arg)
	var rep Reply
	err := r.c.run(ctx, r.cn, func(cn *conn) error {
		var err error
		rep, err = cn.cmd("%s", line)
		return err
	})
	if err != nil {
		return Reply{}, r.c.translate(verb, "", err)
	}
	r.track(verb, arg, rep)
	return rep, nil
}

// forget drops the kept MDTM answer (see forgetMtime) for the file that a
// command about to be sent changes.
func (r *RawConn) forget(verb, arg string) {
	switch verb {
	case "STOR", "APPE", "DELE", "RNFR", "RNTO":
		r.c.forgetMtime(arg)
	case "MFMT":
		if _, p, ok := strings.Cut(arg, " "); ok {
			r.c.forgetMtime(p)
		}
	}
}

// track updates the session state the pool needs to know about.
func (r *RawConn) track(verb, arg string, rep Reply) {
	cn := r.cn
	arg = strings.ToUpper(strings.TrimSpace(arg))
	switch {
	case verb == "PROT" && r.c.cfg.TLS != TLSNone:
		// The pool's TLS sessions are PROT P (configure); FXP may switch.
		if rep.Code/100 == 2 {
			cn.protClear = arg != "P"
		}
	case verb == "SSCN":
		// SSCN ON makes the server the TLS client of later data
		// connections (FXP); SSCN alone only asks which it is.
		if rep.Code/100 == 2 && arg != "" {
			cn.sscnOn = arg != "OFF"
		}
	case !neutral[verb]:
		cn.dirty = true
	case verb == "TYPE" && arg != "I":
		cn.dirty = true
	case verb == "SITE":
		sub, _, _ := strings.Cut(arg, " ")
		cn.dirty = cn.dirty || (sub != "CHMOD" && sub != "UTIME")
	case verb == "REST" || verb == "RNFR":
		cn.pending = rep.Code == 350
	case verb == "RNTO", verb == "RETR", verb == "STOR", verb == "APPE", verb == "STOU",
		verb == "LIST", verb == "NLST", verb == "MLSD":
		cn.pending = false // REST/RNFR consumed; dirty (set by others) stays
	}
	if rep.Code < 200 {
		cn.transfer = true
	} else if verb == "ABOR" {
		cn.transfer = false
	}
}

// Send writes one command (arguments validated: no CR/LF/NUL) without
// reading its reply; ReadReply reads the replies, in order. Send may run
// while another goroutine waits in ReadReply (to send ABOR during a
// transfer), but not at the same time as Cmd. The write is bounded by
// CmdTimeout; ctx is checked before it.
func (r *RawConn) Send(ctx context.Context, format string, args ...any) error {
	line := fmt.Sprintf(format, args...)
	verb, arg, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	if r.released.Load() {
		return r.c.translate(verb, "", ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return r.c.translate(verb, "", err)
	}
	if err := checkArg(line); err != nil {
		return r.c.translate(verb, "", err)
	}
	r.forget(verb, arg)
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.smu.Lock()
	r.awaiting = append(r.awaiting, sentCmd{verb, arg})
	r.smu.Unlock()
	if _, err := r.cn.ctl.Write([]byte(line + "\r\n")); err != nil {
		return r.c.translate(verb, "", err)
	}
	return nil
}

// outstanding is the number of commands sent with Send whose final reply
// has not been read.
func (r *RawConn) outstanding() int {
	r.smu.Lock()
	defer r.smu.Unlock()
	return len(r.awaiting)
}

// ReadReply reads one more reply: the 226 after a 150 of Cmd, or the next
// reply to a command sent with Send. While a transfer or a sent command
// awaits its final reply, it waits as long as ctx allows (not CmdTimeout).
// When ctx ends first, the connection is closed (and must be released).
func (r *RawConn) ReadReply(ctx context.Context) (Reply, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released.Load() {
		return Reply{}, r.c.translate("reply", "", ErrClosed)
	}
	r.smu.Lock()
	var front *sentCmd
	if len(r.awaiting) > 0 {
		f := r.awaiting[0]
		front = &f
	}
	r.smu.Unlock()
	var rep Reply
	if r.cn.transfer || front != nil {
		// The final reply of a transfer comes when the transfer ends, which
		// may be hours away (FXP): wait as long as ctx allows, not CmdTimeout.
		// The caller watches progress and cancels ctx on a stall.
		r.cn.ctl.unbounded()
		r.c.longWaits.Add(1) // the server counts as busy, not silent (see sched.quiet)
		defer r.c.longWaits.Add(-1)
	} else {
		r.cn.ctl.arm() // a reply not asked for by a command just sent (e.g. a second one)
	}
	err := r.c.run(ctx, r.cn, func(cn *conn) error {
		var err error
		rep, err = cn.readReply()
		return err
	})
	if err != nil {
		return Reply{}, r.c.translate("reply", "", err)
	}
	if front != nil {
		if rep.Code >= 200 {
			r.smu.Lock()
			r.awaiting = r.awaiting[1:]
			r.smu.Unlock()
		}
		r.track(front.verb, front.arg, rep)
		if rep.Code >= 200 && r.outstanding() == 0 {
			r.cn.transfer = false
		}
		return rep, nil
	}
	if rep.Code >= 200 {
		r.cn.transfer = false
	}
	return rep, nil
}

// ReplyError turns a refusing reply to op on mount path p into the same
// classified *OpError every Client operation returns (e.g. ErrPermission
// for a 553 to STOR), for callers that drive the channel themselves.
func (r *RawConn) ReplyError(op, p string, rep Reply) error {
	return r.c.translate(op, p, &textproto.Error{Code: rep.Code, Msg: rep.Msg})
}

// Pasv sends PASV and returns the address the server listens on, for FXP:
// the host this connection reached the server at, with the port of the
// PASV reply. The host of the reply is never used: a server (hostile, or
// behind NAT) naming another host would make the FXP peer connect there
// (an FXP bounce), as it would our own data connections.
func (r *RawConn) Pasv(ctx context.Context) (string, error) { return r.passive(ctx, "PASV") }

// Cpsv is Pasv with CPSV: the server is also the TLS client of the coming
// (protected) data connection, for FXP between two TLS servers.
func (r *RawConn) Cpsv(ctx context.Context) (string, error) { return r.passive(ctx, "CPSV") }

func (r *RawConn) passive(ctx context.Context, verb string) (string, error) {
	rep, err := r.Cmd(ctx, "%s", verb)
	if err != nil {
		return "", err
	}
	if rep.Code != 227 {
		return "", r.c.translate(verb, "", &textproto.Error{Code: rep.Code, Msg: rep.Msg})
	}
	addr, err := parsePASV(rep.Msg)
	if err != nil {
		return "", r.c.translate(verb, "", err)
	}
	pip, port, _ := net.SplitHostPort(addr)
	if host := r.Host(); pip != host {
		r.c.log.Info("ftp "+verb+" names another address; giving the FXP peer the server's own",
			"server", r.c.cfg.Name, "pasv", pip, "server_ip", host)
		addr = net.JoinHostPort(host, port)
	}
	return addr, nil
}

// Epsv sends EPSV and returns the port (the host is the server's own).
func (r *RawConn) Epsv(ctx context.Context) (int, error) {
	rep, err := r.Cmd(ctx, "EPSV")
	if err != nil {
		return 0, err
	}
	if rep.Code != 229 {
		return 0, r.c.translate("EPSV", "", &textproto.Error{Code: rep.Code, Msg: rep.Msg})
	}
	port, err := parseEPSV(rep.Msg)
	if err != nil {
		return 0, r.c.translate("EPSV", "", err)
	}
	return port, nil
}

// Eprt sends EPRT (RFC 2428) for hostport ("ip:port", IPv4 or IPv6).
func (r *RawConn) Eprt(ctx context.Context, hostport string) (Reply, error) {
	host, ps, err := net.SplitHostPort(hostport)
	ip := net.ParseIP(host)
	port, perr := strconv.Atoi(ps)
	if err != nil || ip == nil || perr != nil || port < 1 || port > 65535 {
		return Reply{}, r.c.translate("EPRT", "", errProtocolf("EPRT address %q: want ip:port", hostport))
	}
	proto := 2
	if ip4 := ip.To4(); ip4 != nil {
		proto, ip = 1, ip4
	}
	return r.Cmd(ctx, "EPRT |%d|%s|%d|", proto, ip, port)
}

// Port sends PORT for hostport ("ip:port").
func (r *RawConn) Port(ctx context.Context, hostport string) (Reply, error) {
	arg, err := portArg(hostport)
	if err != nil {
		return Reply{}, r.c.translate("PORT", "", err)
	}
	return r.Cmd(ctx, "PORT %s", arg)
}

// portArg encodes "ip:port" as "h1,h2,h3,h4,p1,p2" (IPv4 only: PORT has no IPv6 form).
func portArg(hostport string) (string, error) {
	host, ps, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", errProtocolf("PORT address %q: %v", hostport, err)
	}
	ip := net.ParseIP(host).To4()
	port, perr := strconv.Atoi(ps)
	if ip == nil || perr != nil || port < 1 || port > 65535 {
		return "", errProtocolf("PORT address %q: want IPv4:port", hostport)
	}
	return fmt.Sprintf("%d,%d,%d,%d,%d,%d", ip[0], ip[1], ip[2], ip[3], port>>8, port&0xff), nil
}

// Abort sends ABOR and reads the replies that follow (426 then 226, or 225/226).
func (r *RawConn) Abort(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released.Load() {
		return r.c.translate("ABOR", "", ErrClosed)
	}
	err := r.c.run(ctx, r.cn, func(cn *conn) error {
		rep, err := cn.cmd("ABOR")
		for i := 0; err == nil && i < 2 && (rep.Code == 426 || rep.Code == 451 || rep.Code < 200); i++ {
			rep, err = cn.readReply()
		}
		if err == nil {
			cn.transfer = false
			cn.suspect = true
		}
		return err
	})
	return r.c.translate("ABOR", "", err)
}

// ServerPath maps a mount path to the server's absolute path (base joined),
// after validating it.
func (r *RawConn) ServerPath(p string) (string, error) {
	sp, err := r.c.sp(p)
	if err != nil {
		return "", r.c.translate("path", p, err)
	}
	return sp, nil
}

// Host is the IP address of the server as this connection reached it.
func (r *RawConn) Host() string {
	host, _, _ := net.SplitHostPort(r.cn.ctl.RemoteAddr().String())
	return host
}

// LocalHost is this host's IP address on the connection: a data connection
// from it is one the server sees as coming from its own client.
func (r *RawConn) LocalHost() string {
	host, _, _ := net.SplitHostPort(r.cn.ctl.LocalAddr().String())
	return host
}

// Client returns the Client the connection belongs to.
func (r *RawConn) Client() *Client { return r.c }

// Release returns the connection to the pool, or destroys it when err != nil
// or the connection is mid-transfer. Idempotent.
func (r *RawConn) Release(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released.Swap(true) {
		return
	}
	if err != nil {
		r.cn.dirty = true // the caller saw something go wrong: don't trust it
	}
	if r.outstanding() > 0 {
		r.cn.transfer = true // replies still due: out of step
	}
	r.c.sched.release(r.cn, err)
}

// errReset is the release reason of a connection closed by Reset.
var errReset = errors.New("connection reset by fxpfs")

// Reset closes the connection at once with a TCP reset instead of an orderly
// close, and releases it (destroyed). A server blocked waiting for a data
// connection may watch its control connection only for errors (pure-ftpd
// polls it for POLLERR|POLLHUP while it waits in accept): a reset ends such
// a session at once, where an orderly close would leave it waiting for its
// idle timeout. A goroutine blocked in ReadReply returns with an error.
// Idempotent.
func (r *RawConn) Reset() {
	if r.released.Load() {
		return
	}
	if tc := r.cn.tcp; tc != nil {
		_ = tc.SetLinger(0)
	}
	r.cn.ctl.Close()
	r.Release(errReset)
}
