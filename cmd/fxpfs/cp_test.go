package main

import (
	"strings"
	"testing"

	"github.com/fxpfs/fxpfs/config"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		arg        string
		wantServer string
		wantPath   string
		wantURL    string // the ad-hoc server's URL, for URL arguments
		wantErr    string
	}{
		{arg: "alpha:/pub/a.iso", wantServer: "alpha", wantPath: "/pub/a.iso"},
		{arg: "alpha:pub/dir/", wantServer: "alpha", wantPath: "/pub/dir/"},
		{arg: "alpha:", wantServer: "alpha", wantPath: "/"},
		{arg: "beta:/a/../b", wantServer: "beta", wantPath: "/b"},
		{arg: "ftp://me@10.0.0.5:2121/x/y.bin", wantServer: "10.0.0.5-2121", wantPath: "/x/y.bin", wantURL: "ftp://me@10.0.0.5:2121/"},
		{arg: "ftps://h.example.org/in/", wantServer: "h.example.org", wantPath: "/in/", wantURL: "ftps://h.example.org/"},
		{arg: "ftp://me:hunter2@h/x", wantErr: "visible in ps"},
		{arg: "/local/file", wantErr: "want NAME:/path"},
		{arg: "nocolon", wantErr: "want NAME:/path"},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			adhoc := map[string]config.Server{}
			got, err := parseEndpoint(tt.arg, adhoc)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.server != tt.wantServer || got.path != tt.wantPath {
				t.Errorf("got %+v, want server %q path %q", got, tt.wantServer, tt.wantPath)
			}
			if tt.wantURL != "" && adhoc[tt.wantServer].URL != tt.wantURL {
				t.Errorf("ad-hoc server %+v, want URL %q", adhoc, tt.wantURL)
			}
		})
	}
}
