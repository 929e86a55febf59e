#!/usr/bin/env bash
# Installs everything the project needs, idempotently: Debian packages (the kernel tools the
# router drives, the lab's DNS server, the competitors the benchmarks run, the browser the
# status-page test uses) and the npm packages, which bring the pinned Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(
  nftables iptables iproute2 iputils-arping procps kmod # network setup and NAT
  ndisc6                                                # HA checks over IPv6 (neighbour discovery)
  dnsmasq-base                                          # the lab's DNS server
  curl socat python3                                    # real clients in tests and the demo
  openssl                                               # certificates made in the TLS tests
  haproxy squid wrk iperf3                              # benchmarks against the originals
  keepalived util-linux                                 # active/standby election (setpriv: util-linux)
  conntrack                                             # HA tests: which router carried a connection
  chromium                                              # status page test (headless)
)

missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install: Debian packages missing (${missing[*]}); run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "install: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the packaged daemons on install; the project runs its own instances only.
  for svc in squid haproxy keepalived; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q "$svc" 2>/dev/null; then
      systemctl stop "$svc" || true
    fi
  done
fi

# npm ci only when the lock changed since the last install (node_modules/.package-lock.json
# is written by npm itself).
if [ ! -x node_modules/node/bin/node ] || ! cmp -s package-lock.json node_modules/.install-stamp; then
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.install-stamp
fi
