package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fxpfs/fxpfs/config"
	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/fxpcopy"
)

type cpFlags struct {
	serverFlags
	recursive bool
	jobs      int
	cont      bool
	noVerify  bool
}

func newCpCmd() *cobra.Command {
	var f cpFlags
	cmd := &cobra.Command{
		Use:   "cp [flags] SRC DST",
		Short: "Copy files or trees between servers, server-to-server (FXP), with progress",
		Long: `cp copies SRC to DST, each given as NAME:/path (a server of the config file or
of --server) or as an ftp:// or ftps:// URL. A URL's password comes from
~/.netrc or from FXPFS_PASSWORD_<HOST>_<PORT> (upper-cased, '.' as '_'; no
_<PORT> when the URL has no port): for ftp://me@10.0.0.5:2121/x that is
FXPFS_PASSWORD_10_0_0_5_2121.
The servers transfer the data directly to each other (FXP) unless a server's
policy is fxp = "off" or FXP is refused, in which case the bytes are relayed
through this host and the summary says why. Like cp(1): if DST is an existing
directory (or ends in '/'), SRC is copied into it.

On a terminal a bar per transfer under way and a total bar show bytes, rate
and ETA, with a line per finished file above them; otherwise one line per
finished file is printed, and the totals every 10 seconds. The summary counts files,
bytes, seconds, and how many went by FXP and how many were relayed. The exit
status is non-zero if any file failed.`,
		Example: `  fxpfs cp alpha:/pub/big.iso beta:/incoming/
  fxpfs cp -r -j 8 alpha:/releases beta:/mirror/releases
  fxpfs cp --continue ftp://me@10.0.0.5/big.iso beta:/incoming/big.iso`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCp(cmd.Context(), &f, args[0], args[1])
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&f.recursive, "recursive", "r", false, "copy directories recursively")
	cmd.Flags().IntVarP(&f.jobs, "jobs", "j", 4, "parallel transfers (with -r)")
	cmd.Flags().BoolVar(&f.cont, "continue", false, "resume partial destination files instead of starting over")
	cmd.Flags().BoolVar(&f.noVerify, "no-verify", false, "skip size/hash verification after each file")
	return cmd
}

// endpointArg is a parsed SRC or DST argument.
type endpointArg struct {
	server string // name in the config, or a name made from the URL's host
	path   string
}

// parseEndpoint splits NAME:/path or an ftp(s):// URL. URL servers are added
// to adhoc under a name made from the host.
func parseEndpoint(arg string, adhoc map[string]config.Server) (endpointArg, error) {
	if strings.HasPrefix(arg, "ftp://") || strings.HasPrefix(arg, "ftps://") {
		u, err := url.Parse(arg)
		if err != nil {
			return endpointArg{}, errors.New("bad URL (want ftp://[user@]host[:port]/path)")
		}
		if u.User != nil {
			if _, has := u.User.Password(); has {
				return endpointArg{}, errors.New("a password in the URL would be visible in ps; use FXPFS_PASSWORD_<HOST> or ~/.netrc")
			}
		}
		name := u.Hostname()
		if u.Port() != "" {
			name += "-" + u.Port()
		}
		p := u.Path
		u.Path = "/"
		adhoc[name] = config.Server{URL: u.String()}
		return endpointArg{server: name, path: cleanPath(p)}, nil
	}
	name, p, ok := strings.Cut(arg, ":")
	if !ok || name == "" {
		return endpointArg{}, fmt.Errorf("%q: want NAME:/path or ftp://host/path", arg)
	}
	return endpointArg{server: name, path: cleanPath(p)}, nil
}

func cleanPath(p string) string {
	trailing := strings.HasSuffix(p, "/") && p != "/"
	p = path.Clean("/" + p)
	if trailing {
		p += "/"
	}
	return p
}

func runCp(ctx context.Context, f *cpFlags, srcArg, dstArg string) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := openPair(ctx, &f.serverFlags, srcArg, dstArg)
	if err != nil {
		return err
	}
	defer p.close()
	srcEP, dstEP := p.src, p.dst
	into := p.dstSlash || dstEP.Path == "/" // DST is a folder to copy into
	// SRC and DST are looked up at once (each server on its own
	// connection), and the copy is told what was found, so that it asks
	// neither again.
	var dst *ftpclient.Entry
	var derr error
	lookDst := func() {
		var e ftpclient.Entry
		if e, derr = dstEP.Client.Stat(ctx, dstEP.Path); derr == nil {
			dst = &e
		}
	}
	var wg sync.WaitGroup
	if !into && srcEP.Client != dstEP.Client {
		wg.Go(lookDst)
	}
	st, err := srcEP.Client.Stat(ctx, srcEP.Path)
	if !into && srcEP.Client == dstEP.Client {
		lookDst() // one server: one connection, one command after the other
	}
	wg.Wait()
	if err != nil {
		return fmt.Errorf("%s: %w", srcArg, err)
	}
	if st.Type == ftpclient.TypeDir && !f.recursive {
		return fmt.Errorf("%s is a directory (use -r)", srcArg)
	}
	listed := &fxpcopy.Listed{Src: st}
	switch {
	case into, derr == nil && dst.Type == ftpclient.TypeDir:
		dstEP.Path = path.Join(dstEP.Path, path.Base(srcEP.Path)) // not looked up: the copy asks
	case derr == nil:
		listed.DstLooked, listed.Dst = true, dst
	case errors.Is(derr, ftpclient.ErrNotFound):
		listed.DstLooked = true
	default:
		return fmt.Errorf("%s: %w", dstArg, derr)
	}
	opts := fxpcopy.Options{Continue: f.cont, NoVerify: f.noVerify, Listed: listed}
	prog := newProgress(os.Stderr, term.IsTerminal(int(os.Stderr.Fd())))
	opts.Plan = prog.setPlan
	sum, err := fxpcopy.New(p.log).CopyTree(ctx, srcEP, dstEP, opts, f.jobs, prog.update)
	prog.done()
	fmt.Fprintln(os.Stderr, sum.String())
	return err
}

// pair is SRC and DST of cp or sync, connected.
type pair struct {
	src, dst fxpcopy.Endpoint
	dstSlash bool // DST ended in '/': copy into it
	log      *slog.Logger
	close    func()
}

// openPair parses SRC and DST (NAME:/path or ftp:// URLs), resolves their
// servers and logs in to both.
func openPair(ctx context.Context, f *serverFlags, srcArg, dstArg string) (*pair, error) {
	adhoc := map[string]config.Server{}
	src, err := parseEndpoint(srcArg, adhoc)
	if err != nil {
		return nil, err
	}
	dst, err := parseEndpoint(dstArg, adhoc)
	if err != nil {
		return nil, err
	}
	log, closer, err := f.logger()
	if err != nil {
		return nil, err
	}
	cfgs, err := f.resolve(adhoc)
	if err != nil {
		closer.Close()
		return nil, err
	}
	var need []ftpclient.ServerConfig
	for _, name := range []string{src.server, dst.server} {
		found := false
		for _, c := range cfgs {
			if c.Name == name {
				found = true
				if len(need) == 0 || need[0].Name != name {
					need = append(need, c)
				}
			}
		}
		if !found {
			closer.Close()
			return nil, fmt.Errorf("no server named %q (configured: %s)", name, serverNames(cfgs))
		}
	}
	clients, err := connectAll(ctx, need, log)
	if err != nil {
		closer.Close()
		return nil, err
	}
	byName := map[string]*ftpclient.Client{}
	for _, c := range clients {
		byName[c.Name()] = c
	}
	ep := func(e endpointArg) fxpcopy.Endpoint {
		p := strings.TrimSuffix(e.path, "/")
		if p == "" {
			p = "/"
		}
		return fxpcopy.Endpoint{Client: byName[e.server], Path: p}
	}
	return &pair{
		src: ep(src), dst: ep(dst), dstSlash: strings.HasSuffix(dst.path, "/"), log: log,
		close: func() {
			for _, c := range clients {
				c.Close()
			}
			closer.Close()
		},
	}, nil
}

func serverNames(cfgs []ftpclient.ServerConfig) string {
	if len(cfgs) == 0 {
		return "none"
	}
	names := make([]string, len(cfgs))
	for i, c := range cfgs {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}
