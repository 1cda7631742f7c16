# faultline — see README.md.
GO      ?= go
BIN     := bin/faultline
SEED    ?= 1
TIME    ?= 20s

.PHONY: build test vet chaos chaos-quorum chaos-quorum-bug chaos-raft chaos-raft-bugs bench clean

build:
	$(GO) build -o $(BIN) ./cmd/faultline

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

# The whole test suite: unit tests, real-socket mesh tests, real-process
# runtime tests and end-to-end runs of the CLI.
test: vet build
	$(GO) test -count=1 -timeout 25m ./...

# A short demo: a 5-node quorum store through partitions and kills.
chaos: build
	./$(BIN) run --system quorum --workload register --nemesis partition,kill --time-limit $(TIME) --seed $(SEED)

chaos-quorum: chaos

# The quorum store with the no-write-back bug under slow links, the fault
# that holds writes on a minority long enough to see: expect exit 1.
chaos-quorum-bug: build
	./$(BIN) run --system quorum --workload register --nemesis slow --time-limit 30s --seed $(SEED) --bug no-write-back

chaos-raft: build
	./$(BIN) run --system raft --workload register --nemesis partition,kill --time-limit 30s --seed $(SEED)

# Each Raft bug in turn. Faults every 2s rather than 5s: these bugs show
# only across leader changes, and more faults mean more leader changes.
chaos-raft-bugs: build
	for b in stale-local-read vote-without-log-check no-prev-log-check commit-previous-term; do \
		./$(BIN) run --system raft --workload register --nemesis partition,kill --nemesis-interval 2s --time-limit 60s --seed $(SEED) --bug $$b -q; \
	done

# Benchmarks: figures, not pass/fail gates.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
