// Command fxpfs mounts FTP servers as folders of one FUSE file system and
// copies between them server-to-server (FXP). This package only wires the
// command line onto the config, ftpclient, cache, fxpcopy, fusefs and
// internal/ctl (status) packages, and draws the progress of cp and sync.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

var version = "dev"

func main() {
	root := &cobra.Command{
		Use:   "fxpfs",
		Short: "Mount FTP servers as one folder tree; copies between them go server-to-server (FXP)",
		Long: `fxpfs mounts one or more FTP servers as folders of one FUSE mount
(MOUNTPOINT/<server>/...). Any program can browse, read and write them. When a
file is copied between two servers of the mount (cp, cp -r, mv, install), the
servers transfer it directly to each other (FXP); where FXP is refused, fxpfs
relays the bytes and says so ('fxpfs status').

Servers come from the config file (default ` + "`~/.config/fxpfs/config.toml`" + `) and/or
--server NAME=URL flags. Passwords are never taken on the command line: they
come from the config file, a password_command, FXPFS_PASSWORD_<NAME>, or ~/.netrc.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newMountCmd(), newCpCmd(), newSyncCmd(), newStatusCmd(), newHelperTopic())
	commands := map[string]bool{"help": true, "completion": true, "__complete": true, "__completeNoDesc": true}
	for _, c := range root.Commands() {
		commands[c.Name()] = true
	}
	args, isHelper, err := helperArgs(os.Args[0], os.Args[1:], commands)
	switch {
	case errors.Is(err, errFake):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "fxpfs:", err)
		os.Exit(1)
	case isHelper:
		// The daemon re-runs the program with os.Args (daemon.go): with
		// these, it runs `fxpfs mount` as any other --daemon child.
		os.Args = append(os.Args[:1], args...)
		root.SetArgs(args)
	}
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "fxpfs:", err)
		os.Exit(1)
	}
}
