package fxpcopy

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Existing destinations (see the package doc): a copy onto a file that
// exists goes to a temporary name next to it and is put in its place by
// ftpclient's Client.Replace only once it is complete and verified.

// dstHint is what a listing made by the caller (CopyTree, Sync) says is at
// a copy's destination, so that the copy asks less.
type dstHint struct {
	exists bool
	entry  ftpclient.Entry // if exists
}

// original is an existing file a copy replaces.
type original struct {
	mode os.FileMode // its permission bits as listed (0: unknown)
}

// original returns the file a copy onto dst would replace, nil if there is
// none: SIZE says (the hint of a caller's listing, where it says there is
// nothing, spares even that; where it says there is a file, the listing
// may be old, and an APPE onto a file since removed would make it again).
// Its mode comes from the hint, else a listing. It fails where the server
// would refuse to overwrite that file (a refused STOR, as before copies
// went by way of a temporary), leaving it intact.
func (e *Engine) original(ctx context.Context, dst Endpoint, hint *dstHint) (*original, error) {
	if hint != nil && !hint.exists {
		return nil, nil
	}
	ok, err := dst.Client.Exists(ctx, dst.Path)
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	if !ok {
		return nil, nil
	}
	var ent ftpclient.Entry
	if hint != nil {
		ent = hint.entry
	} else if ent, err = dst.Client.Stat(ctx, dst.Path); err != nil {
		e.log.Debug("existing destination: mode unknown", "dst", dst.String(), "err", err)
	}
	switch ent.Type {
	case ftpclient.TypeDir:
		return nil, &dstIntact{fmt.Errorf("destination: %w", ftpclient.ErrIsDir)}
	case ftpclient.TypeLink:
		// The copy replaces the link itself (as rsync does), which only the
		// directory's permission governs; an APPE would go through the
		// link, and create its target if that is missing.
		return &original{}, nil
	}
	if err := dst.Client.ProbeWritable(ctx, dst.Path); err != nil {
		return nil, &dstIntact{fmt.Errorf("overwrite destination: %w", err)}
	}
	return &original{mode: ent.Mode}, nil
}

// replace copies w into a temporary next to dst and puts it in dst's place
// once complete and verified. A failure removes the temporary (write's and
// removeAfterFailure's guarantees) and leaves dst as it was: the error
// says so (DestinationIntact).
//
// The temporary is hidden (a dot name) where the server allows, else
// visible. Where the directory takes no new file at all (while the file
// itself may be written: original checked that), dst is overwritten in
// place, with a warning: then a failure removes it, as for a new file.
func (e *Engine) replace(ctx context.Context, t *transfer, dst Endpoint, orig *original, w write) error {
	for _, dot := range []bool{true, false} {
		tmp := Endpoint{dst.Client, ftpclient.TempName(dst.Path, dot)}
		err := e.write(ctx, t, tmp, w, false)
		if err == nil {
			return e.putInPlace(ctx, tmp, dst, orig)
		}
		if !storRefused(err) {
			return &dstIntact{fmt.Errorf("%w (%s is as it was)", err, dst)}
		}
		e.log.Debug("temporary name refused", "dst", dst.String(), "tmp", tmp.Path, "err", err)
	}
	e.log.Warn("no temporary file allowed next to the destination: overwriting it in place (a failed copy loses it)",
		"dst", dst.String())
	return e.write(ctx, t, dst, w, false)
}

// putInPlace gives the complete copy tmp the original's mode and renames
// it over dst; on failure tmp is removed.
func (e *Engine) putInPlace(ctx context.Context, tmp, dst Endpoint, orig *original) error {
	if orig.mode != 0 {
		if err := tmp.Client.Chmod(ctx, tmp.Path, orig.mode); err != nil && !errors.Is(err, ftpclient.ErrUnsupported) {
			e.log.Warn("could not give the copy the mode of the file it replaces", "dst", dst.String(),
				"mode", orig.mode, "err", err)
		}
	}
	if _, err := dst.Client.Replace(ctx, tmp.Path, dst.Path, nil); err != nil {
		e.removeAfterFailure(ctx, nil, tmp, false)
		err = fmt.Errorf("put the copy in place of %s: %w", dst, err)
		if errors.Is(err, ftpclient.ErrOriginalAside) {
			return err
		}
		return &dstIntact{err}
	}
	return nil
}

// storRefused reports a copy whose STOR was refused for permission: its
// temporary's name (a dot file, a new file in that directory) is not
// allowed.
func storRefused(err error) bool {
	var di *dstIntact
	return errors.As(err, &di) && errors.Is(err, ftpclient.ErrPermission)
}
