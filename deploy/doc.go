// Package deploy holds what runs a pipeline program in a container and on
// Kubernetes, and renders the manifests for tests.
//
// # The image
//
// Dockerfile builds one pipeline program (the build arg PROGRAM, a main
// package; default ./examples/windowed_counts) as a static binary
// (CGO_ENABLED=0, with GOTOOLCHAIN=go1.27.3) into a distroless image that
// runs as a non-root user. The binary keeps its symbol table (-w drops
// only the DWARF data; -s would drop both): Beam finds unregistered
// functions in it.
//
// # The Beam worker image
//
// beam-worker.Dockerfile builds a program into a Beam Go SDK worker
// image, for runners that start workers in containers (DOCKER
// environment, Dataflow's --sdk_container_image): Beam's boot loader,
// built from the Beam module go.mod requires, as the entrypoint at
// /opt/apache/beam/boot, as Beam's own Go images have it, and the
// program at /opt/apache/beam/pipeline, built with the tag
// streams_nodevbroker. The boot loader runs the binary the submitter
// staged (--worker_binary), never the one in the image; the image's is
// that file. The tests build both as the Dockerfile does and run them in
// prism's PROCESS environment (no Docker here).
//
// # The manifests
//
// k8s/ is a kustomize base and an overlay per segment of the deployment
// config. Kustomize rather than a Helm chart: kubectl applies it as it is
// (kubectl apply -k), the base is plain Kubernetes YAML that a test can
// decode, and what differs between segments (SEGMENT_ID, replicas,
// resources) is a small patch, not a template language.
//
//   - k8s/base: a Deployment whose replicas are the members of the
//     segment's consumer group; the deployment config (config.yaml) in a
//     ConfigMap whose name carries a hash of it, so a change rolls the
//     pods; probes on the metrics port (/healthz for liveness, behind a
//     startup probe that allows for a restore; /readyz for readiness);
//     Prometheus scrape annotations; a termination grace period longer
//     than the drain; a PodDisruptionBudget of one member at a time.
//   - k8s/overlays/segment-N: the base with SEGMENT_ID=N, its own names
//     (suffix -segment-N), replicas and resources.
//
// A Deployment rather than a StatefulSet: the state directory of Reduce
// and Batch steps is a cache of the changelog topics (each task is
// restored from its changelog on an empty disk), so members are
// interchangeable and an emptyDir holds the state (kept across container
// restarts, empty in a new pod). What a StatefulSet with a persistent
// volume per pod would buy is a faster start after a pod is replaced (no
// replay of the changelog when the pod, as a static group member,
// gets its partitions back); it would cost ordered, slower rollouts and
// volumes bound to a zone.
//
// Render builds an overlay, as kubectl kustomize does, and decodes its
// resources strictly into the Kubernetes API types.
package deploy
