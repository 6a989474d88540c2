package ftpclient

import (
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
)

var pasvRE = regexp.MustCompile(`(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})`)

// parsePASV decodes "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)" (with or
// without parentheses, as servers vary) into "ip:port".
func parsePASV(msg string) (string, error) {
	m := pasvRE.FindStringSubmatch(msg)
	if m == nil {
		return "", errProtocolf("PASV reply without address: %q", truncate(msg, 80))
	}
	var n [6]int
	for i := range n {
		v, err := strconv.Atoi(m[i+1])
		if err != nil || v > 255 {
			return "", errProtocolf("PASV reply with bad number %q", m[i+1])
		}
		n[i] = v
	}
	port := n[4]<<8 | n[5]
	if port == 0 {
		return "", errProtocolf("PASV reply with port 0")
	}
	ip := fmt.Sprintf("%d.%d.%d.%d", n[0], n[1], n[2], n[3])
	return net.JoinHostPort(ip, strconv.Itoa(port)), nil
}

// parseEPSV decodes "229 Entering Extended Passive Mode (|||6446|)".
func parseEPSV(msg string) (int, error) {
	i := strings.IndexByte(msg, '(')
	j := strings.LastIndexByte(msg, ')')
	if i < 0 || j < i+5 {
		return 0, errProtocolf("EPSV reply without port: %q", truncate(msg, 80))
	}
	body := msg[i+1 : j]
	d := body[0]
	f := strings.Split(body, string(d))
	if len(f) != 5 || f[1] != "" || f[2] != "" {
		return 0, errProtocolf("EPSV reply malformed: %q", truncate(msg, 80))
	}
	port, err := strconv.Atoi(f[3])
	if err != nil || port < 1 || port > 65535 {
		return 0, errProtocolf("EPSV reply with bad port %q", f[3])
	}
	return port, nil
}

// openData opens a passive data connection for our own transfers
// (listings). It always connects to the control connection's address: a
// PASV reply naming another host (NAT confusion, or a hostile server trying
// to make us connect elsewhere) only contributes its port.
func (cn *conn) openData() (net.Conn, error) {
	c := cn.cl
	host, _, err := net.SplitHostPort(cn.ctl.RemoteAddr().String())
	if err != nil {
		return nil, err
	}
	if !c.cfg.DisableEPSV && !c.epsvBroken.Load() {
		r, err := cn.cmd("EPSV")
		if err != nil {
			return nil, err
		}
		if r.Code == 229 {
			port, err := parseEPSV(r.Msg)
			if err == nil {
				return cn.dialData(net.JoinHostPort(host, strconv.Itoa(port)))
			}
			// A reply we cannot read (no port, no delimiters): PASV
			// works on such servers; EPSV is not asked again.
			c.log.Info("ftp EPSV reply unreadable; using PASV", slog.String("server", c.cfg.Name),
				slog.String("reply", Printable(truncate(r.Msg, 80))))
			c.epsvBroken.Store(true)
		} else if r.Code >= 500 {
			c.epsvBroken.Store(true)
		}
	}
	r, err := cn.cmd("PASV")
	if err != nil {
		return nil, err
	}
	if err := expect(r, 227); err != nil {
		return nil, err
	}
	addr, err := parsePASV(r.Msg)
	if err != nil {
		return nil, err
	}
	pip, port, _ := net.SplitHostPort(addr)
	if pip != host {
		c.log.Debug("ftp PASV names another address; using the server's own", slog.String("server", c.cfg.Name),
			slog.String("pasv", pip), slog.String("server_ip", host))
	}
	return cn.dialData(net.JoinHostPort(host, port))
}
