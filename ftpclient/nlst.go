package ftpclient

import (
	"path"
	"strconv"
	"strings"
	"time"
)

// nlstEntries lists directory sp (the current directory) on a server
// without LIST: NLST gives the names, then each entry is asked about one
// command at a time: SIZE (a file, and its size), else CWD into it (a
// directory), and MDTM for a file's time where offered. Two to three
// commands per entry, bounded like any listing (listTimeout); an entry
// that answers neither is a file of unknown size (0).
func (cn *conn) nlstEntries(sp, dir string) ([]Entry, error) {
	ents, r, ok, err := cn.listing("NLST", parseNLST, dir)
	switch {
	case err != nil:
		return nil, err
	case !ok && (r.Code == 450 || r.Code == 550):
		return nil, nil // "No files found"
	case !ok:
		return nil, expect(r, 125, 150)
	}
	mdtm := cn.cl.feats().MDTM
	for i := range ents {
		q := path.Join(sp, ents[i].Name)
		r, err := cn.cmd("SIZE %s", q)
		if err != nil {
			return nil, err
		}
		if r.Code == 213 {
			if n, perr := strconv.ParseInt(strings.TrimSpace(r.Msg), 10, 64); perr == nil && n >= 0 {
				ents[i].Size = n
			}
		} else {
			if r, err = cn.cmd("CWD %s", q); err != nil {
				return nil, err
			}
			if r.Code == 250 {
				ents[i].Type = TypeDir
				continue
			}
		}
		if mdtm {
			if r, err = cn.cmd("MDTM %s", q); err != nil {
				return nil, err
			}
			if t, perr := parseMLSxTime(strings.TrimSpace(r.Msg)); r.Code == 213 && perr == nil {
				ents[i].Mtime = cn.cl.mdtmTime(t)
			}
		}
	}
	return ents, nil
}

// parseNLST reads one NLST line: a name, or a path whose last element is
// the name (some servers prefix the directory).
func parseNLST(line string, _ time.Time) (Entry, error) {
	name := strings.TrimRight(line, "\r")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if name == "" || name == "." || name == ".." {
		return Entry{}, errSkip
	}
	if err := ValidateName(name); err != nil {
		return Entry{}, err
	}
	return Entry{Name: name, Type: TypeFile}, nil
}
