# Cohort party on an NVIDIA GPU. Build from the repository root:
#   docker build -f deploy/docker/party-gpu.Dockerfile -t cohort-party-gpu .
# The base is TensorFlow's official GPU image (TensorFlow 2.21 with the CUDA 12 and cuDNN 9
# libraries it was built for), not the CUDA 11.2 + libtensorflow 2.9.1 that tfjs-node-gpu 4.22's
# install downloads (built before current GPUs). `cohort backend install tensorflow --gpu` builds
# tfjs-node-gpu's binding against that image's own TensorFlow C library (libtensorflow_cc.so.2
# of its pip package), so TF.js trains with the same kernels, CUDA and cuDNN as Keras in the image.
# The host needs a driver recent enough for CUDA 12 and the NVIDIA container toolkit (docker run
# --gpus all; Kubernetes: the NVIDIA device plugin). Not built or run on a GPU in CI (deploy/README.md).
ARG BUILD_IMAGE=node:20-bookworm
ARG TF_GPU_IMAGE=tensorflow/tensorflow:2.21.0-gpu

FROM ${BUILD_IMAGE} AS build
# Only behind a TLS-intercepting proxy: the path of a CA bundle mounted into the build
# (deploy/build-images.sh: podman build -v), which node and npm then trust in this stage only.
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

# The binding is compiled where the library lies: TensorFlow's image plus what node-gyp needs
# (a C++ compiler and make; Python 3 is there), Node, its headers and npm from the build stage.
FROM ${TF_GPU_IMAGE} AS binding
ARG NODE_EXTRA_CA_CERTS
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends g++ make \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /usr/local/include/node /usr/local/include/node
COPY --from=build /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json /src/.npmrc ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/packages ./packages
COPY --from=build /src/services ./services
COPY --from=build /src/proto ./proto
# No --from: it takes python3's tensorflow package, the image's TensorFlow. --gpu: no driver at build time.
RUN node packages/cli/dist/main.js backend install tensorflow --gpu \
 && rm -rf node_modules/@tensorflow/tfjs-node-gpu/build

FROM ${TF_GPU_IMAGE}
# Node from the build stage's exact binary (the official build, glibc >= 2.28): no apt source needed.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
# deps/ of tfjs-node-gpu links to this image's TensorFlow package, at the same path as in the binding stage.
COPY --from=binding /app ./
COPY examples ./examples
COPY deploy/docker/healthcheck.mjs ./deploy/docker/healthcheck.mjs
RUN (getent group 1000 >/dev/null || groupadd --gid 1000 cohort) \
 && (getent passwd 1000 >/dev/null || useradd --uid 1000 --gid 1000 --no-create-home --shell /usr/sbin/nologin cohort) \
 && mkdir -p /data /etc/cohort
VOLUME ["/data"]
ENV NODE_ENV=production COHORT_METRICS_PORT=9464 NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
EXPOSE 9464
USER 1000:1000
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 CMD ["node", "/app/deploy/docker/healthcheck.mjs", "/healthz"]
ENTRYPOINT ["node", "/app/packages/cli/dist/main.js"]
# backend: tensorflow in the config makes a missing GPU library an error instead of a silent wasm fallback.
CMD ["party", "--config", "/etc/cohort/party.yml"]
