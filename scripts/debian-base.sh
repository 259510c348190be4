#!/usr/bin/env bash
# Builds a Debian 12 base image from Debian's packages, for machines that cannot pull
# python:3.11.7-slim-bookworm: debootstrap a minimal root file system with Python 3.11, then `docker import`.
# The image trusts this machine's CA bundle (the one its own pip and apt use), so builds on it reach the
# package registries through the same TLS interception the host goes through.
# Usage: scripts/debian-base.sh [IMAGE]   (default visionflow-base:bookworm)
set -euo pipefail
image=${1:-visionflow-base:bookworm}
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image is already built"
  exit 0
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
echo "building the Debian 12 base image $image with debootstrap (about 2 minutes)"
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
  bookworm "$root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$root.log" 2>&1 \
  || { tail -20 "$root.log"; exit 1; }
rm -f "$root.log"
cp "$ca_bundle" "$root/etc/ssl/certs/ca-certificates.crt"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["python3"]' \
  - "$image" >/dev/null
echo "built $image"
