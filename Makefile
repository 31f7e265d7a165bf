# Flywheel — developer and CI entry points.  `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NPX          := npx --no --
NPM_CI_FLAGS ?= --no-audit --no-fund --loglevel=warn
# Extra arguments: make demo ARGS="--events 50000", make test TAP_ARGS="test/ps/*.test.ts"
ARGS         ?=
TAP_ARGS     ?=
# Entry point of the load generator (loadtest/)
LOADTEST     ?= loadtest/run.ts

# Stamps: npm writes node_modules/.package-lock.json on every install, so it is newer than
# package-lock.json exactly when node_modules matches the lock. tap 21 must rebuild its Test
# class for the plugin list in package.json ("!@tapjs/typescript") once after each npm ci.
NPM_STAMP := node_modules/.package-lock.json
TAP_STAMP := node_modules/.flywheel-tap-build

.PHONY: help install tap-build services test chaos typecheck demo bench loadtest lint check-deps clean distclean

help:
	@echo "make install    npm ci (when node_modules is missing or older than package-lock.json) + tap build"
	@echo "make services   start NATS (JetStream) and Redis on loopback when they are not running"
	@echo "make test       typecheck, then the tap suite (test/**/*.test.ts); needs NATS + Redis"
	@echo "make chaos      the fault scenarios only (test/chaos)"
	@echo "make typecheck  tsc --noEmit"
	@echo "make lint       typecheck + dependency rules (.dependency-cruiser.cjs: no cycles, shared/ imports no service, ...)"
	@echo "make demo       end-to-end demo: make demo ARGS='...'"
	@echo "make bench      benchmarks (figures and ratios)"
	@echo "make loadtest   traffic replay / load generation: make loadtest ARGS='...'"
	@echo "make clean      remove test and bench outputs (make distclean also removes node_modules)"

install: $(NPM_STAMP) $(TAP_STAMP)

$(NPM_STAMP): package-lock.json
	npm ci $(NPM_CI_FLAGS)
	@touch $@

$(TAP_STAMP): $(NPM_STAMP) package.json
	$(NPX) tap build
	@touch $@

tap-build: $(TAP_STAMP)

services:
	@bash scripts/ensure-services.sh

typecheck: install
	$(NPX) tsc -p tsconfig.json --noEmit

# The same scripts as `npm test` and `npm run demo` (see README).
test:
	@bash scripts/test.sh $(TAP_ARGS)

demo:
	@bash scripts/demo.sh $(ARGS)

# The fault scenarios alone (they are part of `make test` too): kill -9 a PS shard or a worker,
# restart Redis, NATS, an inference node; each on private servers, each checks 0 events lost.
chaos:
	@bash scripts/test.sh test/chaos/*.test.ts

bench: install services
	node --import tsx bench/run.ts $(ARGS)

loadtest: install services
	node --import tsx $(LOADTEST) $(ARGS)

# The dependency rules of the layout (.dependency-cruiser.cjs): no import cycles; shared/ imports
# no service, CLI, cluster, tool or load generator; no service imports another; the PS and the
# parameter core never reach TensorFlow.js.
DEPCRUISE_DIRS := shared services cli cluster tools loadtest bench test

check-deps: install
	$(NPX) depcruise --config .dependency-cruiser.cjs $(DEPCRUISE_DIRS)

lint: typecheck check-deps

clean:
	rm -rf .tap reports bench/build coverage

distclean: clean
	rm -rf node_modules
