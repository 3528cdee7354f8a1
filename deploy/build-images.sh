#!/usr/bin/env bash
# Builds Cohort's images with podman against a local base image (deploy/make-base-image.sh), for
# machines that reach Debian's mirror and the npm registry but no container registry:
#
#   deploy/make-base-image.sh && deploy/build-images.sh            # aggregator + party
#
# Each image is `podman build --isolation chroot` (no OCI runtime needed: works where crun cannot
# start containers) with --build-arg BUILD_IMAGE=$BASE --build-arg BASE_IMAGE=$BASE; the
# Dockerfiles' own defaults stay the official node:20 images for everyone else. The build stage's
# `npm ci` reaches the npm registry through the host's network.
#
# Arguments: image names to build, among aggregator, party, party-gpu (default: aggregator party).
# Environment:
#   BASE        base image for both stages   (localhost/cohort-base:bookworm-node20)
#   TAG         tag of the built images       (local): localhost/cohort-aggregator:local, ...
#   TFJS_NODE   party.Dockerfile's TFJS_NODE  (0: tfjs-node's install downloads libtensorflow from
#               storage.googleapis.com, which such a machine does not reach; the party uses wasm)
#   CONTEXT     build context (the repository root); e.g. a `git archive` of a commit to build
#               exactly that commit rather than the working tree
#   PODMAN_BUILD_FLAGS  extra flags for podman build (e.g. --no-cache)
#   CA_BUNDLE   a PEM bundle for builds behind a TLS-intercepting proxy (default: the host's
#               NODE_EXTRA_CA_CERTS when that names a file; CA_BUNDLE= turns it off). It is
#               bind-mounted read-only into the build stage (-v) and named by the Dockerfiles'
#               build-stage ARG NODE_EXTRA_CA_CERTS, so npm ci trusts it; no image keeps it.
#
# party-gpu is skipped with a message: its base is TensorFlow's GPU image
# (tensorflow/tensorflow:2.21.0-gpu), which only a registry provides. Pass TF_GPU_IMAGE=<a local
# copy of it> to try (its build compiles tfjs-node-gpu's binding against that image's TensorFlow).
set -euo pipefail
# Paths given relative to where the script was called from.
[ -z "${CONTEXT:-}" ] || CONTEXT=$(realpath "$CONTEXT")
CA_BUNDLE=${CA_BUNDLE-${NODE_EXTRA_CA_CERTS:-}}
[ -z "$CA_BUNDLE" ] || CA_BUNDLE=$(realpath -m "$CA_BUNDLE")
cd "$(dirname "$0")/.."

BASE=${BASE:-localhost/cohort-base:bookworm-node20}
TAG=${TAG:-local}
TFJS_NODE=${TFJS_NODE:-0}
CONTEXT=${CONTEXT:-.}
say() { printf '[build-images] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v podman >/dev/null || die "podman not found (apt-get install -y podman)"
podman image exists "$BASE" || die "base image $BASE not found: run deploy/make-base-image.sh first"

ca_args=()
if [ -n "$CA_BUNDLE" ]; then
  [ -f "$CA_BUNDLE" ] || die "CA_BUNDLE=$CA_BUNDLE is not a file"
  say "trusting the CA bundle $CA_BUNDLE in the build stages (mounted at /run/cohort-build-ca.pem, not kept in any image)"
  ca_args=(--volume "$CA_BUNDLE:/run/cohort-build-ca.pem:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/cohort-build-ca.pem)
fi

images=("$@")
[ ${#images[@]} -gt 0 ] || images=(aggregator party)
total=$SECONDS
for name in "${images[@]}"; do
  args=(--build-arg "BUILD_IMAGE=$BASE")
  case "$name" in
    aggregator) args+=(--build-arg "BASE_IMAGE=$BASE") ;;
    party) args+=(--build-arg "BASE_IMAGE=$BASE" --build-arg "TFJS_NODE=$TFJS_NODE") ;;
    party-gpu)
      if [ -z "${TF_GPU_IMAGE:-}" ]; then
        say "skipping party-gpu: its base tensorflow/tensorflow:2.21.0-gpu (TensorFlow's GPU image, whose C library"
        say "  tfjs-node-gpu's binding is built against) comes only from a registry, not reachable here."
        say "  Set TF_GPU_IMAGE to a local copy of it to try."
        continue
      fi
      args+=(--build-arg "TF_GPU_IMAGE=$TF_GPU_IMAGE") ;;
    *) die "unknown image '$name' (aggregator, party, party-gpu)" ;;
  esac
  image="localhost/cohort-$name:$TAG"
  say "podman build --isolation chroot --network host --format docker -f deploy/docker/$name.Dockerfile ${args[*]} ${ca_args[*]} -t $image $CONTEXT"
  start=$SECONDS
  # --network host: the build stage's npm ci needs the registry; chroot isolation shares the
  # host's network anyway, this makes it explicit. --format docker: the OCI image format has no
  # HEALTHCHECK (podman drops it with a warning). --layers caches steps between runs.
  # shellcheck disable=SC2086
  podman build --isolation chroot --network host --format docker --layers ${PODMAN_BUILD_FLAGS:-} \
    -f "$CONTEXT/deploy/docker/$name.Dockerfile" "${args[@]}" ${ca_args[@]+"${ca_args[@]}"} -t "$image" "$CONTEXT" >&2
  say "$image built in $((SECONDS - start)) s"
done
say "all done in $((SECONDS - total)) s"
podman images --filter "reference=localhost/cohort-*" --format '{{.Repository}}:{{.Tag}}  {{.Size}}  {{.Created}}' >&2
