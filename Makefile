# faultline — see README.md.
GO      ?= go
BIN     := bin/faultline
# The node-only program the docker runtime's image holds; beside $(BIN).
NODEBIN := bin/faultline-node
SEED    ?= 1
TIME    ?= 20s

# Ginkgo suites (suites/): run through `go tool`, so nothing needs installing.
GINKGO  := $(GO) tool ginkgo
RESULTS ?= results
RUNTIME ?= process
N       ?= 10
# Extra Ginkgo label filter ANDed onto a target's own, e.g. FILTER='slow'.
FILTER  ?=
SUITES  := ./suites/quorum ./suites/raft ./suites/gossip
# The gate's suites: every system's short specs and the quick bug specs.
GATE_SUITES ?= $(SUITES) ./suites/bugs
SUITE_ENV = FAULTLINE_RUNTIME=$(RUNTIME) FAULTLINE_RESULTS=$(abspath $(RESULTS))
labels   = $(1)$(if $(FILTER), && ($(FILTER)))

# Real systems nobody here wrote (examples/external): their servers are
# built from the pinned Go modules in examples/external/build/<name> (a
# module each, so no server dependency reaches faultline's go.mod) into
# static CGO_ENABLED=0 binaries, cached under $(EXT_CACHE) by version and
# copied to bin/. A second build of the same version is a copy.
ETCD_VERSION := v3.6.16
NATS_VERSION := v2.15.2
EXT_CACHE    ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/faultline/bin

.PHONY: etcd nats-server chaos-etcd chaos-nats bench-etcd build test vet chaos chaos-quorum chaos-quorum-bug chaos-raft chaos-raft-bugs chaos-gossip chaos-bugs chaos-long ci-gate bench bench-bugs bench-sim sim-bugs clean

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/faultline
	CGO_ENABLED=0 $(GO) build -o $(NODEBIN) ./cmd/faultline-node

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

# The whole test suite: unit tests, real-socket mesh tests, real-process
# runtime tests and end-to-end runs of the CLI.
# The example modules (real etcd; a primary-backup store of a user's own)
# run beside the main suite, their output shown when both are done: they
# mostly wait on real time, and in series they added a minute and a half.
test: vet build etcd
	@examples=$$(mktemp); \
	( cd examples/external && $(GO) vet ./... && $(GO) test -count=1 -timeout 10m ./etcd/ && \
	  cd ../primarybackup && $(GO) test -count=1 -timeout 5m ./... ) >$$examples 2>&1 & pid=$$!; \
	$(GO) test -count=1 -timeout 25m ./...; rc=$$?; \
	wait $$pid; erc=$$?; \
	echo "--- examples/external/etcd and examples/primarybackup:"; cat $$examples; rm -f $$examples; \
	[ $$rc -eq 0 ] && [ $$erc -eq 0 ]

# A short demo: a 5-node quorum store through partitions and kills.
chaos: build
	./$(BIN) run --system quorum --workload register --nemesis partition,kill --time-limit $(TIME) --seed $(SEED)

# The quorum store with the no-write-back bug under slow links, the fault
# that holds writes on a minority long enough to see: expect exit 1.
chaos-quorum-bug: build
	./$(BIN) run --system quorum --workload register --nemesis slow --time-limit 30s --seed $(SEED) --bug no-write-back

# One system's short Ginkgo specs (each workload × fault mix; the correct
# system must stay valid). `make chaos-raft FILTER=slow` narrows them.
chaos-quorum chaos-raft chaos-gossip: chaos-%:
	$(SUITE_ENV) $(GINKGO) run --label-filter '$(call labels,$* && short)' ./suites/$*

# Every named bug caught by the fault mix that exposes it, next to the
# correct system passing the same scenario. `make chaos-bugs FILTER=bug:no-write-back`
# runs one; FILTER=raft one system's.
chaos-bugs:
	$(SUITE_ENV) $(GINKGO) run --timeout 3h --label-filter '$(call labels,bugs)' ./suites/bugs

chaos-raft-bugs:
	$(MAKE) chaos-bugs FILTER=raft

# The long (nightly) specs of every system: minutes each.
chaos-long:
	$(SUITE_ENV) $(GINKGO) run --timeout 4h --keep-going --label-filter '$(call labels,long)' $(SUITES)

# The merge gate: every short spec (each system's scenarios, and one quick
# bug spec per system next to its correct twin), a JUnit report at
# $(RESULTS)/junit.xml, non-zero on any anomaly (or unknown verdict), and
# non-zero when no spec ran at all (a label filter matching nothing, specs
# all skipped): a gate that checked nothing does not pass.
ci-gate:
	@mkdir -p $(RESULTS) && rm -f $(RESULTS)/summary-*.md $(RESULTS)/junit.xml
	@$(SUITE_ENV) $(GINKGO) run --timeout 1h --keep-going --junit-report junit.xml --output-dir $(RESULTS) \
		--label-filter '$(call labels,short)' $(GATE_SUITES); \
	sh suites/gate/verdict.sh $(RESULTS)/junit.xml $$? '$(call labels,short)'

# Each named bug over N seeds (and the correct system over the same runs):
# $(RESULTS)/bug-matrix.md. Hours at N=10; BUGS=a,b and BENCH_TIME=30s narrow it.
bench-bugs:
	$(GO) run ./suites/benchbugs -n $(N) -out $(RESULTS)/bug-matrix.md -results $(RESULTS) -runtime $(RUNTIME) \
		$(if $(BUGS),-bugs $(BUGS)) $(if $(BENCH_TIME),-time-limit $(BENCH_TIME))

# The simulator's figures: each correct system through 1,000,000 simulated
# client operations (fails on any anomaly), then each named bug's seeds and
# wall time to the first failure over SIM_WINDOWS (default 3) seed windows.
bench-sim:
	$(GO) test -run '^$$' -bench 'CorrectMillion|SeedsToFailure' -benchtime 1x -timeout 2h ./sim

# Only the simulation specs of the bug suite (seconds each).
sim-bugs:
	$(MAKE) chaos-bugs FILTER=sim

# Benchmarks: figures, not pass/fail gates.
# (The simulator's are bench-sim's: an hour-scale run.)
bench:
	$(GO) test -run '^$$' -bench . -benchmem $$($(GO) list ./... | grep -v '/sim$$')

# Real systems under faults on the docker runtime (examples/external):
# the negative control (the system as shipped, partition,kill, 60 s, seeds
# 1–5, each expected valid) and the weak mode (expected invalid in >= 4 of
# the 5 seeds; see README). Exit 0 exactly when every verdict is the
# stated one. About 15 minutes each.
chaos-etcd: etcd
	cd examples/external && $(SUITE_ENV) $(GINKGO) run --timeout 2h --label-filter '$(call labels,chaos)' ./etcd
chaos-nats: nats-server
	cd examples/external && $(SUITE_ENV) $(GINKGO) run --timeout 2h --label-filter '$(call labels,chaos)' ./nats

# bin/etcd and bin/nats-server: built once per version into $(EXT_CACHE).
etcd: bin/etcd
nats-server: bin/nats-server
bin/etcd: examples/external/build/etcd/go.mod examples/external/build/etcd/main.go
	@mkdir -p bin $(EXT_CACHE)
	@test -x $(EXT_CACHE)/etcd-$(ETCD_VERSION) || { echo "building etcd $(ETCD_VERSION) (static; once, cached in $(EXT_CACHE))"; \
		cd examples/external/build/etcd && CGO_ENABLED=0 $(GO) build -trimpath -o $(EXT_CACHE)/etcd-$(ETCD_VERSION).tmp . && mv $(EXT_CACHE)/etcd-$(ETCD_VERSION).tmp $(EXT_CACHE)/etcd-$(ETCD_VERSION); }
	cp $(EXT_CACHE)/etcd-$(ETCD_VERSION) $@
bin/nats-server: examples/external/build/nats-server/go.mod examples/external/build/nats-server/main.go
	@mkdir -p bin $(EXT_CACHE)
	@test -x $(EXT_CACHE)/nats-server-$(NATS_VERSION) || { echo "building nats-server $(NATS_VERSION) (static; once, cached in $(EXT_CACHE))"; \
		cd examples/external/build/nats-server && CGO_ENABLED=0 $(GO) build -trimpath -o $(EXT_CACHE)/nats-server-$(NATS_VERSION).tmp . && mv $(EXT_CACHE)/nats-server-$(NATS_VERSION).tmp $(EXT_CACHE)/nats-server-$(NATS_VERSION); }
	cp $(EXT_CACHE)/nats-server-$(NATS_VERSION) $@

clean:
	rm -rf bin

# The included Raft store next to etcd under the same load (3 nodes on
# loopback, 32 clients, writes then linearizable reads); prints each
# system's throughput, p50 and p99 and their ratio. BENCH_OPS per phase.
BENCH_OPS ?= 4000
bench-etcd: etcd
	cd examples/external && $(GO) test -run '^$$' -bench RaftVsEtcd -benchtime $(BENCH_OPS)x -v ./bench
