# The Makefile mirrors CI: .ci/run calls `make lint test`.
export GOTOOLCHAIN := go1.27.3
GO ?= go
GOFMT = $(shell GOTOOLCHAIN=$(GOTOOLCHAIN) $(GO) env GOROOT)/bin/gofmt
TEST_FLAGS ?= -race -timeout 30m

.PHONY: run run-windowed run-parquet test lint conformance broker tidy fmt bench nexmark

## run: the Getting Started example on the embedded broker: feeds sample events,
## prints what arrives on transformed-events (and the dead-letter topic), then exits.
run:
	$(GO) run ./examples/simple_map_filter -n simple_map_filter \
		--config deployment_config/simple_map_filter.yaml --adapter local \
		--dev-input examples/simple_map_filter/sample_events.txt \
		--dev-print-output --dev-exit-when-done

## run-windowed: the windowed example (counts per user in 10 s event-time
## windows) on the embedded broker; results come once the windows close.
run-windowed:
	$(GO) run ./examples/windowed_counts -n windowed_counts \
		--config deployment_config/windowed_counts.yaml --adapter local \
		--dev-input examples/windowed_counts/sample_events.txt \
		--dev-print-output --dev-exit-when-done

## run-parquet: the Parquet archive example (each project's events of a
## minute as one Parquet file) on the embedded broker, writing through the
## file driver to a new directory under $$TMPDIR (or /tmp), kept after
## the run; then each file written, with its rows read back.
run-parquet:
	@dir=$$(mktemp -d "$${TMPDIR:-/tmp}/streams-parquet-archive.XXXXXX") && \
	echo "archive: file://$$dir" && \
	PARQUET_ARCHIVE_DIR=$$dir $(GO) run ./examples/parquet_archive -n parquet_archive \
		--config deployment_config/parquet_archive.yaml --adapter local \
		--dev-input examples/parquet_archive/sample_events.txt \
		--dev-print-output --dev-exit-when-done && \
	$(GO) run ./examples/parquet_archive/read "file://$$dir"

## test: every test, with the race detector, through gotestsum: go test's
## own lines (ok/FAIL per package, a failing test's output), then a summary
## of the tests skipped, with their reasons, and of those that failed.
## PKGS narrows it (PKGS=./dsl/); with $$STREAMS_TEST_ARTIFACTS set, the
## go test -json events go to go-test.json there.
PKGS ?= ./...
GOTESTSUM ?= $(GO) run gotest.tools/gotestsum@v1.13.0
test:
	$(GOTESTSUM) --format standard-quiet \
		$(if $(STREAMS_TEST_ARTIFACTS),--jsonfile $(STREAMS_TEST_ARTIFACTS)/go-test.json) \
		-- $(TEST_FLAGS) $(PKGS)

## conformance: the conformance suite alone.
conformance:
	$(GO) test $(TEST_FLAGS) -v -run TestConformance ./conformance/

## broker: a development Kafka broker on 127.0.0.1:9092 for kcat and friends.
broker:
	$(GO) run ./cmd/streams broker

## lint: gofmt, go vet and a tidy go.mod, as CI checks them.
lint:
	@out=$$($(GOFMT) -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@bak=$$(mktemp -d); cp go.mod go.sum $$bak/; \
	$(GO) mod tidy; \
	if ! cmp -s go.mod $$bak/go.mod || ! cmp -s go.sum $$bak/go.sum; then \
		echo "go.mod/go.sum are not tidy: run go mod tidy"; \
		cp $$bak/go.mod $$bak/go.sum .; rm -r $$bak; exit 1; fi; rm -r $$bak

fmt:
	$(GOFMT) -w $$(git ls-files '*.go')

tidy:
	$(GO) mod tidy

## bench: the seed pipeline's throughput (bench/cmd/throughput; with the
## bundled runner built without the steps' Beam counters beside it, whose
## ratio is issue 20's 3% check), its
## end-to-end latency at 20k msg/s and at half the maximum on the bundled
## runner and the franz-go loop (bench/cmd/latency), then the stateful
## benchmark, counts and sums per key in 10 s windows: throughput
## over a backlog and result delay live (bench/cmd/windowed); each on the
## bundled runner (at least once, and exactly once: a+x), a hand-written
## franz-go loop and prism, against one
## standalone dev broker; then the stage that parses and keys records for
## a Reduce or a Batch, in the SDK's executor and on the encoded path
## (BenchmarkKeyingStage). About 3 + 3 + 18 + 1 minutes; for a quick look:
## BENCH_FLAGS="-n 200000 -runs 1" BENCH_LATENCY_FLAGS="-runs 1 -duration 5s"
## BENCH_WINDOW_FLAGS="-n 200000 -runs 1 -live-duration 25s".
BENCH_FLAGS ?= -n 1000000 -runs 3
BENCH_LATENCY_FLAGS ?= -runs 3
BENCH_WINDOW_FLAGS ?= -n 1000000 -runs 3
bench:
	$(GO) run ./bench/cmd/throughput $(BENCH_FLAGS)
	$(GO) run ./bench/cmd/latency $(BENCH_LATENCY_FLAGS)
	$(GO) run ./bench/cmd/windowed $(BENCH_WINDOW_FLAGS)
	$(GO) test -run '^$$' -bench KeyingStage -benchtime 100x -count 5 ./localrunner/

## nexmark: the Nexmark queries (bench/nexmark: q0 q1 q2 q3 q5 q7 q8) on the
## bundled runner and on prism in process, 1,000,000 generated events each,
## every output checked against the in-memory reference; events/s and events
## per CPU second of the process (getrusage). About a minute plus the build.
## NEXMARK_FLAGS narrows it: NEXMARK_FLAGS="-queries q5,q7 -runners local".
NEXMARK_FLAGS ?= -events 1000000 -timeout 2m
nexmark:
	$(GO) run ./bench/cmd/nexmark $(NEXMARK_FLAGS)
