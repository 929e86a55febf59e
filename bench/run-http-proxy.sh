#!/bin/sh
# Runs the HTTP proxy benchmark with the project's pinned Node.js (see bench/http-proxy.ts).
# Loopback only; takes about four minutes with the defaults; never fails on speed.
set -eu
cd "$(dirname "$0")/.."
for tool in squid haproxy wrk socat curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is missing; run scripts/install.sh" >&2; exit 1; }
done
exec node_modules/node/bin/node --disable-warning=ExperimentalWarning bench/http-proxy.ts "$@"
