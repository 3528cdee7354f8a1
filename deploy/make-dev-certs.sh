#!/usr/bin/env bash
# Makes what deploy/compose.yaml and deploy/k8s need and the repository must never hold:
# a throwaway CA, the aggregator's server certificate, a client certificate per party (mutual
# TLS), and a random token per party. Writes deploy/secrets/ (git-ignored). For production use
# your own CA; the file names are all that matters.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p secrets && cd secrets
umask 077
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
# The containers run as uid 1000 and read these through secrets mounts.
chmod 644 ./*.pem ./*.key tokens.env
echo "wrote $(pwd): ca.pem, aggregator.{pem,key}, party{0,1,2}.{pem,key}, tokens.env"
