# Cohort party (CPU). Build from the repository root:
#   docker build -f deploy/docker/party.Dockerfile -t cohort-party .
# TFJS_NODE=1 (default) adds @tensorflow/tfjs-node 4.22 (libtensorflow, several times faster
# than wasm on a CPU); its install downloads libtensorflow, so an offline build passes
# TFJS_NODE=0 and the party trains on the wasm backend.
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
# onnxruntime-node ships its native library for five platforms (~290 MB): keep this one's.
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev --omit=optional --ignore-scripts \
 && find packages services -name '*.ts' -not -name '*.d.ts' -delete \
 && arch=$(node -p process.arch) \
 && for d in node_modules/onnxruntime-node/bin/napi-v*/*/*; do case "$d" in */linux/"$arch") ;; *) rm -rf "$d" ;; esac; done
# Its install script fetches libtensorflow: the one install script this image runs. (The steps
# above are the aggregator's, so a build of both images runs them once: keep them alike.)
ARG TFJS_NODE=1
RUN if [ "$TFJS_NODE" = "1" ]; then npm install --no-save --omit=dev --no-audit --no-fund @tensorflow/tfjs-node@4.22.0; fi

FROM ${BASE_IMAGE}
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/packages ./packages
COPY --from=build /src/services ./services
COPY --from=build /src/proto ./proto
COPY examples ./examples
COPY deploy/docker/healthcheck.mjs ./deploy/docker/healthcheck.mjs
# The party writes nothing but logs (stdout): /data is its private data, read-only.
RUN mkdir -p /data /etc/cohort
VOLUME ["/data"]
ENV NODE_ENV=production COHORT_METRICS_PORT=9464
# The party only dials out; 9464 is its ops server (/metrics, /healthz, /readyz).
EXPOSE 9464
USER 1000:1000
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 CMD ["node", "/app/deploy/docker/healthcheck.mjs", "/healthz"]
ENTRYPOINT ["node", "/app/packages/cli/dist/main.js"]
CMD ["party", "--config", "/etc/cohort/party.yml"]
