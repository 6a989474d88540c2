# fxpfs — see README.md. `make demo` and `make test` are the two commands that matter.
GO        ?= go
BIN       := bin/fxpfs
PKGS      := ./...
TEST_TIMEOUT ?= 50m

.PHONY: all build test test-short vet tidy-check fmt demo bench fuzz deps clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/fxpfs

# Everything: vet, unit tests, real vsftpd/pure-ftpd and kernel-mount tests, with -race.
# Needs root, /dev/fuse and the packages scripts/install-deps.sh installs.
test: vet tidy-check
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

# Unit tests only (no real servers, no mount).
test-short:
	$(GO) test -short -count=1 $(PKGS)

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

# go.mod and go.sum must be what `go mod tidy` makes them (every direct
# dependency listed without // indirect, nothing unused).
tidy-check:
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run 'go mod tidy' (diff: go mod tidy -diff)"; exit 1; }

fmt:
	gofmt -w $$(git ls-files '*.go')

# Two local FTP servers, a mount at ./mnt, a listing, a read, a write and an
# FXP copy shown; installs the Debian packages it needs when run as root.
demo: build
	./scripts/demo.sh

bench: build
	./scripts/bench.sh

fuzz:
	$(GO) test ./ftpclient -run '^$$' -fuzz FuzzParseListLine -fuzztime 60s

deps:
	./scripts/install-deps.sh

clean:
	rm -rf bin
