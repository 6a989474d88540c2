package ftptest

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
)

// listener hands goftp its connections, counting commands, refusing
// connections beyond a limit (like vsftpd's max_clients: "421" and close),
// and keeping track of open connections so that Close can drop them all.
type listener struct {
	net.Listener
	max int // 0: no limit

	commands atomic.Int64
	accepted atomic.Int64
	refused  atomic.Int64

	mu     sync.Mutex
	conns  map[*conn]struct{}
	peak   int
	closed bool
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			nc.Close()
			continue
		}
		if l.max > 0 && len(l.conns) >= l.max {
			l.mu.Unlock()
			l.refused.Add(1)
			_, _ = nc.Write([]byte("421 Too many connections, try again later\r\n"))
			nc.Close()
			continue
		}
		c := &conn{Conn: nc, l: l, gone: make(chan struct{})}
		l.conns[c] = struct{}{}
		l.peak = max(l.peak, len(l.conns))
		l.mu.Unlock()
		l.accepted.Add(1)
		return c, nil
	}
}

// closeAll stops accepting and drops every open control connection.
func (l *listener) closeAll() {
	l.mu.Lock()
	l.closed = true
	conns := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	l.Listener.Close()
	for _, c := range conns {
		c.Close()
	}
}

// dropAll closes every open control connection but keeps listening.
func (l *listener) dropAll() int {
	l.mu.Lock()
	conns := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return len(conns)
}

func (l *listener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *listener) peakConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak
}

// conn counts the command lines the server reads.
type conn struct {
	net.Conn
	l    *listener
	once sync.Once
	gone chan struct{} // closed by Close
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.l.commands.Add(int64(bytes.Count(p[:n], []byte{'\n'})))
	}
	return n, err
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		close(c.gone)
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return err
}
