# The README's two commands are `go run ./cmd/ldapbridge demo` and `make test`.
GO ?= go
STATICCHECK_VERSION ?= v0.8.2

.PHONY: test deps lint unit build fuzz bench

## test: everything CI runs (installs what it needs first; helm builds
## beside the unit tests, which wait for it before the deploy tests)
test:
	@HELM_BACKGROUND=1 scripts/deps.sh
	@$(MAKE) --no-print-directory lint unit

## deps: OpenLDAP's client tools, Python's ldap3 and Apache httpd (mod_authnz_ldap) for the client compatibility and end-to-end tests
deps:
	@scripts/deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$$( command -v staticcheck || echo $$($(GO) env GOPATH)/bin/staticcheck ) ./...

# deploy/ only decodes manifests: it runs without -race, which would mean
# compiling k8s.io/api a second time with the race detector.
unit:
	$(GO) test -race -count=1 -timeout 9m $$($(GO) list ./... | grep -v '/deploy$$')
	@scripts/wait-helm.sh
	$(GO) test -count=1 -timeout 5m ./deploy/

build:
	$(GO) build -o bin/ldapbridge ./cmd/ldapbridge

## fuzz: a longer run of every fuzz target (FUZZTIME each; not part of `make test`)
FUZZTIME ?= 60s
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

## bench: the bridge under load against the simulators (and slapd), in
## separate processes, open-loop latency at 25/50/75% of the bind capacity,
## the hot-path benchmark; a few minutes. BENCH_QUICK=1 for a smoke run,
## BENCH_ONLY="openloop micro" for some sections.
## Results: bench/out/summary.md (see docs/performance.md)
bench:
	@GO="$(GO)" bench/run.sh
