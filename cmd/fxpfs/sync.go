package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fxpfs/fxpfs/fxpcopy"
)

type syncFlags struct {
	serverFlags
	del      bool
	dryRun   bool
	sizeOnly bool
	jobs     int
	excludes []string
	noVerify bool
}

func newSyncCmd() *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "sync [flags] SRC DST",
		Short: "Make DST equal to SRC (like rsync -a / lftp mirror), server-to-server (FXP)",
		Long: `sync makes DST equal to SRC, each given as NAME:/path or an ftp(s):// URL as for
'fxpfs cp'. DST is the folder (or file) that is to equal SRC; a DST ending in
'/' means DST/<last name of SRC>, so that repeated runs sync the same place.

Both trees are listed, then:
  - missing directories are made at DST;
  - a file is copied when DST lacks it, or its size differs, or (without
    --size-only) its mtime differs at the precision both servers really have:
    MLSD and MDTM give seconds, LIST only minutes or days, so where a listed
    time is LIST's (precise_mtime = false, or MDTM failed) and the sizes
    agree, fxpfs asks MDTM for that file;
  - copies go server-to-server (FXP) where the servers allow, else they are
    relayed, with -j parallel transfers; each copied file gets the source's
    mtime, and directories whose contents changed get theirs where the server
    can set it;
  - with --delete, files and directories that SRC lacks are removed from DST,
    after all copies succeeded (nothing is deleted when anything failed).

--exclude PATTERN (repeatable) leaves matching paths alone on both sides, with
rsync's rules: the pattern is matched against the path below SRC/DST; "*"
matches within one name, "**" across "/", "?" one character, "[a-z]" a class;
a pattern without "/" matches a name at any depth ("*.iso"), one starting
with "/" only from the top ("/tmp"), one with "/" inside the end of the path
("logs/*.gz"); a trailing "/" matches directories only ("cache/"); "dir/***"
matches dir and everything below. An excluded directory is not entered, and
excluded paths on DST are never deleted.

--dry-run lists what would be done (mkdir, copy with the reason, delete,
rmdir) and changes nothing. The exit status is 0 when DST is in sync, 1 with
every failure named otherwise.`,
		Example: `  fxpfs sync alpha:/releases beta:/mirror/releases
  fxpfs sync --delete -j 8 --exclude '*.part' --exclude 'tmp/' alpha:/pub beta:/pub
  fxpfs sync --dry-run --delete alpha:/pub beta:/pub`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSync(cmd.Context(), &f, args[0], args[1])
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&f.del, "delete", false, "remove from DST what SRC lacks (after the copies succeeded)")
	cmd.Flags().BoolVarP(&f.dryRun, "dry-run", "n", false, "print what would be done; change nothing")
	cmd.Flags().BoolVar(&f.sizeOnly, "size-only", false, "a file of the same size is up to date, whatever its mtime")
	cmd.Flags().IntVarP(&f.jobs, "jobs", "j", 4, "parallel transfers (and listings)")
	cmd.Flags().StringArrayVar(&f.excludes, "exclude", nil, "leave paths matching PATTERN alone (rsync rules, see above); repeatable")
	cmd.Flags().BoolVar(&f.noVerify, "no-verify", false, "skip size/hash verification after each file")
	return cmd
}

func runSync(ctx context.Context, f *syncFlags, srcArg, dstArg string) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ex, err := fxpcopy.NewExcluder(f.excludes)
	if err != nil {
		return err
	}
	p, err := openPair(ctx, &f.serverFlags, srcArg, dstArg)
	if err != nil {
		return err
	}
	defer p.close()
	dst := p.dst
	if p.dstSlash || dst.Path == "/" {
		dst.Path = path.Join(dst.Path, path.Base(p.src.Path))
	}
	opts := fxpcopy.SyncOptions{Delete: f.del, DryRun: f.dryRun, SizeOnly: f.sizeOnly, Jobs: f.jobs, Exclude: ex,
		Copy: fxpcopy.Options{NoVerify: f.noVerify}}
	var prog *progress
	if !f.dryRun {
		prog = newProgress(os.Stderr, term.IsTerminal(int(os.Stderr.Fd())))
		opts.Copy.Plan, opts.Copy.Progress = prog.setPlan, prog.update
	}
	sum, err := fxpcopy.New(p.log).Sync(ctx, p.src, dst, opts)
	if prog != nil {
		prog.done()
	}
	if f.dryRun && sum.Plan != nil {
		for _, l := range sum.Plan.Lines() {
			fmt.Println(l)
		}
	}
	fmt.Fprintf(os.Stderr, "sync %s -> %s: %s\n", p.src, dst, sum)
	return err
}
