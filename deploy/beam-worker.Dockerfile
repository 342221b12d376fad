# A Beam Go SDK worker image for one pipeline program, for a Beam runner
# that starts workers in containers: --environment_type=DOCKER
# --environment_config=IMAGE on a job server (Flink), or
# --sdk_container_image=IMAGE on Dataflow. Build from the repository's
# root:
#
#   docker build -f deploy/beam-worker.Dockerfile -t streams-worker .
#   docker build -f deploy/beam-worker.Dockerfile --build-arg PROGRAM=./examples/windowed_counts -t streams-worker .
#
# The layout is that of Beam's own Go image (apache/beam_go_sdk,
# sdks/go/container/Dockerfile): Beam's boot loader at
# /opt/apache/beam/boot is the entrypoint. The runner starts it with the
# Fn API endpoints; boot fetches the pipeline options and the staged
# artifacts from the runner and runs the staged worker binary (Beam
# v2.77.0's boot runs nothing else: it never looks for a binary in the
# image). So the submitter still stages a binary, and it must be this
# one: the same program, built the same way. The copy in the image,
# /opt/apache/beam/pipeline, is that binary for a submitter run from the
# image:
#
#   docker run --entrypoint /opt/apache/beam/pipeline streams-worker \
#     -n simple_map_filter --config ... --adapter beam --runner=dataflow \
#     --sdk_container_image=streams-worker --worker_binary=/opt/apache/beam/pipeline ...
#
# --worker_binary names the binary to stage; without it the submitter
# cross-compiles its main package with `go build`, which needs the
# sources and a Go toolchain (neither is in this image).

FROM golang:1.27-bookworm AS build
ENV GOTOOLCHAIN=go1.27.3 CGO_ENABLED=0 GOFLAGS=-trimpath
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
# Beam's boot loader, from the Beam module go.mod requires, so that it
# speaks the same Fn API as the SDK linked into the pipeline.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -o /out/boot github.com/apache/beam/sdks/v2/go/container
# The main package to build: a pipeline program that calls runner.Main.
ARG PROGRAM=./examples/simple_map_filter
# Build tags: streams_nodevbroker leaves the development broker out (a
# remote runner needs configured brokers anyway); add streams_nos3 when
# no blob sink writes to S3 (it leaves the AWS SDK out).
ARG TAGS=streams_nodevbroker
# -w drops the DWARF data; never -s: Beam finds unregistered functions in
# the ELF symbol table.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -tags "$TAGS" -ldflags=-w -o /out/pipeline "$PROGRAM"

# Static binaries, so the static distroless image (with CA certificates
# for the runner's and the clouds' TLS endpoints). It runs as root, as
# Beam's own image does: runners mount their semi-persistent directory
# (--semi_persist_dir) owned by root.
FROM gcr.io/distroless/static-debian12
COPY --from=build /out/boot /opt/apache/beam/boot
COPY --from=build /out/pipeline /opt/apache/beam/pipeline
ENTRYPOINT ["/opt/apache/beam/boot"]
