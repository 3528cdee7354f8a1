# Cohort aggregator (CPU). Build from the repository root:
#   docker build -f deploy/docker/aggregator.Dockerfile -t cohort-aggregator .
# BUILD_IMAGE and BASE_IMAGE default to the official Node 20 images; an offline build can pass
# a locally made Debian + Node 20 image for both (deploy/README.md).
ARG BUILD_IMAGE=node:20-bookworm
ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BUILD_IMAGE} AS build
# Only behind a TLS-intercepting proxy: the path of a CA bundle mounted into the build
# (deploy/build-images.sh: podman build -v), which node and npm then trust in this stage only.
# Unset (the default) it changes nothing; the runtime stage never sees it.
ARG NODE_EXTRA_CA_CERTS
WORKDIR /src
COPY package.json package-lock.json .npmrc tsconfig.base.json tsconfig.json ./
COPY packages ./packages
COPY services ./services
COPY proto ./proto
# The aggregator needs no native TensorFlow: optional dependencies (tfjs-node, its GPU twin)
# would download libtensorflow for nothing. Install scripts are not needed either.
# onnxruntime-node ships its native library for five platforms (~290 MB): keep this one's.
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev --omit=optional --ignore-scripts \
 && find packages services -name '*.ts' -not -name '*.d.ts' -delete \
 && arch=$(node -p process.arch) \
 && for d in node_modules/onnxruntime-node/bin/napi-v*/*/*; do case "$d" in */linux/"$arch") ;; *) rm -rf "$d" ;; esac; done

FROM ${BASE_IMAGE}
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/packages ./packages
COPY --from=build /src/services ./services
COPY --from=build /src/proto ./proto
# The example models (a few KiB): deploy/config/aggregator.yml starts from examples/mnist-tfjs.
COPY examples ./examples
COPY deploy/docker/healthcheck.mjs ./deploy/docker/healthcheck.mjs
# Writable places only: the run directory (a volume) and /tmp (tmpfs); the root file system
# can be mounted read-only.
RUN mkdir -p /var/lib/cohort /etc/cohort && chown 1000:1000 /var/lib/cohort
VOLUME ["/var/lib/cohort"]
ENV NODE_ENV=production COHORT_METRICS_PORT=9464
# gRPC (parties dial in) and the ops server (/metrics, /healthz, /readyz).
EXPOSE 50051 9464
# The node images' unprivileged "node" user, by number so Kubernetes can check runAsNonRoot.
USER 1000:1000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["node", "/app/deploy/docker/healthcheck.mjs", "/healthz"]
ENTRYPOINT ["node", "/app/packages/cli/dist/main.js"]
# The config must set metrics: {host: 0.0.0.0, port: 9464} for the probes (deploy/config/).
CMD ["aggregator", "--config", "/etc/cohort/aggregator.yml"]
