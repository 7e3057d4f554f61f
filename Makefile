# switchboard — developer and CI entry points. `make help` lists the targets.

GO          ?= go
BIN         ?= bin/switchboard
EXAMPLES    := $(wildcard examples/*/)
# The packages whose tests run under the race detector: all of them. The
# concurrent ones (./runtime/... ./simulate/...) took 73 s under -race on
# a busy 2-core machine, the rest (lang, compiler, the CLI, which serves
# too) 89 s more: cheap enough not to choose. Narrow it with
# RACE_PKGS='./runtime/... ./simulate/...' when iterating.
RACE_PKGS   ?= ./...
# go test, counted: each package's line, then failures with their output,
# skips with their reason, and "N passed, N failed, N skipped".
# TEST_TIMEOUT bounds each package's test binary (go test's default is
# 10m): cmd/switchboard took 170-220 s under -race in quiet gates but
# 397-441 s beside two CPU burners at load 11-21; every wait inside the
# tests is bounded on its own, so this only catches a hang.
TEST_TIMEOUT ?= 20m
TESTCOUNT   := $(GO) run ./.ci/testcount -timeout $(TEST_TIMEOUT)

.DEFAULT_GOAL := build
.PHONY: help build test peers vet test-race update lint fmt fmtcheck bench bench-sip fuzz soak soak-cluster cover tidy-check examples ci clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

build: ## build bin/switchboard
	$(GO) build -o $(BIN) ./cmd/switchboard

test: peers fmtcheck vet ## gofmt check, go vet, then every test, counted; skips listed at the end
	$(TESTCOUNT) ./... ./.ci/testcount

# The interop tests talk to real software from Debian: sipp (package
# sip-tester), baresip, curl, chromium (the handover sheet printed to
# PDF on A4, the test report) and graphviz (graph -format svg). Install
# them when we can (root with apt-get, updating the package lists if the
# first try fails); elsewhere
# the tests that need them skip and say so — or, under CI=true, fail.
PEER_PACKAGES := sip-tester baresip curl chromium graphviz
peers: ## install sipp, baresip, curl, chromium and graphviz for the interop tests, when possible
	@if command -v sipp >/dev/null 2>&1 && command -v baresip >/dev/null 2>&1 && command -v curl >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 && command -v dot >/dev/null 2>&1; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(PEER_PACKAGES) for the interop tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(PEER_PACKAGES) >/dev/null || \
		{ DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(PEER_PACKAGES) >/dev/null; }; \
	else \
		echo "note: sipp, baresip, curl, chromium or dot (graphviz) is missing and cannot be installed here (not root, or no apt-get);"; \
		echo "      the interop tests that need them will skip (and fail under CI=true). Install: apt-get install $(PEER_PACKAGES)"; \
	fi

vet: ## go vet (the module and .ci's own Go)
	$(GO) vet ./... ./.ci/testcount

test-race: peers ## every test under the race detector (RACE_PKGS)
	$(TESTCOUNT) -race $(RACE_PKGS)

update: ## rewrite golden files and testscript expectations; review the diff
	UPDATE_GOLDEN=1 $(GO) test ./...

# staticcheck is a tool dependency in go.mod (`tool` directive), at the
# version recorded there: `go tool staticcheck` needs no install, and works
# offline once the modules are downloaded.
lint: vet ## go vet + staticcheck
	$(GO) tool staticcheck ./... ./.ci/testcount

fmt: ## gofmt -w every Go file
	gofmt -w $$(find . -name '*.go' -not -path './.git/*')

fmtcheck: ## fail when a Go file is not gofmt-clean
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; echo "run: make fmt"; exit 1; fi

bench: ## benchmarks with allocation counts
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-sip: ## serve vs Kamailio + rtpengine and Kamailio alone under SIPp load, pinned to CPUs 0/1 (bench/sip/README.md; 10+ min: the ladder climbs to each server's clean maximum)
	GO=$(GO) bench/sip/run.sh

# Every fuzz target, FUZZTIME each, one after another (each uses every
# core). The targets are found from the source (`go test -list` would build
# and link every test binary first: minutes on two cores). 33 targets at
# 5s, with building each package for fuzzing, took 3m34s on two busy
# cores. FUZZ=regexp limits the run to the targets it matches.
# FUZZMINIMIZETIME bounds the minimising of each new interesting input,
# which otherwise may take the whole FUZZTIME (up to 60s) for a target
# whose inputs are slower to run, and leave it fuzzing nothing.
FUZZTIME    ?= 5s
FUZZMINIMIZETIME ?= 1s
FUZZ        ?= .
fuzz: ## run every fuzz target for FUZZTIME (5s) each; a crasher lands in testdata/fuzz/ (scripts/fuzz.sh)
	GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZMINIMIZETIME=$(FUZZMINIMIZETIME) FUZZ='$(FUZZ)' scripts/fuzz.sh

soak: ## 30 min of calls at half the clean rate under malformed traffic (bench/soak/README.md; SOAK_DURATION=2m)
	GO=$(GO) bench/soak/run.sh

soak-cluster: ## three nodes on 127.0.0.1-3: 30 min of door calls at half the clean rate, devices registering; failed calls, RSS per node (bench/cluster/README.md; SOAK_DURATION=3m SOAK_RATE=50)
	GO=$(GO) bench/cluster/soak.sh

cover: ## coverage profile in cover.out, total on the last line
	$(GO) test -coverprofile=cover.out ./...
	$(GO) tool cover -func=cover.out | tail -n 1

tidy-check: ## fail when go.mod/go.sum are not tidy
	$(GO) mod tidy -diff

examples: build ## validate every examples/*/ site with the real binary
	@test -n "$(EXAMPLES)" || { echo "examples: no example directories found" >&2; exit 1; }
	@set -e; for d in $(EXAMPLES); do \
		d=$${d%/}; echo "== $(BIN) validate $$d"; \
		$(BIN) validate -lockfile=readonly $$d; \
		echo "== $(BIN) test $$d"; \
		$(BIN) test $$d; \
		echo "== $(BIN) test -transport udp $$d"; \
		out=$$($(BIN) test -transport udp $$d) || { echo "$$out"; exit 1; }; \
		echo "$$out" | tail -n 1; \
	done

# The full test run comes last, so its count is the run's closing line.
ci: tidy-check lint examples fuzz test-race test ## everything CI checks: .ci/run

clean: ## remove build outputs
	rm -rf bin cover.out
