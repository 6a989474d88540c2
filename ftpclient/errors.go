package ftpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// OpError is the error every Client operation returns. It wraps the sentinel
// that classifies it (Kind, for errors.Is) and the underlying cause (Err: a
// *textproto.Error for a server reply, a network error, a context error).
//
//	ftp alpha: STOR /x/y: no such file or directory (550 Can't open file)
type OpError struct {
	Server string // configured server name
	Op     string // FTP command or operation, e.g. "STOR", "LIST", "login"
	Cmd    string // the command the server refused, when not Op itself (e.g. PASV during LIST)
	Path   string // mount path(s) involved, may be empty
	Code   int    // reply code, 0 when the failure was not a reply
	Msg    string // server message (password redacted)
	Kind   error  // one of the Err* sentinels, or nil (callers map nil to EIO)
	Err    error  // cause
}

// Error formats the error on one line. Text from the server and from the
// user (paths, replies) is printed with control characters and invalid
// UTF-8 escaped (see Printable): an error message can neither drive a
// terminal nor forge a log line.
func (e *OpError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ftp %s: %s", e.Server, e.Op)
	if e.Path != "" {
		b.WriteString(" " + e.Path)
	}
	b.WriteString(": ")
	if e.Cmd != "" {
		b.WriteString(e.Cmd + ": ")
	}
	switch {
	case e.Code != 0 && e.Kind != nil:
		fmt.Fprintf(&b, "%v (%d %s)", e.Kind, e.Code, e.Msg)
	case e.Code != 0:
		fmt.Fprintf(&b, "server replied %d %s", e.Code, e.Msg)
	case e.Kind != nil && e.Err != nil && e.Err != e.Kind:
		if msg := e.Err.Error(); strings.HasSuffix(msg, ": "+e.Kind.Error()) {
			b.WriteString(msg) // the cause already names the kind last
		} else {
			fmt.Fprintf(&b, "%v: %v", e.Kind, msg)
		}
	case e.Kind != nil:
		b.WriteString(e.Kind.Error())
	default:
		fmt.Fprint(&b, e.Err)
	}
	return Printable(b.String())
}

// Printable escapes, strconv.Quote style, what must not reach a terminal
// or a log line raw: control characters (\x1b, \r, \n, \t...), other
// non-printable runes (\u200b) and invalid UTF-8 bytes (\xff). Printable
// text, quotes and backslashes included, is left as it is.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, n := utf8.DecodeRuneInString(s[i:])
		w = n
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\t', '\u200b'
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// replyError is a refusing reply together with the command it answered,
// so that translate classifies it by that command: a 550 to PASV during a
// listing is not "no such file or directory".
type replyError struct {
	cmd string
	err error // holds a *textproto.Error
}

func (e *replyError) Error() string { return e.err.Error() }
func (e *replyError) Unwrap() error { return e.err }

// withCmd tags a reply error with the command last sent on cn (the one
// the reply answers), unless it is tagged already.
func withCmd(cn *conn, err error) error {
	var te *textproto.Error
	var re *replyError
	if err == nil || !errors.As(err, &te) || errors.As(err, &re) {
		return err
	}
	return &replyError{cmd: cn.ctl.lastCmd(), err: err}
}

// Unwrap exposes both the sentinel and the cause to errors.Is/As.
func (e *OpError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil && e.Err != e.Kind {
		errs = append(errs, e.Err)
	}
	return errs
}

// errProtocolf makes a protocol error (garbage reply, hostile PASV, huge line).
func errProtocolf(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrProtocol)
}

// replyCode returns the code of the server reply inside err, or 0.
func replyCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// isNetErr reports a broken connection: EOF, reset, refused, closed, timeout.
func isNetErr(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// translate turns any error from an operation into an *OpError whose Kind
// is chosen from the reply code and the operation. It is the one place that
// maps FTP replies to sentinels (style guide convention 4).
func (c *Client) translate(op, p string, err error) error {
	if err == nil {
		return nil
	}
	var oe *OpError
	if errors.As(err, &oe) {
		return err
	}
	e := &OpError{Server: c.cfg.Name, Op: op, Path: p, Err: err}
	var te *textproto.Error
	switch {
	case errors.Is(err, context.Canceled):
		e.Kind = nil // the cause is enough: callers map it to EINTR
	case errors.Is(err, context.DeadlineExceeded):
		e.Kind = ErrTimeout
	case errors.As(err, &te):
		e.Code, e.Msg = te.Code, c.redact(strings.ReplaceAll(te.Msg, "\n", " / "))
		cmd := op
		if re := (*replyError)(nil); errors.As(err, &re) && re.cmd != "" {
			cmd = re.cmd
		}
		if cmd != op {
			e.Cmd = cmd
		}
		e.Kind = kindOf(cmd, te.Code)
	case firstSentinel(err) != nil:
		e.Kind = firstSentinel(err)
	case isTimeout(err):
		e.Kind = ErrTimeout
	case isNetErr(err):
		e.Kind = ErrUnavailable
	}
	return e
}

var sentinels = []error{
	ErrBadName, ErrProtocol, ErrClosed, ErrUnsupported, ErrNotFound, ErrExists,
	ErrPermission, ErrNotEmpty, ErrIsDir, ErrNotDir, ErrNoSpace, ErrTimeout, ErrUnavailable, ErrShortRead,
	ErrCertificate,
}

func firstSentinel(err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}

// setupCmds prepare a session or a data connection; their refusals say
// nothing about a file.
var setupCmds = map[string]bool{
	"PASV": true, "EPSV": true, "PORT": true, "EPRT": true, "TYPE": true, "MODE": true, "STRU": true,
	"PBSZ": true, "PROT": true, "OPTS": true, "AUTH": true, "FEAT": true, "NOOP": true, "ABOR": true,
	"ALLO": true, "SYST": true, "PWD": true, "CCC": true,
}

// kindOf classifies a reply code to a command (or an operation named like
// its command). Servers use 550 for "not found" and "permission denied"
// alike; mutating operations refine it afterwards with explain (ops.go),
// which looks at the path. A refused setup command (PASV, TYPE, PROT...)
// is never a file error: it is ErrUnavailable for 421/425/426,
// ErrPermission for 530, else unclassified (EIO).
func kindOf(op string, code int) error {
	if setupCmds[op] {
		switch {
		case code == 421 || code == 425 || code == 426:
			return ErrUnavailable
		case code >= 530 && code <= 535:
			return ErrPermission
		}
		return nil
	}
	switch code {
	case 421, 425, 426:
		return ErrUnavailable
	case 450:
		switch op {
		case "SIZE", "MDTM", "MLST", "RETR", "LIST", "MLSD", "DELE", "RNFR":
			return ErrNotFound // goftp and some IIS versions: "file unavailable"
		}
		return ErrUnavailable
	case 452, 552:
		return ErrNoSpace
	case 500, 502, 504:
		return ErrUnsupported
	case 501:
		switch op {
		case "MFMT", "SITE CHMOD", "SITE UTIME", "MDTM", "SIZE", "MLST", "HASH":
			return ErrUnsupported
		}
		return ErrBadName
	case 530, 532, 533, 534, 535:
		return ErrPermission
	case 550, 551:
		switch op {
		case "MKD":
			return ErrExists // refined by explain
		case "SITE CHMOD", "SITE UTIME", "MFMT":
			return ErrPermission // refined by explain
		}
		return ErrNotFound
	case 553:
		return ErrPermission // "file name not allowed": vsftpd says it for EACCES
	}
	return nil
}

// shouldRetry says whether an attempt may be repeated: only for 421, 426 and
// broken connections (not timeouts: a server that does not answer will not
// answer faster), and never once ctx is done.
func shouldRetry(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if errors.Is(err, ErrBadName) || errors.Is(err, ErrClosed) || errors.Is(err, ErrProtocol) {
		return false
	}
	switch replyCode(err) {
	case 421, 426:
		return true
	case 0:
	default:
		return false
	}
	if isTimeout(err) {
		return false
	}
	return isNetErr(err) || errors.Is(err, ErrUnavailable)
}
