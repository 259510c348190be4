#!/usr/bin/env bash
# Makes a Docker engine usable: installs Debian's docker.io and debootstrap when missing, and starts dockerd
# when none answers. Used by `make images` and `make test`.
set -euo pipefail
sudo=$([ "$(id -u)" = 0 ] || echo sudo)
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq docker.io debootstrap >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd (log: /var/log/visionflow-dockerd.log)"
  $sudo sh -c 'nohup dockerd >/var/log/visionflow-dockerd.log 2>&1 &'
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && exit 0
    sleep 1
  done
  echo "dockerd did not answer within 60 s: see /var/log/visionflow-dockerd.log" >&2
  exit 1
fi
