// Package ftptest starts an in-process FTP server (goftp.io/server/v2) over a
// temporary directory, for unit tests of ftpclient and the packages above it.
//
//	srv := ftptest.Start(t)
//	os.WriteFile(filepath.Join(srv.Root, "a.txt"), data, 0o644)
//	c, _ := ftpclient.New(srv.Config("alpha"), nil)
//
// The server listens on 127.0.0.1 with a random port, behaves like vsftpd or
// pure-ftpd where goftp differs (see diskDriver), offers MLSD (unless
// WithoutMLSD), MFMT, SITE CHMOD and SITE UTIME, and is stopped by t.Cleanup.
package ftptest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	server "goftp.io/server/v2"
)

// Server is a running test FTP server.
type Server struct {
	Root     string // the directory served as "/"
	Host     string // "127.0.0.1"
	Port     int
	User     string
	Password string

	l      *listener
	drv    *diskDriver
	done   chan struct{}
	once   sync.Once
	quirky *quirkServer // StartQuirky's state, nil for Start's servers
}

type options struct {
	user, password string
	maxConns       int
	mlsd           bool
	root           string
	writeLimit     int64
	readLimit      int64
	noReplace      bool
	readOnly       bool
	symlinks       bool
	xcrc           bool
}

// Option changes how Start sets the server up.
type Option func(*options)

// WithUser sets the login (default "test" / "secret-pw").
func WithUser(user, password string) Option {
	return func(o *options) { o.user, o.password = user, password }
}

// WithMaxConns makes the server accept at most n simultaneous control
// connections; more are answered "421 Too many connections" and closed.
func WithMaxConns(n int) Option { return func(o *options) { o.maxConns = n } }

// WithoutMLSD removes MLSD and MLST, so clients must use LIST (like vsftpd).
func WithoutMLSD() Option { return func(o *options) { o.mlsd = false } }

// WithReadOnly refuses every change (MKD, RMD, DELE, RNFR/RNTO, STOR,
// APPE) with 550, like a read-only login.
func WithReadOnly() Option { return func(o *options) { o.readOnly = true } }

// WithSymlinks lists symbolic links on the disk as links, with their
// targets as they are ("lrwxrwxrwx ... name -> target"), in LIST, and
// offers no MLSD (goftp's cannot show links).
func WithSymlinks() Option { return func(o *options) { o.symlinks, o.mlsd = true, false } }

// WithRoot serves dir instead of a new t.TempDir().
func WithRoot(dir string) Option { return func(o *options) { o.root = dir } }

// WithWriteLimit makes every upload fail once n bytes of it are written (a
// disk that fills up): the file keeps those n bytes, the reply is 450.
func WithWriteLimit(n int64) Option { return func(o *options) { o.writeLimit = n } }

// WithReadLimit makes every download end normally (226) at byte n of the
// file, whatever its size (a REST beyond gets no data): a server that cuts
// files short.
func WithReadLimit(n int64) Option { return func(o *options) { o.readLimit = n } }

// WithXCRC offers XCRC (the CRC-32 of a file), as some servers do.
func WithXCRC() Option { return func(o *options) { o.xcrc = true } }

// WithNoReplace makes RNTO onto an existing file fail (550), as some
// servers (IIS, for one) do.
func WithNoReplace() Option { return func(o *options) { o.noReplace = true } }

// Start starts a server; t.Cleanup stops it and drops its connections.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{user: "test", password: "secret-pw", mlsd: true}
	for _, opt := range opts {
		opt(&o)
	}
	if o.root == "" {
		o.root = t.TempDir()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ftptest: listen: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	drv := &diskDriver{root: o.root, readOnly: o.readOnly, writeLimit: o.writeLimit, readLimit: o.readLimit, noReplace: o.noReplace}
	srv, err := server.NewServer(&server.Options{
		Driver:   drv,
		Auth:     &server.SimpleAuth{Name: o.user, Password: o.password},
		Perm:     diskPerm{d: drv},
		Commands: commands(o.mlsd, o.symlinks, o.xcrc),
		Name:     "ftptest",
		Hostname: "127.0.0.1",
		Port:     port,
		Logger:   &server.DiscardLogger{},
	})
	if err != nil {
		ln.Close()
		t.Fatalf("ftptest: %v", err)
	}
	s := &Server{
		Root:     o.root,
		Host:     "127.0.0.1",
		Port:     port,
		User:     o.user,
		Password: o.password,
		l:        &listener{Listener: ln, max: o.maxConns, conns: make(map[*conn]struct{})},
		drv:      drv,
		done:     make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		err := srv.Serve(s.l)
		if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, server.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "ftptest: serve: %v\n", err)
		}
	}()
	t.Cleanup(s.Close)
	return s
}

// Addr is "host:port".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Config returns a client configuration for this server under the given
// mount name, with short timeouts suited to tests.
func (s *Server) Config(name string) ftpclient.ServerConfig {
	return ftpclient.ServerConfig{
		Name:     name,
		Host:     s.Host,
		Port:     s.Port,
		User:     s.User,
		Password: ftpclient.Secret(s.Password),
		TLS:      ftpclient.TLSNone,

		DialTimeout: 5 * time.Second,
		CmdTimeout:  10 * time.Second,
		DataTimeout: 20 * time.Second,
	}
}

// Commands is the number of command lines the server has received.
func (s *Server) Commands() int64 { return s.l.commands.Load() }

// Retrs is the number of downloads (RETR) the server has started.
func (s *Server) Retrs() int64 { return s.drv.retrs.Load() }

// Accepted is the number of control connections the server has accepted.
func (s *Server) Accepted() int64 { return s.l.accepted.Load() }

// Refused is the number of connections refused by WithMaxConns.
func (s *Server) Refused() int64 { return s.l.refused.Load() }

// Conns is the number of control connections open now.
func (s *Server) Conns() int { return s.l.open() }

// PeakConns is the highest number of simultaneously open control connections.
func (s *Server) PeakConns() int { return s.l.peakConns() }

// DropConns closes every open control connection (as a server's idle
// timeout or a restart would) and keeps accepting new ones. It returns how
// many were dropped.
func (s *Server) DropConns() int { return s.l.dropAll() }

// Close stops the server and drops every control connection (a server
// crash, as clients see it). Idempotent; also run by t.Cleanup.
func (s *Server) Close() {
	s.once.Do(func() {
		s.l.closeAll()
		<-s.done
	})
}

// TempFiles lists the names of fxpfs's temporaries (ftpclient.IsTempName)
// in the local directory dir: a server's root or one of its directories.
func TempFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ftptest: %v", err)
	}
	var out []string
	for _, e := range ents {
		if ftpclient.IsTempName(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}
