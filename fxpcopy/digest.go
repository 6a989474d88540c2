package fxpcopy

import (
	"context"
	"fmt"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// HashAlgorithms lists the digests a server with features f can compute of
// a file (HASH, XSHA1, XMD5, XCRC), strongest first, by their canonical
// names: "SHA-512", "SHA-256", "SHA-1", "MD5", "CRC32".
func HashAlgorithms(f ftpclient.Features) []string {
	cmds := hashCommands(f)
	var out []string
	for _, a := range hashPreference {
		if _, ok := cmds[a]; ok {
			out = append(out, a)
		}
	}
	return out
}

// Digest asks ep's server for the algo digest (a canonical name from
// HashAlgorithms) of its file, as lower-case hex (CRC32 as 8 digits). It is
// for checking a file against a digest computed elsewhere (vfs checks an
// FXP copy against the bytes a program wrote).
func Digest(ctx context.Context, ep Endpoint, f ftpclient.Features, algo string) (string, error) {
	h, ok := hashCommands(f)[algo]
	if !ok {
		return "", fmt.Errorf("%s cannot compute %s: %w", ep.Client.Name(), algo, ftpclient.ErrUnsupported)
	}
	return digest(ctx, ep, h)
}
