package fxpcopy

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// fakeFTP is an in-memory FTP server that can take part in FXP (PASV, EPSV,
// PORT, EPRT with real data connections between two instances) and
// misbehave the way real servers do, one switch per behaviour:
//
//   - early: answer 150 to RETR/STOR at once, before the data connection
//     exists, and drop (and stop listening after) a data connection that
//     arrives before the transfer command — pyftpdlib 1.5;
//   - refuseForeign: refuse PORT to an address other than the client's, and
//     drop a passive data connection from another address and keep waiting
//     for one, without reading the control connection meanwhile; only a
//     reset of the control connection (or idleTimeout) ends that wait —
//     pure-ftpd without -W;
//   - pasvHost: name another host in PASV replies;
//   - noPASV: refuse PASV (EPSV only);
//   - neverEndActive: on RETR over PORT, send every byte and never end;
//   - storReply / storFinal: refuse STOR at once, or end it with a reply of
//     choice (552 ...);
//   - rate: bytes per second of each data transfer;
//   - stallAfter: RETR sends that many bytes, then nothing, and never ends;
//   - hiddenRename: DELE of a file whose upload is still running keeps it
//     under a hidden name (pure-ftpd's .pureftpd-rename.*);
//   - stopLag: an upload goes on for a while after ABOR or the end of the
//     control connection (a server that notices between two writes);
//   - renameReply: refuse RNTO with a reply of choice (a server that
//     cannot rename onto an existing file, or cannot rename at all);
//   - greeting: the 220 reply's text (default "fake <name>"), e.g. a real
//     server's banner;
//   - transferLag: a transfer command is taken up only this long after it
//     arrived (a server busy elsewhere);
//   - connectOnPort: open the data connection on PORT/EPRT, before
//     answering it, not on the transfer command (Twisted, pyftpdlib);
//   - refusePortForeign: refuse PORT/EPRT to an address other than the
//     client's, and nothing else (netkit's and inetutils' ftpd);
//   - pasvBlocks: after answering PASV/EPSV, read no command (not even
//     QUIT) until the data connection has come (Twisted 22), or idleTimeout.
//
// It counts live sessions (a session waiting for a data connection that
// never comes is live until idleTimeout) and records every command.
type fakeFTP struct {
	t    testing.TB
	name string
	ip   string
	ln   net.Listener

	early             bool
	refuseForeign     bool
	pasvHost          string
	noPASV            bool
	neverEndActive    bool
	storReply         func(p string) string
	storFinal         func(p string, n int64) string
	rate              int
	stallAfter        int64 // RETR sends this many bytes, then nothing, without ending
	hiddenRename      bool
	stopLag           time.Duration // an upload goes on this long after ABOR or the client's going
	renameReply       func(from, to string) string
	greeting          string
	transferLag       time.Duration
	connectOnPort     bool
	pasvBlocks        bool
	refusePortForeign bool
	idleTimeout       time.Duration

	mu        sync.Mutex
	files     map[string]*fakeFile
	dirs      map[string]bool
	cmds      []string // "<session> <line>"
	ports     []string // PORT/EPRT arguments received
	renamed   int      // files kept under a hidden name by hiddenRename
	nextID    int
	dropped   int // data connections dropped (early or foreign)
	sessions  atomic.Int64
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

type fakeFile struct {
	data    []byte
	mtime   time.Time
	writers int // uploads running
}

// startFake starts a fake server on ip (127.0.0.x); setup runs before it serves.
func startFake(t testing.TB, name, ip string, setup ...func(*fakeFTP)) *fakeFTP {
	t.Helper()
	ln, err := net.Listen("tcp4", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("fake %s: %v", name, err)
	}
	f := &fakeFTP{t: t, name: name, ip: ip, ln: ln, idleTimeout: 30 * time.Second,
		files: map[string]*fakeFile{}, dirs: map[string]bool{"/": true}, closed: make(chan struct{})}
	for _, s := range setup {
		s(f)
	}
	f.wg.Add(1)
	go f.serve()
	t.Cleanup(f.close)
	return f
}

func (f *fakeFTP) close() {
	f.closeOnce.Do(func() {
		close(f.closed)
		f.ln.Close()
	})
	f.wg.Wait()
}

func (f *fakeFTP) config() ftpclient.ServerConfig {
	return ftpclient.ServerConfig{
		Name: f.name, Host: f.ip, Port: f.ln.Addr().(*net.TCPAddr).Port, User: "u", Password: "p4ssw0rd",
		DialTimeout: 5 * time.Second, CmdTimeout: 5 * time.Second, DataTimeout: 10 * time.Second,
	}
}

func (f *fakeFTP) put(p string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[p] = &fakeFile{data: append([]byte(nil), data...), mtime: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)}
	for d := path.Dir(p); ; d = path.Dir(d) {
		f.dirs[d] = true
		if d == "/" {
			break
		}
	}
}

func (f *fakeFTP) get(p string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ff, ok := f.files[p]
	if !ok {
		return nil, false
	}
	return append([]byte(nil), ff.data...), true
}

// names lists every file, hidden ones included.
func (f *fakeFTP) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for p := range f.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (f *fakeFTP) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

func (f *fakeFTP) portArgs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ports...)
}

// waitSessions waits up to d for the number of live sessions to be at most n.
func (f *fakeFTP) waitSessions(n int64, d time.Duration) int64 {
	deadline := time.Now().Add(d)
	for {
		got := f.sessions.Load()
		if got <= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fakeFTP) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.nextID++
		id := f.nextID
		f.mu.Unlock()
		f.sessions.Add(1)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.sessions.Add(-1)
			s := &fakeSession{f: f, id: id, c: c.(*net.TCPConn), lines: make(chan string, 16), gone: make(chan error, 1)}
			s.run()
		}()
	}
}

// fakeSession is one control connection.
type fakeSession struct {
	f     *fakeFTP
	id    int
	c     *net.TCPConn
	lines chan string // commands read by the control reader
	gone  chan error  // the control connection ended (io.EOF: closed; other: reset)

	pasv     net.Listener
	early    chan *earlyConn // early: the connection accepted for the next transfer
	port     string          // PORT address for the next transfer
	portConn net.Conn        // connectOnPort: the data connection opened on PORT
	pasvConn net.Conn        // pasvBlocks: the data connection accepted after PASV
	rest     int64
	from     string // RNFR's path, for RNTO

	mu         sync.Mutex
	cmdPending bool // early: a transfer command is waiting for its data connection
}

func (s *fakeSession) reply(format string, args ...any) {
	fmt.Fprintf(s.c, format+"\r\n", args...)
}

func (s *fakeSession) peerIP() string {
	h, _, _ := net.SplitHostPort(s.c.RemoteAddr().String())
	return h
}

func (s *fakeSession) run() {
	defer s.c.Close()
	defer s.closeData()
	go func() {
		br := bufio.NewReader(s.c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				s.gone <- err
				close(s.lines)
				return
			}
			s.lines <- strings.TrimRight(line, "\r\n")
		}
	}()
	if s.f.greeting != "" {
		s.reply("220 %s", s.f.greeting)
	} else {
		s.reply("220 fake %s", s.f.name)
	}
	for {
		var line string
		var ok bool
		select {
		case line, ok = <-s.lines:
			if !ok {
				return
			}
		case <-s.f.closed:
			return
		case <-time.After(s.f.idleTimeout):
			s.reply("421 idle timeout")
			return
		}
		s.f.mu.Lock()
		s.f.cmds = append(s.f.cmds, fmt.Sprintf("%d %s", s.id, line))
		s.f.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		if !s.handle(strings.ToUpper(verb), arg) {
			return
		}
	}
}

// blockForData is pasvBlocks' wait after PASV: no command is read until
// the data connection is accepted. False: the session ends.
func (s *fakeSession) blockForData(l net.Listener) bool {
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(acc)
			return
		}
		acc <- c
	}()
	select {
	case c, ok := <-acc:
		s.pasvConn = c
		return ok
	case <-s.gone:
		return false
	case <-time.After(s.f.idleTimeout):
		return false
	case <-s.f.closed:
		return false
	}
}

func (s *fakeSession) closeData() {
	if s.pasv != nil {
		s.pasv.Close()
		s.pasv = nil
	}
	if s.portConn != nil {
		s.portConn.Close()
		s.portConn = nil
	}
	if s.pasvConn != nil {
		s.pasvConn.Close()
		s.pasvConn = nil
	}
}

// handle runs one command; false ends the session.
func (s *fakeSession) handle(verb, arg string) bool {
	f := s.f
	switch verb {
	case "USER":
		s.reply("331 password please")
	case "PASS":
		s.reply("230 logged in")
	case "FEAT":
		s.reply("211-Features:\r\n MLST type*;size*;modify*;\r\n SIZE\r\n MDTM\r\n MFMT\r\n REST STREAM\r\n EPSV\r\n UTF8\r\n211 End")
	case "TYPE", "OPTS", "NOOP", "PBSZ", "PROT":
		s.reply("200 ok")
	case "PWD":
		s.reply(`257 "/"`)
	case "CWD":
		s.reply("250 ok")
	case "QUIT":
		s.reply("221 bye")
		return false
	case "ABOR":
		s.reply("225 no transfer to abort")
	case "REST":
		n, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || n < 0 {
			s.reply("501 bad offset")
			break
		}
		s.rest = n
		s.reply("350 restarting at %d", n)
	case "SIZE", "MDTM":
		f.mu.Lock()
		ff, ok := f.files[arg]
		var size int64
		var mt time.Time
		if ok {
			size, mt = int64(len(ff.data)), ff.mtime
		}
		f.mu.Unlock()
		switch {
		case !ok:
			s.reply("550 %s: no such file", arg)
		case verb == "SIZE":
			s.reply("213 %d", size)
		default:
			s.reply("213 %s", mt.UTC().Format("20060102150405"))
		}
	case "MFMT":
		ts, p, _ := strings.Cut(arg, " ")
		mt, err := time.Parse("20060102150405", ts)
		f.mu.Lock()
		ff, ok := f.files[p]
		if ok && err == nil {
			ff.mtime = mt
		}
		f.mu.Unlock()
		if !ok || err != nil {
			s.reply("550 cannot")
			break
		}
		s.reply("213 Modify=%s; %s", ts, p)
	case "MLST":
		if e, ok := f.fact(arg); ok {
			s.reply("250-Listing %s\r\n %s\r\n250 End", arg, e)
		} else {
			s.reply("550 %s: no such file", arg)
		}
	case "MKD":
		f.mu.Lock()
		_, isFile := f.files[arg]
		exists := f.dirs[arg] || isFile
		if !exists {
			f.dirs[arg] = true
		}
		f.mu.Unlock()
		if exists {
			s.reply("550 %s: exists", arg)
		} else {
			s.reply(`257 "%s" created`, arg)
		}
	case "DELE":
		f.mu.Lock()
		ff, ok := f.files[arg]
		if ok {
			delete(f.files, arg)
			if ff.writers > 0 && f.hiddenRename {
				f.renamed++
				f.files[path.Join(path.Dir(arg), fmt.Sprintf(".fake-rename.%d", f.renamed))] = ff
				ok = false
			}
		}
		f.mu.Unlock()
		if ok {
			s.reply("250 deleted")
		} else {
			s.reply("550 %s: cannot delete", arg)
		}
	case "PASV", "EPSV":
		if verb == "PASV" && f.noPASV {
			s.reply("502 PASV not implemented, use EPSV")
			break
		}
		s.closeData()
		l, err := net.Listen("tcp4", net.JoinHostPort(f.ip, "0"))
		if err != nil {
			s.reply("425 cannot listen")
			break
		}
		s.pasv, s.port = l, ""
		if f.early {
			s.early = make(chan *earlyConn, 1)
			go s.acceptEarly(l, s.early)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if verb == "EPSV" {
			s.reply("229 Entering Extended Passive Mode (|||%d|)", port)
			break
		}
		host := f.ip
		if f.pasvHost != "" {
			host = f.pasvHost
		}
		s.reply("227 Entering Passive Mode (%s,%d,%d)", strings.ReplaceAll(host, ".", ","), port>>8, port&0xff)
		if f.pasvBlocks {
			return s.blockForData(l)
		}
	case "PORT", "EPRT":
		addr, err := parseActive(verb, arg)
		f.mu.Lock()
		f.ports = append(f.ports, verb+" "+arg)
		f.mu.Unlock()
		if err != nil {
			s.reply("501 %v", err)
			break
		}
		if h, _, _ := net.SplitHostPort(addr); (f.refuseForeign || f.refusePortForeign) && h != s.peerIP() {
			s.reply("500 I won't open a connection to %s (only to %s)", h, s.peerIP())
			break
		}
		s.closeData()
		s.port = addr
		if f.connectOnPort {
			c, err := s.dialActive()
			if err != nil {
				s.reply("425 cannot open data connection: %v", err)
				break
			}
			s.port, s.portConn = addr, c
		}
		s.reply("200 PORT ok")
	case "RNFR":
		if _, ok := f.get(arg); !ok {
			s.reply("550 %s: no such file", arg)
			break
		}
		s.from = arg
		s.reply("350 ready for RNTO")
	case "RNTO":
		from := s.from
		s.from = ""
		if from == "" {
			s.reply("503 RNFR first")
			break
		}
		if f.renameReply != nil {
			if r := f.renameReply(from, arg); r != "" {
				s.reply("%s", r)
				break
			}
		}
		f.mu.Lock()
		ff, ok := f.files[from]
		if ok {
			delete(f.files, from)
			f.files[arg] = ff
		}
		f.mu.Unlock()
		if !ok {
			s.reply("550 %s: no such file", from)
			break
		}
		s.reply("250 renamed")
	case "RETR", "STOR", "APPE":
		return s.transfer(verb, arg)
	case "MLSD":
		dc := s.dataConn()
		if dc == nil {
			break
		}
		s.reply("150 listing")
		for _, e := range f.list(arg) {
			fmt.Fprintf(dc, "%s\r\n", e)
		}
		dc.Close()
		s.reply("226 done")
	default:
		s.reply("502 %s not implemented", verb)
	}
	return true
}

// fact is the MLST fact line of p.
func (f *fakeFTP) fact(p string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ff, ok := f.files[p]; ok {
		return fmt.Sprintf("type=file;size=%d;modify=%s; %s", len(ff.data), ff.mtime.UTC().Format("20060102150405"), p), true
	}
	if f.dirs[p] {
		return fmt.Sprintf("type=dir;modify=20200102030405; %s", p), true
	}
	return "", false
}

// list is the MLSD listing of dir.
func (f *fakeFTP) list(dir string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for p, ff := range f.files {
		if path.Dir(p) == dir {
			out = append(out, fmt.Sprintf("type=file;size=%d;modify=%s; %s", len(ff.data),
				ff.mtime.UTC().Format("20060102150405"), path.Base(p)))
		}
	}
	for d := range f.dirs {
		if d != "/" && path.Dir(d) == dir {
			out = append(out, "type=dir;modify=20200102030405; "+path.Base(d))
		}
	}
	sort.Strings(out)
	return out
}

// parseActive decodes a PORT or EPRT argument into "ip:port".
func parseActive(verb, arg string) (string, error) {
	if verb == "EPRT" {
		if len(arg) < 2 {
			return "", errors.New("bad EPRT")
		}
		parts := strings.Split(arg, arg[:1])
		if len(parts) != 5 {
			return "", errors.New("bad EPRT")
		}
		return net.JoinHostPort(parts[2], parts[3]), nil
	}
	n := strings.Split(arg, ",")
	if len(n) != 6 {
		return "", errors.New("bad PORT")
	}
	hi, err1 := strconv.Atoi(n[4])
	lo, err2 := strconv.Atoi(n[5])
	if err1 != nil || err2 != nil {
		return "", errors.New("bad PORT")
	}
	return net.JoinHostPort(strings.Join(n[:4], "."), strconv.Itoa(hi<<8|lo)), nil
}
