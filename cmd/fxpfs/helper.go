package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// fxpfs as a mount(8) helper, so that /etc/fstab lines like
//
//	fxpfs#/etc/fxpfs/config.toml  /mnt/fxp  fuse.fxpfs  allow_other,_netdev  0 0
//	/etc/fxpfs/config.toml        /mnt/fxp  fuse.fxpfs  ro,uid=1000,gid=1000  0 0
//
// mount at boot and with `mount /mnt/fxp`. mount(8) runs, for type
// fuse.fxpfs, /sbin/mount.fuse.fxpfs if it exists (make install links it
// to fxpfs), else fuse3's mount.fuse, which runs `fxpfs SOURCE MOUNTPOINT -o
// OPTIONS` through the shell (so fxpfs must be on its PATH). Both arrive
// here: invoked as mount.fuse.fxpfs (or mount.fxpfs, for type fxpfs), or
// with a first argument that is not a subcommand. SOURCE is the config file
// ("fxpfs#" before it is dropped; "fxpfs" or "none": the config= option, else
// the default config file). The options map onto `fxpfs mount` flags:
//
//	ro                   --read-only            rw      (the default)
//	allow_other          --allow-other          uid=N   --uid N
//	gid=N                --gid N                config=FILE  --config FILE
//	direct_io            --direct-io            raw_symlinks --raw-symlinks
//	log_file=FILE        --log-file FILE        cache_dirs=N --cache-dirs N
//	read_ahead_kb=N      --read-ahead-kb N      debug        --debug
//
// Options meant for mount(8), systemd or the kernel's generic mount flags
// (defaults, auto, noauto, user, users, nouser, nofail, _netdev, dev, nodev,
// suid, nosuid, exec, noexec, atime, noatime, relatime, ..., x-*, comment=)
// are ignored; any other option is an error (with -s, ignored). The helper
// returns once the mount is ready, the daemon serving it in the background
// (as `fxpfs mount --daemon`), or fails with the reason.

// helperNames are the program names mount(8) calls a helper by.
var helperNames = map[string]bool{"mount.fuse.fxpfs": true, "mount.fxpfs": true}

// ignoredOptions are mount options fxpfs leaves to others.
var ignoredOptions = map[string]bool{
	"": true, "defaults": true, "rw": true, "auto": true, "noauto": true, "user": true, "users": true,
	"nouser": true, "owner": true, "group": true, "nofail": true, "_netdev": true, "dev": true, "nodev": true,
	"suid": true, "nosuid": true, "exec": true, "noexec": true, "atime": true, "noatime": true,
	"diratime": true, "nodiratime": true, "relatime": true, "norelatime": true, "strictatime": true,
	"lazytime": true, "nolazytime": true, "async": true, "silent": true, "loud": true,
}

// errFake is a helper call with -f: check everything, mount nothing.
var errFake = errors.New("fake mount (-f)")

// looksLikeSource reports whether s is a mount source (so that a mistyped
// subcommand is not taken for one).
func looksLikeSource(s string) bool {
	return !strings.HasPrefix(s, "-") &&
		(strings.Contains(s, "/") || strings.HasPrefix(s, "fxpfs#") || s == "fxpfs" || s == "none")
}

// helperArgs recognises a mount helper invocation (argv0 and args as the
// program got them; commands are the subcommand names) and returns the
// equivalent fxpfs command line. ok is false when it is an ordinary call.
func helperArgs(argv0 string, args []string, commands map[string]bool) (cmd []string, ok bool, err error) {
	asHelper := helperNames[filepath.Base(argv0)]
	if !asHelper && (len(args) < 2 || commands[args[0]] || !looksLikeSource(args[0])) {
		return nil, false, nil
	}
	if len(args) < 2 {
		return nil, true, errors.New("usage: mount.fuse.fxpfs SOURCE MOUNTPOINT [-o OPTIONS]")
	}
	source, mountpoint := args[0], args[1]
	var opts []string
	sloppy, fake := false, false
	for i := 2; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" || a == "-t":
			if i+1 == len(args) {
				return nil, true, fmt.Errorf("%s needs an argument", a)
			}
			i++
			if a == "-o" {
				opts = append(opts, strings.Split(args[i], ",")...)
			} else if t := args[i]; t != "fxpfs" && t != "fuse.fxpfs" {
				return nil, true, fmt.Errorf("type %q: this helper mounts fuse.fxpfs", t)
			}
		case strings.HasPrefix(a, "-o"):
			opts = append(opts, strings.Split(a[2:], ",")...)
		case a == "-s":
			sloppy = true
		case a == "-f":
			fake = true
		case a == "-n", a == "-v":
		default:
			return nil, true, fmt.Errorf("argument %q not understood (want SOURCE MOUNTPOINT [-o OPTIONS])", a)
		}
	}

	cmd = []string{"mount", "--daemon", "--mount-helper"}
	config := ""
	switch s := strings.TrimPrefix(source, "fxpfs#"); {
	case s == "" || s == "fxpfs" || s == "none":
	case strings.Contains(s, "/"):
		config = s
	default:
		return nil, true, fmt.Errorf("source %q: want the config file (fxpfs#/etc/fxpfs/config.toml) or fxpfs", source)
	}
	for _, o := range opts {
		key, val, hasVal := strings.Cut(o, "=")
		switch {
		case key == "ro" && !hasVal:
			cmd = append(cmd, "--read-only")
		case key == "allow_other" && !hasVal:
			cmd = append(cmd, "--allow-other")
		case key == "direct_io" && !hasVal:
			cmd = append(cmd, "--direct-io")
		case key == "raw_symlinks" && !hasVal:
			cmd = append(cmd, "--raw-symlinks")
		case key == "debug" && !hasVal:
			cmd = append(cmd, "--debug")
		case hasVal && val != "" && (key == "uid" || key == "gid" || key == "log_file" || key == "cache_dirs" || key == "read_ahead_kb"):
			cmd = append(cmd, "--"+strings.ReplaceAll(key, "_", "-"), val)
		case key == "config" && hasVal && val != "":
			if config != "" && config != val {
				return nil, true, fmt.Errorf("two config files: %s (source) and %s (config=)", config, val)
			}
			config = val
		case ignoredOptions[o], strings.HasPrefix(o, "x-"), key == "comment":
		case sloppy:
		default:
			return nil, true, fmt.Errorf("mount option %q not understood (see fxpfs help mount-helper)", o)
		}
	}
	if config != "" {
		abs, err := filepath.Abs(config)
		if err != nil {
			return nil, true, err
		}
		cmd = append(cmd, "--config", abs)
	}
	if fake {
		return nil, true, errFake
	}
	return append(cmd, mountpoint), true, nil
}

// newHelperTopic is `fxpfs help mount-helper`.
func newHelperTopic() *cobra.Command {
	return &cobra.Command{
		Use:   "mount-helper",
		Short: "Mounting from /etc/fstab or with mount -t fuse.fxpfs",
		Long: `fxpfs is also mount(8)'s helper for the file system type fuse.fxpfs, so that
/etc/fstab can hold the mount:

    # /etc/fstab
    fxpfs#/etc/fxpfs/config.toml  /mnt/fxp  fuse.fxpfs  allow_other,_netdev  0 0

and 'mount /mnt/fxp' (or booting) mounts it, 'umount /mnt/fxp' unmounts it.
'make install' installs /usr/local/bin/fxpfs and links /sbin/mount.fuse.fxpfs
to it; without that link, fuse3's mount.fuse runs 'fxpfs SOURCE MOUNTPOINT -o
OPTIONS' and fxpfs must be on the PATH. The same works by hand:

    mount -t fuse.fxpfs -o ro,uid=1000 /etc/fxpfs/config.toml /mnt/fxp

SOURCE is the config file ("fxpfs#" in front is optional; "fxpfs" alone uses
the config= option or the default config file). Options:

    ro                  read-only (--read-only)
    allow_other         other users may use the mount (--allow-other)
    uid=N, gid=N        owner shown for every file (--uid, --gid)
    config=FILE         the config file, instead of SOURCE (--config)
    direct_io           reads without the page cache (--direct-io)
    raw_symlinks        symlink targets as the servers list them (--raw-symlinks)
    log_file=FILE       where the daemon logs (--log-file); default: nowhere
    cache_dirs=N        listings cached per server (--cache-dirs)
    read_ahead_kb=N     the kernel's read-ahead for the mount (--read-ahead-kb)
    debug               log FTP control traffic (--debug)

mount(8)'s, systemd's and the kernel's generic options (defaults, noauto,
user, users, nofail, _netdev, nodev, nosuid, noexec, noatime, x-*, ...) are
left to them; any other option is an error, unless mount is given -s. The
helper returns once the mount is ready (the daemon keeps serving it in the
background), or fails with the reason: a wrong password or an unreachable
server fails the mount. Passwords come from the config file (password,
password_command), FXPFS_PASSWORD_<NAME> or root's ~/.netrc, as for 'fxpfs
mount'. A line with 'user,noauto' lets a user mount it; the helper then runs
as that user and mounts through fusermount3.`,
	}
}
