# Cohort party on an NVIDIA GPU, with @tensorflow/tfjs-node-gpu 4.22. Build from the repository root:
#   docker build -f deploy/docker/party-gpu.Dockerfile -t cohort-party-gpu .
# Versions: tfjs-node-gpu 4.x loads libtensorflow 2.9.1 built against CUDA 11.2 and cuDNN 8.1
# (tfjs-node README: CUDA Toolkit 11.2, cuDNN SDK 8.1.0, NVIDIA driver > 450.x on the host). So
# the runtime base is NVIDIA's CUDA 11.2 + cuDNN 8 runtime image; the host needs the NVIDIA
# container toolkit (docker run --gpus all; Kubernetes: the NVIDIA device plugin).
ARG BUILD_IMAGE=node:20-bullseye
ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04

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
# Downloads the GPU build of libtensorflow 2.9.1 (linux x86_64) into node_modules.
RUN npm install --no-save --omit=dev --no-audit --no-fund @tensorflow/tfjs-node-gpu@4.22.0

FROM ${CUDA_IMAGE}
# Node from the build stage's exact binary: no apt source or download needed here, and the
# glibc of Debian bullseye (2.31) matches Ubuntu 20.04's.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/packages ./packages
COPY --from=build /src/services ./services
COPY --from=build /src/proto ./proto
COPY examples ./examples
COPY deploy/docker/healthcheck.mjs ./deploy/docker/healthcheck.mjs
RUN groupadd --gid 1000 cohort && useradd --uid 1000 --gid 1000 --no-create-home --shell /usr/sbin/nologin cohort \
 && mkdir -p /data /etc/cohort
VOLUME ["/data"]
ENV NODE_ENV=production COHORT_METRICS_PORT=9464 NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
EXPOSE 9464
USER 1000:1000
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 CMD ["node", "/app/deploy/docker/healthcheck.mjs", "/healthz"]
ENTRYPOINT ["node", "/app/packages/cli/dist/main.js"]
# backend: tensorflow in the config makes a missing GPU an error instead of a silent wasm fallback.
CMD ["party", "--config", "/etc/cohort/party.yml"]
