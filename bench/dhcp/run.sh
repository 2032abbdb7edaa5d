#!/usr/bin/env bash
# DHCP benchmark (not a test): rackboot vs Kea vs dnsmasq, perfdhcp as a relay agent, all inside
# network namespaces this script creates and removes. Needs root. See bench/README.md "DHCP".
# Usage: bench/dhcp/run.sh [--quick] [--servers rackboot,kea,dnsmasq]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
missing=()
for tool in kea-dhcp4:kea-dhcp4-server perfdhcp:kea-admin dnsmasq:dnsmasq-base taskset:util-linux; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench/dhcp: installing ${missing[*]}" >&2
  # Keep package scripts from starting the distribution's kea/dnsmasq services.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cd "$root"
npx tsc -p tsconfig.json >/dev/null || true
# Bounded: the whole run stops after 15 minutes whatever happens.
exec timeout -s INT 900 node dist/bench/dhcp/run.js "$@"
