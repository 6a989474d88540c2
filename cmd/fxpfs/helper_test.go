package main

import (
	"errors"
	"strings"
	"testing"
)

func TestHelperArgs(t *testing.T) {
	cmds := map[string]bool{"mount": true, "cp": true, "help": true}
	tests := []struct {
		name    string
		argv0   string
		args    []string
		notOurs bool
		want    string // the fxpfs command line, space-separated
		wantErr string
	}{
		{name: "ordinary call", argv0: "fxpfs", args: []string{"mount", "/mnt"}, notOurs: true},
		{name: "typo is not a source", argv0: "fxpfs", args: []string{"mout", "/mnt"}, notOurs: true},
		{name: "flags", argv0: "fxpfs", args: []string{"--version", "x"}, notOurs: true},
		{
			name: "mount.fuse3 with the old fstab form", argv0: "fxpfs",
			args: []string{"fxpfs#/etc/fxpfs/config.toml", "/mnt/fxp", "-o", "rw,allow_other,dev,suid"},
			want: "mount --daemon --mount-helper --allow-other --config /etc/fxpfs/config.toml /mnt/fxp",
		},
		{
			name: "our own helper, every option", argv0: "/sbin/mount.fuse.fxpfs",
			args: []string{"/etc/fxpfs/c.toml", "/mnt/fxp", "-o", "ro,uid=1000,gid=100,direct_io,raw_symlinks,log_file=/var/log/fxpfs.log,cache_dirs=50,read_ahead_kb=4096,debug",
				"-t", "fuse.fxpfs", "-n", "-v"},
			want: "mount --daemon --mount-helper --read-only --uid 1000 --gid 100 --direct-io --raw-symlinks --log-file /var/log/fxpfs.log --cache-dirs 50 --read-ahead-kb 4096 --debug --config /etc/fxpfs/c.toml /mnt/fxp",
		},
		{
			name: "options for others are ignored", argv0: "mount.fxpfs",
			args: []string{"fxpfs", "/mnt/fxp", "-o", "defaults,noauto,user,nofail,_netdev,nodev,nosuid,noexec,noatime,x-systemd.automount,x-gvfs-notrash,comment=x"},
			want: "mount --daemon --mount-helper /mnt/fxp",
		},
		{
			name: "config= option", argv0: "mount.fuse.fxpfs",
			args: []string{"none", "/mnt/fxp", "-oconfig=/etc/f.toml,ro"},
			want: "mount --daemon --mount-helper --read-only --config /etc/f.toml /mnt/fxp",
		},
		{name: "unknown option", argv0: "mount.fuse.fxpfs", args: []string{"fxpfs", "/m", "-o", "allow_root"}, wantErr: `"allow_root" not understood`},
		{name: "sloppy", argv0: "mount.fuse.fxpfs", args: []string{"fxpfs", "/m", "-s", "-o", "allow_root"}, want: "mount --daemon --mount-helper /m"},
		{name: "two configs", argv0: "mount.fuse.fxpfs", args: []string{"/a.toml", "/m", "-o", "config=/b.toml"}, wantErr: "two config files"},
		{name: "bad source", argv0: "mount.fuse.fxpfs", args: []string{"alpha", "/m"}, wantErr: "want the config file"},
		{name: "wrong type", argv0: "mount.fuse.fxpfs", args: []string{"fxpfs", "/m", "-t", "fuse.sshfs"}, wantErr: "fuse.sshfs"},
		{name: "uid without value", argv0: "mount.fuse.fxpfs", args: []string{"fxpfs", "/m", "-o", "uid="}, wantErr: "not understood"},
		{name: "fake", argv0: "mount.fuse.fxpfs", args: []string{"fxpfs", "/m", "-f"}, wantErr: "fake"},
		{name: "too few", argv0: "mount.fuse.fxpfs", args: []string{"fxpfs"}, wantErr: "usage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := helperArgs(tc.argv0, tc.args, cmds)
			if tc.notOurs {
				if ok || err != nil {
					t.Fatalf("taken for a helper call: %q, %v", got, err)
				}
				return
			}
			if !ok {
				t.Fatal("not recognised as a helper call")
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if tc.wantErr == "fake" && !errors.Is(err, errFake) {
					t.Fatalf("-f: %v, want errFake", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Errorf("got  %s\nwant %s", s, tc.want)
			}
		})
	}
}
