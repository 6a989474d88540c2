package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/fxpfs/fxpfs/config"
	"github.com/fxpfs/fxpfs/ftpclient"
)

// serverFlags are the flags that say which servers to use, shared by the
// subcommands.
type serverFlags struct {
	configPath string
	servers    []string
	debug      bool
	logFile    string

	file config.File // the config file as resolve loaded it
}

func (f *serverFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.configPath, "config", "c", "", "config file (default "+config.DefaultPath()+" if it exists)")
	cmd.Flags().StringArrayVarP(&f.servers, "server", "s", nil,
		"a server as NAME=ftp://[user@]host[:port][/base] (ftps:// for implicit TLS); repeatable")
	cmd.Flags().BoolVar(&f.debug, "debug", false, "log FTP control traffic (PASS redacted) and every transfer")
	cmd.Flags().StringVar(&f.logFile, "log-file", "", "write logs to this file instead of standard error")
}

// logger builds the slog logger the flags ask for.
func (f *serverFlags) logger() (*slog.Logger, io.Closer, error) {
	var w io.Writer = os.Stderr
	var closer io.Closer = io.NopCloser(nil)
	if f.logFile != "" {
		lf, err := os.OpenFile(f.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		w, closer = lf, lf
	}
	level := slog.LevelInfo
	if f.debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), closer, nil
}

// resolve loads the config file and --server flags into server configs.
func (f *serverFlags) resolve(extra map[string]config.Server) ([]ftpclient.ServerConfig, error) {
	path, explicit := f.configPath, f.configPath != ""
	if !explicit {
		path = config.DefaultPath()
	}
	file, err := config.Load(path, explicit)
	if err != nil {
		return nil, err
	}
	f.file = file
	flags := map[string]config.Server{}
	for _, s := range f.servers {
		name, srv, err := config.ParseServerFlag(s)
		if err != nil {
			return nil, err
		}
		flags[name] = srv
	}
	for n, s := range extra {
		flags[n] = s
	}
	return config.Resolve(config.Merge(file, flags), os.Getenv, config.DefaultNetrc())
}

// connectAll makes a client per server and logs each in once, in parallel,
// so that a wrong password or an unreachable host is reported now.
func connectAll(ctx context.Context, cfgs []ftpclient.ServerConfig, log *slog.Logger) ([]*ftpclient.Client, error) {
	clients := make([]*ftpclient.Client, len(cfgs))
	for i, sc := range cfgs {
		c, err := ftpclient.New(sc, log.With("server", sc.Name))
		if err != nil {
			return nil, err
		}
		clients[i] = c
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range clients {
		g.Go(func() error {
			if err := c.Connect(gctx); err != nil {
				return fmt.Errorf("server %s: %w", c.Name(), err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		for _, c := range clients {
			c.Close()
		}
		return nil, err
	}
	return clients, nil
}
