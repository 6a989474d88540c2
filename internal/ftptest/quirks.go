package ftptest

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Quirks are the deviations of real FTP servers from the plain behaviour,
// one switch each, for StartQuirky: a hand-written server (not goftp) over a
// directory on disk, whose every reply can be bent. The zero value is a
// well-behaved Unix server: FEAT with MLSD/MLST, SIZE, MDTM, MFMT, REST
// STREAM, UTF8, EPSV; ls-style LIST that understands -a; 150 and 226 for
// transfers; RNTO over an existing file allowed.
//
// Permissions are the disk's, checked by the server itself (tests run as
// root, whom the kernel never refuses): a file without the owner's write
// bit cannot be written, renamed, removed or touched; a directory without
// it takes no new entry and loses none.
type Quirks struct {
	// Greeting and login.
	GreetDelay     time.Duration // wait this long before greeting
	GreetMultiline bool          // a three-line 220 greeting
	Greet120       bool          // "120 ready in a moment" before the 220
	MaxUsers       int           // > 0: a login beyond this many at once gets "530 too many users" and a hang-up
	IdleClose      time.Duration // > 0: "421 Timeout" and a hang-up after this long without a command

	// Features.
	NoFEAT  bool // FEAT is "500 unknown command"
	OddFEAT bool // FEAT in lower case, with tabs and extra spaces, lines without the leading space
	NoMLSD  bool // neither MLSD nor MLST (LIST only)
	NoMLST  bool // MLSD, but MLST is unknown
	Latin1  bool // no UTF8 feature, OPTS UTF8 refused: names are the disk's bytes (Latin-1 in tests)
	// CommandsLatin1: command lines are read as Latin-1 and stored (and
	// listed) UTF-8-encoded, so a non-ASCII name is stored under other
	// bytes than sent, yet found by them (Twisted 22: `é` is stored as `Ã©`).
	CommandsLatin1 bool
	// ListDecomposed: LIST shows é, ï and ü decomposed (e + U+0301, ...),
	// as a server on HFS+ lists them, while commands find the name as
	// given (LIST only).
	ListDecomposed bool

	// MLSD facts.
	MLSDStyle    MLSDStyle // how facts are spelled (default: lower case, slink with target)
	MLSDFraction bool      // modify=YYYYMMDDHHMMSS.123
	MLSDCdir     bool      // "type=cdir" and "type=pdir" lines for "." and ".."

	// LIST.
	ListStyle ListStyle // the format of LIST lines
	ListTotal bool      // a "total N" line first
	DashA     DashA     // what "LIST -a" does
	NoLIST    bool      // LIST is unknown: NLST only (and no MLSD)
	ListExtra []string  // raw lines added to every LIST (devices, oddities)

	// SIZE, MDTM, REST, APPE.
	NoSIZE           bool           // SIZE is unknown (502)
	SizeASCII        bool           // SIZE refused (550) while TYPE is A, the initial type
	NoMDTM           bool           // MDTM unknown (and not in FEAT)
	MDTMZone         *time.Location // MDTM answers in this zone instead of UTC
	MDTMFraction     bool           // MDTM answers YYYYMMDDHHMMSS.123
	NoMFMT           bool           // MFMT unknown (and not in FEAT)
	NoREST           bool           // REST unknown (502)
	RESTIgnored      bool           // REST answered 350 but transfers start at 0 (not in FEAT)
	RESTUnadvertised bool           // REST works but FEAT does not say "REST STREAM"
	NoAPPE           bool           // APPE unknown (502)

	// Passive mode.
	NoEPSV       bool   // EPSV unknown (502)
	EPSVBroken   bool   // EPSV answers 229 without a parsable port
	PASVAddr     string // "h1,h2,h3,h4" named in PASV replies instead of the server's own address
	PASVNoParens bool   // "227 Entering Passive Mode 127,0,0,1,4,5" without parentheses

	// Transfer replies (downloads: RETR, LIST, MLSD, NLST; uploads: STOR, APPE).
	Multiline150     bool          // the transfer's 1xx reply has three lines
	Reply125         bool          // 125 instead of 150
	Final250         bool          // 250 instead of 226 at the end of a transfer
	FinalBeforeClose bool          // downloads: 226 before the data connection is closed
	NeverCloseData   bool          // downloads: all data, 226, and the data connection stays open
	FailAfter1xx     string        // a reply ("425 ...") right after the 1xx, no data, data connection left open
	MidTransfer      string        // a reply ("451 ...", "452 ...") after MidAfter bytes, data connection closed
	MidAfter         int64         // bytes moved before MidTransfer
	FailOn           string        // the commands FailAfter1xx and MidTransfer apply to ("STOR APPE"); "": all
	DataHold         time.Duration // how long a data connection left open stays open (default 30 s)

	// Names and changes.
	NoRenameOver     bool // RNTO onto an existing file: 550
	NoDeleteBusy     bool // DELE or RNFR of a file being uploaded: 550 "in use" (Windows)
	CaseInsensitive  bool // names match whatever their case (Windows): A.txt is a.txt
	RewriteSpaces    bool // spaces in a new name become '_' (STOR, MKD, RNTO)
	Vague550         bool // every refusal is "550 Failed." (not found, exists, permission alike)
	MKDExistsMessage bool // MKD of an existing directory: "550 Directory already exists"
}

// MLSDStyle is how a server spells MLSD facts.
type MLSDStyle int

// MLSD styles.
const (
	MLSDLower   MLSDStyle = iota // type=file;size=..;modify=..;unix.mode=0644; ; links type=OS.unix=slink:/target
	MLSDProFTPD                  // modify=..;perm=adfrw;size=..;type=file;unique=..;UNIX.group=0;UNIX.mode=0644;UNIX.owner=0; ; links type=OS.unix=symlink (no target)
	MLSDUpper                    // Type=file;Size=..;Modify=..;Perm=rw;UNIX.mode=0644; ; links Type=OS.unix=slink:/target
)

// ListStyle is the format of LIST lines.
type ListStyle int

// LIST styles.
const (
	ListUnix        ListStyle = iota // "-rw-r--r--    1 ftp      ftp          1234 Jan  5 12:00 name"
	ListUnixNoGroup                  // "-rw-r--r--    1 ftp          1234 Jan  5 12:00 name"
	ListUnixNumeric                  // "-rw-r--r--    1 1000     1000         1234 Jan  5 12:00 name"
	ListDOS                          // "01-05-24  12:00PM                 1234 name", "<DIR>" for directories
	ListGerman                       // ListUnix with German month names ("Mär", "Mai", "Okt", "Dez")
)

// DashA is what a server makes of "LIST -a".
type DashA int

// "LIST -a" behaviours.
const (
	DashAUnderstood DashA = iota // lists dot files too
	DashAIgnored                 // lists as plain LIST: dot files hidden
	DashAAsPath                  // takes "-a" for a path: "550 -a: No such file or directory"
	DashAAsEmpty                 // takes "-a" for a pattern that matches nothing: an empty listing
)

// quirkServer is the state of a running StartQuirky server.
type quirkServer struct {
	q    Quirks
	root string
	user string
	pass string
	host string // the address the control listener is bound to

	mu        sync.Mutex
	received  []string       // every command line, in order
	users     int            // logged-in sessions
	uploading map[string]int // real path → uploads running
}

// StartQuirky starts a server with the given quirks over a directory (a new
// t.TempDir(), or WithRoot's). Of the Options, WithUser, WithRoot and
// WithMaxConns apply (the latter answering "421" at the greeting). The
// Server it returns is used like Start's.
func StartQuirky(t testing.TB, q Quirks, opts ...Option) *Server {
	t.Helper()
	o := options{user: "test", password: "secret-pw"}
	for _, opt := range opts {
		opt(&o)
	}
	if o.root == "" {
		o.root = t.TempDir()
	}
	if q.DataHold == 0 {
		q.DataHold = 30 * time.Second
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ftptest: listen: %v", err)
	}
	qs := &quirkServer{q: q, root: o.root, user: o.user, pass: o.password, host: "127.0.0.1",
		uploading: map[string]int{}}
	s := &Server{
		Root:     o.root,
		Host:     "127.0.0.1",
		Port:     ln.Addr().(*net.TCPAddr).Port,
		User:     o.user,
		Password: o.password,
		l:        &listener{Listener: ln, max: o.maxConns, conns: make(map[*conn]struct{})},
		done:     make(chan struct{}),
		quirky:   qs,
	}
	go func() {
		defer close(s.done)
		var wg sync.WaitGroup
		defer wg.Wait()
		for {
			nc, err := s.l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				qs.serve(nc)
			}()
		}
	}()
	t.Cleanup(s.Close)
	return s
}

// Received lists the command lines a StartQuirky server has received, in
// order (all sessions). Nil for other servers.
func (s *Server) Received() []string {
	if s.quirky == nil {
		return nil
	}
	s.quirky.mu.Lock()
	defer s.quirky.mu.Unlock()
	return append([]string(nil), s.quirky.received...)
}
