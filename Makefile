# The README's two commands are `go run ./cmd/ldapbridge demo` and `make test`.
GO ?= go
STATICCHECK_VERSION ?= v0.8.2

.PHONY: test deps lint unit build fuzz bench

## test: everything CI runs (installs what it needs first)
test: deps lint unit

## deps: OpenLDAP's client tools and Python's ldap3 for the client compatibility tests
deps:
	@scripts/deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$$( command -v staticcheck || echo $$($(GO) env GOPATH)/bin/staticcheck ) ./...

unit:
	$(GO) test -race -count=1 -timeout 9m ./...

build:
	$(GO) build -o bin/ldapbridge ./cmd/ldapbridge

## fuzz: a longer run of every fuzz target (FUZZTIME each; not part of `make test`)
FUZZTIME ?= 60s
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)
