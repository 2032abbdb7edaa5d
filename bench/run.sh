#!/usr/bin/env bash
# The whole benchmark suite in one run (not tests): builds, runs bench/tftp/run.sh and
# bench/dhcp/run.sh when they exist, then /chain vs nginx (bench/http), server RSS during a
# 100-client TFTP storm (bench/rss) and start-to-ready time (bench/startup), and writes
# bench/RESULTS.md with the machine, versions, date and every section's figures and ratios.
# Needs root; installs wrk and nginx-light if missing. Every step has a time limit.
# Usage: bash bench/run.sh [--quick] [--only tftp,dhcp,http,rss,startup]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
quick=""
only="tftp,dhcp,http,rss,startup"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick="--quick" ;;
    --only) only="$2"; shift ;;
    *) echo "usage: bench/run.sh [--quick] [--only tftp,dhcp,http,rss,startup]" >&2; exit 2 ;;
  esac
  shift
done
wanted() { [[ ",$only," == *",$1,"* ]]; }

missing=()
for tool in wrk:wrk nginx:nginx-light taskset:util-linux curl:curl atftp:atftp; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: installing ${missing[*]}" >&2
  # RUNLEVEL=1 keeps the package scripts from starting a system nginx.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cd "$root"
echo "bench: building" >&2
npx tsc -p tsconfig.json >/dev/null || echo "bench: tsc reported type errors (dist/ emitted anyway)" >&2

sections=$(mktemp -d /tmp/rbt-bench-run.XXXXXX)
trap 'rm -rf "$sections"' EXIT
failed=()

# run NAME LIMIT_SECONDS COMMAND...: prints live, keeps stdout for RESULTS.md, notes a failure.
run() {
  local name=$1 limit=$2
  shift 2
  echo "bench: $name (limit ${limit}s)" >&2
  local load_before
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  timeout -s INT -k 10 "$limit" "$@" | tee "$sections/$name.md"
  local status=${PIPESTATUS[0]}
  printf '\n_Load average before this section: %s; after: %s._\n' "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" >"$sections/$name.notes"
  if [ "$status" -ne 0 ]; then
    failed+=("$name (exit $status)")
    printf '\n**%s did not finish (exit %s)**; see the run output.\n' "$name" "$status" >>"$sections/$name.notes"
  fi
  # External output goes into a code block; its notes follow the block (see external).
  [[ "$name" == *.raw ]] || cat "$sections/$name.notes" >>"$sections/$name.md"
}

# External benches: their own scripts print their tables; RESULTS.md keeps their output verbatim.
external() {
  local name=$1 limit=$2 script=$3
  shift 3
  if [ ! -f "$script" ]; then
    echo "bench: $script is absent, skipping $name" >&2
    printf '## %s\n\nSkipped: %s does not exist yet.\n' "$name" "${script#"$root"/}" >"$sections/$name.md"
    return
  fi
  run "$name.raw" "$limit" bash "$script" "$@"
  { printf '## %s (output of %s)\n\n```\n' "$name" "${script#"$root"/}"; cat "$sections/$name.raw.md"; printf '```\n'; cat "$sections/$name.raw.notes"; } >"$sections/$name.md"
}

wanted tftp && external TFTP 1500 "$here/tftp/run.sh"
wanted dhcp && external DHCP 960 "$here/dhcp/run.sh" $quick
# Loads pinned to CPU 0 and the load generator on CPU 1 (the benches pin their servers to 0).
wanted http && run http 480 taskset -c 1 node dist/bench/http/run.js ${quick:+--seconds 5}
wanted rss && run rss 400 taskset -c 1 node dist/bench/rss/run.js
wanted startup && run startup 180 taskset -c 0 node dist/bench/startup/run.js ${quick:+--runs 3}

results="$here/RESULTS.md"
{
  echo "# Benchmark results"
  echo
  echo "Written by \`bash bench/run.sh${quick:+ --quick}${only:+ --only $only}\` on $(date -u '+%Y-%m-%d %H:%M UTC'). Not tests: figures"
  echo "from one run on a shared machine; compare servers within the run, not across runs."
  echo
  echo "## Machine and versions"
  echo
  echo "- CPU: $(lscpu | sed -n 's/^Model name:\s*//p') x $(nproc) (affinity as each section says)"
  echo "- memory: $(free -m | awk '/^Mem:/ {print $2}') MiB; kernel $(uname -r); $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "- rackboot $(node -p "require('./package.json').version") (git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)), node $(node --version)"
  echo "- $(nginx -v 2>&1), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $(curl --version | head -1 | cut -d' ' -f1-2), atftp $(dpkg-query -W -f='${Version}' atftp 2>/dev/null)"
  echo
  for name in TFTP DHCP http rss startup; do
    [ -f "$sections/$name.md" ] && { cat "$sections/$name.md"; echo; }
  done
  if [ ${#failed[@]} -gt 0 ]; then
    echo "## Unfinished"
    echo
    printf -- '- %s\n' "${failed[@]}"
  fi
} >"$results"
echo "bench: wrote ${results#"$root"/}" >&2
[ ${#failed[@]} -eq 0 ]
