package fxpcopy

import (
	"context"
	"errors"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// errProtC makes Release destroy a TLS session switched to PROT C.
var errProtC = errors.New("fxpcopy: session left in PROT C")

// dataProtection prepares the two sessions of an FXP attempt for the
// servers' direct data connection. A TLS session protects its data
// connections (PROT P) with this host as the TLS client; between two
// servers neither would be the client, so the direct data connection goes
// in clear (PROT C), as lftp does by default; fxp = "off" keeps the data
// encrypted through a relay. A session switched to PROT C is never pooled
// again (side.clearData).
//
// This is the one place that decides how FXP data is protected: encrypted
// FXP (SSCN / CPSV) replaces this function.
func dataProtection(ctx context.Context, sides ...*side) error {
	for _, sd := range sides {
		if sd.ep.Client.Config().TLS == ftpclient.TLSNone {
			continue
		}
		sd.clearData = true
		if r, err := sd.conn.Cmd(ctx, "PROT C"); err != nil || r.Code/100 != 2 {
			return refusalOf("PROT C", sd, r, err)
		}
	}
	return nil
}
