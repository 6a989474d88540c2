package fusefs

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// TestLatin1Names: a server that lists names in Latin-1 (not UTF-8) shows
// them in the mount with the same bytes (no UTF-8 in them: "caf\xe9"); such
// a file can be listed, read, written, renamed and deleted through the
// mount, and the name bytes the server gave are the ones it gets back.
func TestLatin1Names(t *testing.T) {
	m := mount(t, setup{quirksFor: map[string]ftptest.Quirks{"alpha": {Latin1: true, NoMLSD: true}}})
	name := "caf\xe9 cr\xe8me.txt" // "café crème.txt" in ISO-8859-1
	if err := os.WriteFile(m.disk("alpha", name), []byte("latin-1"), 0o644); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(m.path("alpha", "/"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Contains(names, name) {
		t.Fatalf("listed %q, want %q among them", names, name)
	}
	if got, err := os.ReadFile(m.path("alpha", name)); err != nil || string(got) != "latin-1" {
		t.Fatalf("read: %q, %v", got, err)
	}
	if err := os.WriteFile(m.path("alpha", name), []byte("rewritten"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(m.disk("alpha", name)); string(got) != "rewritten" {
		t.Fatalf("on the server: %q", got)
	}
	moved := "\xc0 la " + name // "À la ..."
	if err := os.Rename(m.path("alpha", name), m.path("alpha", moved)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.disk("alpha", moved)); err != nil {
		t.Fatalf("renamed file not on the server under its bytes: %v", err)
	}
	if err := os.Remove(m.path("alpha", moved)); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(m.disk("alpha", "/")); len(left) != 0 {
		t.Errorf("left on the server: %v", left)
	}
}

// TestWindowsServerThroughMount: a Windows-like server (DOS listing, names
// matching whatever their case, no rename onto an existing file, vague
// 550s) through the kernel: cp over a file and mv over a file work and
// lose nothing; writing "readme.TXT" next to "README.txt" replaces that
// one file (the server's view: one file, under either spelling) by way of
// a temporary, instead of risking it.
func TestWindowsServerThroughMount(t *testing.T) {
	m := mount(t, setup{quirksFor: map[string]ftptest.Quirks{"alpha": {NoMLSD: true, ListStyle: ftptest.ListDOS,
		CaseInsensitive: true, NoRenameOver: true, Vague550: true, NoDeleteBusy: true}}})
	for n, body := range map[string]string{"README.txt": "readme", "a.txt": "a", "b.txt": "b"} {
		if err := os.WriteFile(m.disk("alpha", n), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, "cp", m.path("alpha", "a.txt"), m.path("alpha", "b.txt")) // onto an existing file
	if got, _ := os.ReadFile(m.disk("alpha", "b.txt")); string(got) != "a" {
		t.Errorf("b.txt after cp: %q", got)
	}
	mustRun(t, "mv", m.path("alpha", "a.txt"), m.path("alpha", "b.txt")) // rename onto an existing file
	if got, _ := os.ReadFile(m.disk("alpha", "b.txt")); string(got) != "a" {
		t.Errorf("b.txt after mv: %q", got)
	}
	if _, err := os.Stat(m.disk("alpha", "a.txt")); err == nil {
		t.Error("a.txt still there after mv")
	}
	if err := os.WriteFile(m.path("alpha", "readme.TXT"), []byte("new readme"), 0o644); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(m.disk("alpha", "/"))
	var got []string
	var body []byte
	for _, e := range ents {
		got = append(got, e.Name())
		if strings.EqualFold(e.Name(), "readme.txt") {
			body, _ = os.ReadFile(m.disk("alpha", e.Name()))
		}
	}
	if len(got) != 2 || !bytes.Equal(body, []byte("new readme")) {
		t.Errorf("server holds %q, the readme %q; want one readme (new readme) and b.txt", got, body)
	}
	if _, err := os.Stat(filepath.Join(m.mnt, "alpha", "b.txt")); err != nil {
		t.Error(err)
	}
}
