package ftpclient

import (
	"context"
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
)

// RawConn is a raw FTP control channel granted by the server's scheduler
// (for FXP): one command at a time, full multi-line replies. It takes a
// transfer slot like any download or upload (from the Reservation bound to
// the ctx of AcquireRaw, if any). Not safe for concurrent use.
//
// The scheduler must be able to trust a released connection, so RawConn tracks
// what the commands sent through it did: a transfer answered 1xx whose final
// reply was not read, a pending REST or RNFR, or any command not known to
// leave the session as it was (TYPE A, PROT C, SITE UMASK, ...) make Release
// destroy the connection instead of pooling it.
type RawConn struct {
	c        *Client
	cn       *conn
	mu       sync.Mutex
	released bool
}

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

// neutral commands leave the session state as it was (for pooling).
var neutral = map[string]bool{
	"NOOP": true, "PASV": true, "EPSV": true, "PORT": true, "EPRT": true, "SIZE": true, "MDTM": true,
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
	r.mu.Lock()
	defer r.mu.Unlock()
	line := fmt.Sprintf(format, args...)
	verb, arg, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	if r.released {
		return Reply{}, r.c.translate(verb, "", ErrClosed)
	}
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

// ReadReply reads one more reply (e.g. the 226 after a 150).
func (r *RawConn) ReadReply(ctx context.Context) (Reply, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		return Reply{}, r.c.translate("reply", "", ErrClosed)
	}
	var rep Reply
	if r.cn.transfer {
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

// Pasv sends PASV and returns the address the server listens on ("h1,h2,h3,h4,p1,p2"
// decoded to "ip:port"). The address is returned as the server gave it, for FXP.
func (r *RawConn) Pasv(ctx context.Context) (string, error) { return r.passive(ctx, "PASV") }

// Cpsv is Pasv with CPSV: the server is the TLS client of the coming
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
	if r.released {
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

// Client returns the Client the connection belongs to.
func (r *RawConn) Client() *Client { return r.c }

// Release returns the connection to the pool, or destroys it when err != nil
// or the connection is mid-transfer. Idempotent.
func (r *RawConn) Release(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		return
	}
	r.released = true
	if err != nil {
		r.cn.dirty = true // the caller saw something go wrong: don't trust it
	}
	r.c.sched.release(r.cn, err)
}
