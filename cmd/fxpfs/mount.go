package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fxpfs/fxpfs/cache"
	"github.com/fxpfs/fxpfs/fusefs"
	"github.com/fxpfs/fxpfs/fxpcopy"
	"github.com/fxpfs/fxpfs/internal/ctl"
)

type mountFlags struct {
	serverFlags
	readOnly   bool
	allowOther bool
	uid, gid   int
	daemon     bool
	cacheDirs  int
	debugFUSE  bool
	directIO   bool
	readAhead  int
	rawLinks   bool
	matchMin   int64
	helper     bool // run by mount(8) (helper.go): quiet on success
}

func newMountCmd() *cobra.Command {
	var f mountFlags
	cmd := &cobra.Command{
		Use:   "mount [flags] MOUNTPOINT",
		Short: "Mount the configured FTP servers at MOUNTPOINT (one folder per server)",
		Long: `mount logs in to every server (failing at once on a wrong password or an
unreachable host), then mounts them at MOUNTPOINT/<server>/ and serves the mount
in the foreground until SIGINT or SIGTERM (Ctrl-C), which unmounts cleanly; a
second signal while the mount is busy detaches it lazily. The mount is usable as
soon as 'mountpoint -q MOUNTPOINT' succeeds, so scripts can run

    fxpfs mount --server alpha=ftp://user@host/ /mnt/fxp &
    until mountpoint -q /mnt/fxp; do sleep 0.1; done

With --daemon, fxpfs returns once the mount is ready and serves it in the
background (logs to --log-file, or nowhere). Unmount with 'fusermount3 -u
MOUNTPOINT' (or umount as root). For systemd, run it in the foreground
(Type=simple) and stop it with SIGTERM: see docs/systemd.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMount(cmd.Context(), &f, args[0])
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&f.readOnly, "read-only", "r", false, "mount read-only (every change fails with EROFS)")
	cmd.Flags().BoolVar(&f.allowOther, "allow-other", false, "let other users access the mount (needs user_allow_other in /etc/fuse.conf unless root)")
	cmd.Flags().IntVar(&f.uid, "uid", os.Getuid(), "owner shown for every file (default: the mounting user)")
	cmd.Flags().IntVar(&f.gid, "gid", os.Getgid(), "group shown for every file (default: the mounting user's group)")
	cmd.Flags().BoolVar(&f.debugFUSE, "debug-fuse", false, "also trace every FUSE request from the kernel (very verbose)")
	cmd.Flags().BoolVarP(&f.daemon, "daemon", "d", false, "return once mounted and serve in the background")
	cmd.Flags().IntVar(&f.cacheDirs, "cache-dirs", 10000, "directory listings kept in the cache per server")
	cmd.Flags().BoolVar(&f.helper, "mount-helper", false, "run as mount(8)'s helper (set by the helper itself)")
	_ = cmd.Flags().MarkHidden("mount-helper")
	cmd.Flags().BoolVar(&f.directIO, "direct-io", false,
		"read without the kernel page cache: no read-ahead, no caching between opens (config: direct_io = true)")
	cmd.Flags().IntVar(&f.readAhead, "read-ahead-kb", 0,
		fmt.Sprintf("the kernel's read-ahead for the mount in KiB, set when run as root (config: read_ahead_kb); 0: %d, -1: leave the kernel's (128)", fusefs.DefaultReadAheadKB))
	cmd.Flags().Int64Var(&f.matchMin, "match-min", 0,
		"smallest file (bytes) whose copy by read and write between servers (rsync, gio copy...) goes by FXP; 0: measured from the servers' round trips and the upload rate, -1: never")
	cmd.Flags().BoolVar(&f.rawLinks, "raw-symlinks", false,
		"show the servers' symlink targets as listed: an absolute target then points into THIS host's files "+
			"(default: confined to the server's folder; config: raw_symlinks = true)")
	return cmd
}

func runMount(ctx context.Context, f *mountFlags, mountpoint string) error {
	mp, err := filepath.Abs(mountpoint)
	if err != nil {
		return err
	}
	if st, err := os.Stat(mp); err != nil {
		return fmt.Errorf("mount point: %w", err)
	} else if !st.IsDir() {
		return fmt.Errorf("mount point %s is not a directory", mp)
	}
	if f.daemon && !isDaemonChild() {
		return startDaemon(mp, f.helper)
	}
	log, closer, err := f.logger()
	if err != nil {
		return daemonReady(err)
	}
	defer closer.Close()
	cfgs, err := f.resolve(nil)
	if err != nil {
		return daemonReady(err)
	}
	if len(cfgs) == 0 {
		return daemonReady(errors.New("no servers: give --server NAME=URL or a config file (see fxpfs mount --help)"))
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	clients, err := connectAll(ctx, cfgs, log)
	if err != nil {
		return daemonReady(err)
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	eng := fxpcopy.New(log)
	root, err := fusefs.NewRoot(clients, cache.New(f.cacheDirs), eng, fusefs.Options{
		ReadOnly:    f.readOnly,
		AllowOther:  f.allowOther,
		Debug:       f.debugFUSE,
		SetOwner:    true,
		UID:         uint32(f.uid),
		GID:         uint32(f.gid),
		FsName:      "fxpfs",
		DirectIO:    f.directIO || f.file.DirectIO,
		ReadAheadKB: cmp.Or(f.readAhead, f.file.ReadAheadKB),
		RawSymlinks: f.rawLinks || f.file.RawSymlinks,
		MatchMin:    f.matchMin,
		Logger:      log,
	})
	if err != nil {
		return daemonReady(err)
	}
	// The spool directory goes once unmounted.
	defer root.Close()
	started := time.Now()
	ctlCtx, ctlStop := context.WithCancel(context.Background())
	defer ctlStop()
	snap := func() ctl.Snapshot {
		s := ctl.Snapshot{Mountpoint: mp, PID: os.Getpid(), Started: started, Counters: eng.Counters(),
			Active: eng.Active(), Recent: eng.Recent(0)}
		for _, c := range clients {
			cfg := c.Config()
			s.Servers = append(s.Servers, ctl.ServerStatus{Name: c.Name(),
				Addr: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Stats: c.Stats()})
		}
		return s
	}
	if err := ctl.Serve(ctlCtx, ctl.SocketPath(mp), snap, log); err != nil {
		log.Warn("fxpfs status will not work for this mount", "err", err)
	}
	// The status socket is up before the mount shows: whoever sees the
	// mount can ask `fxpfs status` at once.
	srv, err := fusefs.Mount(context.Background(), mp, root) // signals are handled below
	if err != nil {
		return daemonReady(fmt.Errorf("mount %s: %w", mp, err))
	}
	log.Info("mounted", "mountpoint", mp, "servers", len(clients))
	daemonReady(nil)

	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	select {
	case <-done:
		log.Info("unmounted from outside", "mountpoint", mp)
		return nil
	case <-ctx.Done():
	}
	stop() // a second signal now kills us the default way, unless handled below
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	for {
		log.Info("unmounting", "mountpoint", mp)
		err := srv.Unmount()
		if err == nil {
			<-done
			return nil
		}
		log.Warn("unmount failed (mount busy?); retrying — signal again to detach lazily", "err", err)
		select {
		case <-done:
			return nil
		case <-sigs:
			return lazyUnmount(mp, done)
		case <-time.After(2 * time.Second):
		}
	}
}
