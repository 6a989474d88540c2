# fxpfs — see README.md. `make demo` and `make test` are the two commands that matter.
GO        ?= go
BIN       := bin/fxpfs
PKGS      := ./...
TEST_TIMEOUT ?= 50m

.PHONY: all build install uninstall test test-deps test-short vet tidy-check fmt demo bench fuzz deps clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/fxpfs

# Installs fxpfs into $(PREFIX)/bin and links it as mount(8)'s helper for
# fuse.fxpfs (and fxpfs), so /etc/fstab lines mount (see fxpfs help mount-helper).
PREFIX  ?= /usr/local
SBINDIR ?= /sbin
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/fxpfs
	install -d $(DESTDIR)$(SBINDIR)
	ln -sf $(PREFIX)/bin/fxpfs $(DESTDIR)$(SBINDIR)/mount.fuse.fxpfs
	ln -sf $(PREFIX)/bin/fxpfs $(DESTDIR)$(SBINDIR)/mount.fxpfs

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/fxpfs $(DESTDIR)$(SBINDIR)/mount.fuse.fxpfs $(DESTDIR)$(SBINDIR)/mount.fxpfs

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

# BENCH=mount|fxp|sync|read|tls|all (default all); see scripts/bench.sh --help.
BENCH ?= all
bench: build
	./scripts/bench.sh $(BENCH)

# The fuzzers (listing parser, stream matcher; docs/fuzzing.md): make fuzz FUZZTIME=10m
FUZZTIME ?= 60s
fuzz:
	$(GO) test ./ftpclient -run '^$$' -fuzz FuzzParseListLine -fuzztime $(FUZZTIME)
	$(GO) test ./internal/vfs/streammatch -run '^$$' -fuzz FuzzVerdict -fuzztime $(FUZZTIME)

deps:
	./scripts/install-deps.sh

clean:
	rm -rf bin
