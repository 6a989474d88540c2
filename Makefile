# fxpfs — see README.md. `make demo` and `make test` are the two commands that matter.
GO        ?= go
BIN       := bin/fxpfs
PKGS      := ./...
TEST_TIMEOUT ?= 50m

.PHONY: all build test test-deps test-short vet tidy-check fmt demo bench fuzz deps clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/fxpfs

# Everything: vet, go.mod tidiness, unit tests, real vsftpd/pure-ftpd and
# kernel-mount tests, with -race. As root it first installs what the tests
# need (scripts/install-deps.sh: quick when all is there), like `make demo`.
# The output is go test's; internal/testreport adds one line naming each
# skipped test and why, and a closing "tests: N passed, N failed, N skipped".
test: test-deps vet tidy-check
	@$(GO) build -o bin/testreport ./internal/testreport
	bin/testreport -- $(GO) test -race -count=1 -json -timeout $(TEST_TIMEOUT) $(PKGS)

test-deps:
	@if [ "$$(id -u)" = 0 ]; then ./scripts/install-deps.sh; \
	  else echo "make test: not root, so not installing vsftpd/pure-ftpd/fuse3 (scripts/install-deps.sh): the tests needing them will be skipped"; fi

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

# BENCH=mount|fxp|sync|tls|all (default all); see scripts/bench.sh --help.
BENCH ?= all
bench: build
	./scripts/bench.sh $(BENCH)

fuzz:
	$(GO) test ./ftpclient -run '^$$' -fuzz FuzzParseListLine -fuzztime 60s

deps:
	./scripts/install-deps.sh

clean:
	rm -rf bin
