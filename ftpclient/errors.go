package ftpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"strings"
	"syscall"
)

// OpError is the error every Client operation returns. It wraps the sentinel
// that classifies it (Kind, for errors.Is) and the underlying cause (Err: a
// *textproto.Error for a server reply, a network error, a context error).
//
//	ftp alpha: STOR /x/y: no such file or directory (550 Can't open file)
type OpError struct {
	Server string // configured server name
	Op     string // FTP command or operation, e.g. "STOR", "LIST", "login"
	Path   string // mount path(s) involved, may be empty
	Code   int    // reply code, 0 when the failure was not a reply
	Msg    string // server message (password redacted)
	Kind   error  // one of the Err* sentinels, or nil (callers map nil to EIO)
	Err    error  // cause
}

func (e *OpError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ftp %s: %s", e.Server, e.Op)
	if e.Path != "" {
		b.WriteString(" " + e.Path)
	}
	b.WriteString(": ")
	switch {
	case e.Code != 0 && e.Kind != nil:
		fmt.Fprintf(&b, "%v (%d %s)", e.Kind, e.Code, e.Msg)
	case e.Code != 0:
		fmt.Fprintf(&b, "server replied %d %s", e.Code, e.Msg)
	case e.Kind != nil && e.Err != nil && e.Err != e.Kind:
		fmt.Fprintf(&b, "%v: %v", e.Kind, e.Err)
	case e.Kind != nil:
		b.WriteString(e.Kind.Error())
	default:
		fmt.Fprint(&b, e.Err)
	}
	return b.String()
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
		e.Kind = kindOf(op, te.Code)
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
	ErrPermission, ErrNotEmpty, ErrIsDir, ErrNotDir, ErrNoSpace, ErrTimeout, ErrUnavailable,
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

// kindOf classifies a reply code for an operation. Servers use 550 for
// "not found" and "permission denied" alike; mutating operations refine
// it afterwards with explain (ops.go), which looks at the path.
func kindOf(op string, code int) error {
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
