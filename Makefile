# shiplog — make targets. `make test` is what CI runs (after .ci/run has
# started PostgreSQL and exported SHIPLOG_TEST_POSTGRES_DSN).

SHELL := /bin/bash

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X github.com/shiplog-dev/shiplog/internal/version.Version=$(VERSION) \
           -X github.com/shiplog-dev/shiplog/internal/version.Commit=$(COMMIT)

.PHONY: all build test fmt-check vet unit fuzz bench run clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/shiplog ./cmd/shiplog

# The test command: formatting, vet, every test with the race detector, and
# a short run of every fuzz target.
test: fmt-check vet unit fuzz

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

# Each parser's fuzz target, a few seconds each (FUZZTIME); findings are
# written under the package's testdata/fuzz and fail the run.
FUZZTIME ?= 4s
FUZZ_TARGETS := \
	./internal/source/webhook/github:FuzzParse \
	./internal/source/webhook/gitlab:FuzzParse \
	./internal/source/webhook/argocd:FuzzParse \
	./internal/source/webhook/alertmanager:FuzzParse \
	./internal/source/cloudevents:FuzzDecode \
	./internal/source/git/manifest:FuzzExtract \
	./internal/source/git/manifest:FuzzParseImage \
	./internal/source/git/manifest:FuzzSourceSHAs \
	./internal/source/kube:FuzzConvertObject
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) "$$pkg" > /tmp/shiplog-fuzz.log 2>&1 || \
		{ grep -q 'context deadline exceeded' /tmp/shiplog-fuzz.log && echo "fuzz $$fn: the fuzzing engine timed out a worker under load; once more" && \
		  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) "$$pkg" > /tmp/shiplog-fuzz.log 2>&1; } || { cat /tmp/shiplog-fuzz.log; exit 1; }; \
	done

# Benchmarks: one line per figure, "BENCH <name> <value> <unit>", also
# written to bench/results.json. Packages run one at a time (-p 1) so that
# figures are not measured against each other; PostgreSQL is started if no
# DSN is given.
bench:
	@dsn="$${SHIPLOG_TEST_POSTGRES_DSN:-$$(.ci/start-postgres)}"; \
	kube="$${SHIPLOG_KUBE_BINARIES:-$$(.ci/kube-binaries)}"; \
	set -o pipefail; SHIPLOG_TEST_POSTGRES_DSN="$$dsn" SHIPLOG_KUBE_BINARIES="$$kube" $(GO) test -p 1 -run '^$$' -bench . -benchtime 2s -count 1 -timeout 90m ./... 2>&1 | \
		$(GO) run ./tools/benchreport -json bench/results.json

# The demo: a simulated organisation on a temporary embedded store.
run:
	$(GO) run ./cmd/shiplog demo

clean:
	rm -rf bin bench/results.json
