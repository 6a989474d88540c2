package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fxpfs/fxpfs/internal/ctl"
)

func newStatusCmd() *cobra.Command {
	var asJSON bool
	var recent int
	cmd := &cobra.Command{
		Use:   "status [MOUNTPOINT]",
		Short: "Show a running mount's transfers (active and recent) and counters",
		Long: `status asks a running 'fxpfs mount' (over its Unix socket in ` + ctl.Dir() + `)
for its active and recent transfers, with progress, and its counters since it
was mounted: finished copies per outcome (fxp, fxp-reversed, fxp (matched write
stream) for uploads replaced by FXP, relay with the reasons, failed), bytes moved
server-to-server by FXP versus bytes this host uploaded and downloaded, and per
server the FTP commands sent, connections and data bytes. The mount keeps its
last 1000 finished transfers; failed ones among them are always listed. Without
MOUNTPOINT, every running mount of this user is shown.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var snaps []ctl.Snapshot
			if len(args) == 1 {
				mp, err := filepath.Abs(args[0])
				if err != nil {
					return err
				}
				s, err := ctl.Fetch(cmd.Context(), ctl.SocketPath(mp))
				if err != nil {
					return err
				}
				snaps = append(snaps, s)
			} else {
				var err error
				if snaps, err = ctl.FetchAll(cmd.Context()); err != nil {
					return err
				}
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(snaps)
			}
			for i, s := range snaps {
				if i > 0 {
					fmt.Println()
				}
				ctl.Print(os.Stdout, s, recent)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the raw JSON snapshot(s)")
	cmd.Flags().IntVarP(&recent, "recent", "n", ctl.DefaultRecent, "finished transfers to list (0: all the mount keeps, up to 1000); failed ones are always listed")
	return cmd
}
