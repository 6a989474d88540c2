package ftpclient

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path"
	"regexp"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Client is one configured server: its scheduler and every operation on it.
// Safe for concurrent use.
type Client struct {
	cfg   ServerConfig
	log   *slog.Logger
	sched *sched
	roots *x509.CertPool // from TLSCAFile; nil: the system's
	pin   []byte         // from TLSFingerprint: SHA-256 of the only certificate accepted

	features      atomic.Pointer[Features] // from the first login's FEAT
	loggedIn      atomic.Bool              // a login has succeeded once (see tooMany)
	epsvBroken    atomic.Bool              // EPSV was refused: use PASV from now on
	listPlain     atomic.Bool              // "LIST -a" lists less than LIST: use plain LIST (list.go)
	dashA         atomic.Bool              // "LIST -a" has listed entries: it is understood or ignored (list.go)
	nlstOnly      atomic.Bool              // no LIST: list with NLST (nlst.go)
	noMLST        atomic.Bool              // MLST is refused although MLSD works: Stat lists the parent
	noSize        atomic.Bool              // SIZE is refused: Size lists the parent
	noUtime       atomic.Bool              // SITE UTIME was refused
	noChmod       atomic.Bool              // SITE CHMOD was refused
	noMdtmWrite   atomic.Bool              // "MDTM time path" was refused
	mdtmWriteOK   atomic.Bool              // "MDTM time path" has worked at least once
	noRenameOver  atomic.Bool              // RNTO onto an existing file was refused (replace.go)
	namesVerbatim atomic.Bool              // a non-ASCII name was listed as stored (names.go)
	nameChecks    atomic.Int32             // listings that showed a non-ASCII name in neither form (names.go)
	noRest        atomic.Bool              // REST is refused or ignored: downloads start at 0 (rest.go)
	restChecked   atomic.Bool              // REST was checked and works (rest.go)
	connID        atomic.Int64
	mdtmSerial    atomic.Bool  // pipelined MDTM failed once: one at a time
	mdtmChecked   atomic.Bool  // MDTM was read back after setting a time (mtime.go)
	mdtmOffset    atomic.Int64 // MDTM answers in local time, this far ahead of UTC (mtime.go)
	mtimes        *lru.Cache[string, mtimeMemo]
	activity      atomic.Int64 // UnixNano of the last sign of life (see sched.quiet)
	longWaits     atomic.Int32 // FXP final replies being waited for (see sched.quiet)

	stats struct {
		commands, dials, bytesIn, bytesOut atomic.Int64
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Normalize fills the defaults of a ServerConfig and checks it.
func (cfg ServerConfig) Normalize() (ServerConfig, error) {
	if !nameRE.MatchString(cfg.Name) || cfg.Name == "." || cfg.Name == ".." {
		return cfg, fmt.Errorf("server name %q: want [A-Za-z0-9._-]+: %w", cfg.Name, ErrBadName)
	}
	if cfg.Host == "" {
		return cfg, fmt.Errorf("server %s: no host: %w", cfg.Name, ErrBadName)
	}
	if err := checkArg(cfg.Host + cfg.User); err != nil {
		return cfg, fmt.Errorf("server %s: host or user: %w", cfg.Name, err)
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = TLSNone
	case TLSNone, TLSExplicit, TLSImplicit:
	default:
		return cfg, fmt.Errorf("server %s: tls %q: want none, explicit or implicit", cfg.Name, cfg.TLS)
	}
	if cfg.TLSFingerprint != "" {
		pin, err := parseFingerprint(cfg.TLSFingerprint)
		if err != nil {
			return cfg, fmt.Errorf("server %s: %w", cfg.Name, err)
		}
		cfg.TLSFingerprint = "sha256:" + hex.EncodeToString(pin)
		if cfg.TLSInsecure {
			return cfg, fmt.Errorf("server %s: tls_fingerprint and tls_insecure contradict: pin the certificate or skip the check", cfg.Name)
		}
	}
	if cfg.Port == 0 {
		cfg.Port = 21
		if cfg.TLS == TLSImplicit {
			cfg.Port = 990
		}
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return cfg, fmt.Errorf("server %s: port %d out of range", cfg.Name, cfg.Port)
	}
	if cfg.BasePath == "" {
		cfg.BasePath = "/"
	}
	cfg.BasePath = path.Clean("/" + cfg.BasePath)
	if err := checkArg(cfg.BasePath); err != nil {
		return cfg, fmt.Errorf("server %s: base path: %w", cfg.Name, err)
	}
	if cfg.User == "" {
		cfg.User = "anonymous"
	}
	switch cfg.PreciseMtime {
	case "":
		cfg.PreciseMtime = MtimeAuto
	case MtimeAuto, MtimeAlways, MtimeNever:
	default:
		return cfg, fmt.Errorf("server %s: precise_mtime %q: want auto, always or never", cfg.Name, cfg.PreciseMtime)
	}
	switch cfg.FXP {
	case "":
		cfg.FXP = FXPAuto
	case FXPAuto, FXPOff, FXPForce:
	default:
		return cfg, fmt.Errorf("server %s: fxp %q: want auto, off or force", cfg.Name, cfg.FXP)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 4
	}
	def(&cfg.ListingTTL, 60*time.Second)
	def(&cfg.DialTimeout, 10*time.Second)
	def(&cfg.CmdTimeout, 30*time.Second)
	def(&cfg.DataTimeout, 60*time.Second)
	def(&cfg.IdleTimeout, 60*time.Second)
	return cfg, nil
}

// New validates cfg (filling defaults) and returns a Client. It does not
// dial. A nil logger discards.
func New(cfg ServerConfig, log *slog.Logger) (*Client, error) {
	cfg, err := cfg.Normalize()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, log: log}
	if err := c.loadTrust(); err != nil {
		return nil, err
	}
	c.mtimes, _ = lru.New[string, mtimeMemo](mtimeMemoSize)
	c.sched = newSched(c)
	return c, nil
}

// Config returns the normalized configuration (Password included; never log it).
func (c *Client) Config() ServerConfig { return c.cfg }

// Name is the server's folder name.
func (c *Client) Name() string { return c.cfg.Name }

// Connect dials and logs in one connection (kept idle), so that bad
// credentials or an unreachable host are reported at mount time.
func (c *Client) Connect(ctx context.Context) error {
	return c.do(ctx, "login", "", true, func(*conn) error { return nil })
}

// Close closes all connections; in-flight transfers fail.
func (c *Client) Close() error {
	c.sched.close()
	return nil
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	st := Stats{
		Commands: c.stats.commands.Load(),
		Dials:    c.stats.dials.Load(),
		BytesIn:  c.stats.bytesIn.Load(),
		BytesOut: c.stats.bytesOut.Load(),
	}
	c.sched.stats(&st)
	return st
}

// Features returns what the server supports (cached after the first login).
func (c *Client) Features(ctx context.Context) (Features, error) {
	if f := c.features.Load(); f != nil {
		return *f, nil
	}
	if err := c.Connect(ctx); err != nil {
		return Features{}, err
	}
	return *c.features.Load(), nil
}

// feats returns the cached features (zero before the first login).
func (c *Client) feats() Features {
	if f := c.features.Load(); f != nil {
		return *f
	}
	return Features{}
}

// useMLSD says whether listings use MLSD/MLST.
func (c *Client) useMLSD() bool { return c.feats().MLSD && !c.cfg.DisableMLSD }

// do runs fn on a connection under ctx (a metadata slot): acquiring (always
// retryable: nothing was sent yet), binding ctx to the connection, releasing
// it according to the outcome, and retrying the whole when idempotent and the
// failure is a retryable one. The result goes through translate.
func (c *Client) do(ctx context.Context, op, p string, idempotent bool, fn func(*conn) error) error {
	err := retry(ctx, func() (bool, error) {
		cn, err := c.sched.acquire(ctx, classMeta)
		if err != nil {
			return shouldRetry(ctx, err), err
		}
		err = c.run(ctx, cn, fn)
		c.sched.release(cn, err)
		return idempotent && shouldRetry(ctx, err), err
	})
	return c.translate(op, p, err)
}

// run calls fn with ctx bound to cn; an interruption by ctx is reported as
// ctx's error.
func (c *Client) run(ctx context.Context, cn *conn, fn func(*conn) error) error {
	stop := cn.bind(ctx)
	err := withCmd(cn, fn(cn))
	if !stop() && err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	}
	return err
}

// touch records a sign of life from the server (bytes received, data
// bytes sent, a connection released), for the scheduler's wait deadline.
func (c *Client) touch() { c.activity.Store(time.Now().UnixNano()) }

// sp maps a mount path to the server path.
func (c *Client) sp(p string) (string, error) { return serverPath(c.cfg.BasePath, p) }
