#!/usr/bin/env bash
# Makes what deploy/compose.yaml and deploy/k8s need and the repository must never hold:
# a throwaway CA, the aggregator's server certificate, a client certificate per party (mutual
# TLS), and a random token per party. Writes deploy/secrets/ (git-ignored). For production use
# your own CA; the file names are all that matters.
# Usage: deploy/make-dev-certs.sh [DIR]   (default deploy/secrets)
# Private keys are written 0600 (cohort refuses a key other users can read); run as root, the
# script gives them to uid 1000, the containers' user, which reads them through the secrets mounts.
set -euo pipefail
umask 077
out="${1:-$(dirname "$0")/secrets}"
mkdir -p "$out" && cd "$out"
ec() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "$@"; }
ec -x509 -days 365 -subj /CN=cohort-dev-ca -keyout ca.key -out ca.pem
issue() { # name, extensions
  printf '%s\n' "$2" > "$1.ext"
  ec -subj "/CN=$1" -keyout "$1.key" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -extfile "$1.ext" -out "$1.pem"
  rm "$1.csr" "$1.ext"
}
# The parties dial "aggregator" (compose service, Kubernetes Service): the SAN must name it.
issue aggregator "subjectAltName=DNS:aggregator,DNS:aggregator.cohort.svc,DNS:aggregator.cohort.svc.cluster.local,DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
: > tokens.env
for i in 0 1 2; do
  issue "party$i" "extendedKeyUsage=clientAuth"
  echo "PARTY${i}_TOKEN=$(openssl rand -hex 24)" >> tokens.env
done
# Certificates are public; keys and tokens stay the owner's. The containers run as uid 1000.
chmod 644 ./*.pem
chmod 600 ./*.key tokens.env
if [ "$(id -u)" = 0 ]; then
  chown 1000:1000 ./*.key tokens.env
elif [ "$(id -u)" != 1000 ]; then
  echo "note: the keys belong to uid $(id -u), mode 0600; the containers run as uid 1000: sudo chown 1000 $(pwd)/*.key" >&2
fi
echo "wrote $(pwd): ca.pem, aggregator.{pem,key}, party{0,1,2}.{pem,key}, tokens.env"
