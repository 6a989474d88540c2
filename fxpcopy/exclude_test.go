package fxpcopy

import "testing"

func TestExcluder(t *testing.T) {
	tests := []struct {
		pattern string
		rel     string
		dir     bool
		want    bool
	}{
		{"*.iso", "a.iso", false, true},
		{"*.iso", "deep/er/a.iso", false, true},
		{"*.iso", "a.iso.part", false, false},
		{"*.iso", "dir.iso", true, true}, // files and directories alike
		{"tmp", "tmp", true, true},
		{"tmp", "a/tmp", false, true},
		{"tmp", "a/tmpx", false, false},
		{"/tmp", "tmp", true, true},
		{"/tmp", "a/tmp", true, false}, // anchored at the synced folder
		{"cache/", "cache", true, true},
		{"cache/", "a/cache", true, true},
		{"cache/", "cache", false, false}, // directories only
		{"logs/*.gz", "logs/x.gz", false, true},
		{"logs/*.gz", "srv/logs/x.gz", false, true}, // end of the path
		{"logs/*.gz", "logs/old/x.gz", false, false},
		{"logs/**.gz", "logs/old/x.gz", false, true},
		{"/a/**/z", "a/b/c/z", false, true},
		{"/a/**/z", "b/a/b/z", false, false},
		{"?.txt", "a.txt", false, true},
		{"?.txt", "ab.txt", false, false},
		{"[ab]*.txt", "b1.txt", false, true},
		{"[!ab]*.txt", "b1.txt", false, false},
		{"[!ab]*.txt", "c1.txt", false, true},
		{`\*.txt`, "*.txt", false, true},
		{`\*.txt`, "a.txt", false, false},
		{"dir/***", "dir", true, true},
		{"dir/***", "dir/x/y", false, true},
		{"dir/***", "dirx", true, false},
		{".*.??????", ".file.a1B2c3", false, true}, // rsync's temporary files
		{"file with space", "d/file with space", false, true},
		{"naïve*", "naïve.txt", false, true},
		{"a+b(c).txt", "a+b(c).txt", false, true}, // regexp metacharacters are literal
	}
	for _, tt := range tests {
		x, err := NewExcluder([]string{tt.pattern})
		if err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		if got, _ := x.Excluded(tt.rel, tt.dir); got != tt.want {
			t.Errorf("pattern %q, path %q (dir %v): excluded %v, want %v", tt.pattern, tt.rel, tt.dir, got, tt.want)
		}
	}
	for _, bad := range []string{"", "/", "[abc"} {
		if _, err := NewExcluder([]string{bad}); err == nil {
			t.Errorf("pattern %q: no error", bad)
		}
	}
	var none *Excluder
	if ex, _ := none.Excluded("a", false); ex {
		t.Error("nil Excluder excludes")
	}
}
