#!/usr/bin/env bash
# Runs the DNS proxy benchmark (bench/dns-proxy.ts): egress-router beside HAProxy configured
# as OpenShift's egress-dns-proxy image, with kernel NAT as the physical limit, in a network
# namespace of its own. Needs root. Prints a markdown table of medians and ratios; the raw
# numbers go to bench/results/ (not committed). Takes about four minutes with the defaults.
#   scripts/bench-dns-proxy.sh [--rounds 3] [--seconds 5] [--idle 10000]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "bench-dns-proxy: needs root (it creates a network namespace); run it with sudo" >&2
  exit 1
fi
scripts/install.sh
mkdir -p bench/results
out="bench/results/dns-proxy-$(date -u +%Y%m%dT%H%M%SZ).json"
node_modules/node/bin/node --disable-warning=ExperimentalWarning bench/dns-proxy.ts --json "$out" "$@"
echo "raw results: $out" >&2
