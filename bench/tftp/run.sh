#!/usr/bin/env bash
# TFTP side by side: rackboot's engine (bench/tftp/serve.ts), tftpd-hpa, atftpd and dnsmasq, all
# inside one network namespace (dnsmasq's TFTP port is fixed at 69), same clients, same files.
# Beside them the node:dgram floor (bench/tftp/floor.ts): no server work at all, so its figures
# are the most any TFTP server written on node can reach on this machine.
#   lock-step : curl --tftp-blksize 1468, 64 MiB, server and client pinned to CPU 0 (best of 3)
#   window    : atftp --option "blksize 1468" --option "windowsize 16", 64 MiB, pinned (best of 3)
#   storm     : 20, then 100 concurrent curl x 16 MiB at blksize 1468, unpinned (each client --max-time 300)
#   cpu       : server utime+stime (children included) per 64 MiB lock-step transfer
# Needs root, curl and atftp. The reference servers are unpacked from Debian packages with
# `apt-get download` + `dpkg -x` into $RBT_BENCH_PKGS (atftpd and tftpd-hpa conflict as packages).
# Usage: bash bench/tftp/run.sh   (after `npx tsc -p tsconfig.json`)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
pkgs=${RBT_BENCH_PKGS:-/tmp/rbt-bench-pkgs}
ns="rbt-tftp-$$"
work=$(mktemp -d /tmp/rbt-tftp-bench.XXXXXX)
chmod 755 "$work"
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do # bounded wait, then force
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- reference servers, unpacked, not installed ---
mkdir -p "$pkgs"
if [ ! -x "$pkgs/root/usr/sbin/in.tftpd" ] || [ ! -x "$pkgs/root/usr/sbin/atftpd" ] || [ ! -x "$pkgs/root/usr/sbin/dnsmasq" ]; then
  (cd "$pkgs" && apt-get download tftpd-hpa atftpd dnsmasq-base libwrap0 libnetfilter-conntrack3 libnfnetlink0 >/dev/null 2>&1)
  for deb in "$pkgs"/*.deb; do dpkg -x "$deb" "$pkgs/root"; done
fi
export LD_LIBRARY_PATH="$pkgs/root/usr/lib/x86_64-linux-gnu:$pkgs/root/lib/x86_64-linux-gnu"
sbin="$pkgs/root/usr/sbin"
for tool in curl atftp taskset; do command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }; done

# --- files ---
root="$work/root"
mkdir -p "$root"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$root/f64"
head -c $((16 * 1024 * 1024)) /dev/urandom >"$root/f16"
chmod 755 "$root"; chmod 644 "$root"/*
sum64=$(sha256sum <"$root/f64" | cut -d' ' -f1)
sum16=$(sha256sum <"$root/f16" | cut -d' ' -f1)

# --- namespace: lo plus a second address (in.tftpd exits 66 when the namespace has only 127.0.0.1) ---
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" addr add 10.255.69.1/32 dev lo
inns() { ip netns exec "$ns" "$@"; }

declare -A port pid
start() { # name port command... : started pinned to CPU 0 (its children too)
  local name=$1 p=$2; shift 2
  ip netns exec "$ns" taskset -c 0 "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  pid[$name]=$! # ip netns exec and taskset exec in place: this is the server itself
  port[$name]=$p
}
start rackboot 6901 node "$repo/dist/bench/tftp/serve.js" "$root" 127.0.0.1 6901
# Not a server: the least any TFTP server on node:dgram does per block (bench/tftp/floor.ts).
start node-floor 6904 node "$repo/dist/bench/tftp/floor.js" "$root" 127.0.0.1 6904
start tftpd-hpa 6902 "$sbin/in.tftpd" -L -a 127.0.0.1:6902 -s "$root"
start atftpd 6903 "$sbin/atftpd" --daemon --no-fork --port 6903 --bind-address 127.0.0.1 --user nobody.nogroup --maxthread 200 --logfile "$work/atftpd.file.log" "$root"
start dnsmasq 69 "$sbin/dnsmasq" --keep-in-foreground --conf-file=/dev/null --port=0 --enable-tftp --tftp-root="$root" --tftp-max=200 \
  --listen-address=127.0.0.1 --bind-interfaces --user=root --pid-file="$work/dnsmasq.pid" --log-facility="$work/dnsmasq.file.log"
sleep 1.5
servers=(rackboot node-floor tftpd-hpa atftpd dnsmasq)
for name in "${servers[@]}"; do
  inns ss -Hulpn "sport = :${port[$name]}" | grep -q "pid=${pid[$name]}," || { echo "$name did not start:" >&2; cat "$work/$name.log" >&2; exit 1; }
done

now() { date +%s.%N; }
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
check() { # file expected-sum
  [ "$(sha256sum <"$1" | cut -d' ' -f1)" = "$2" ]
}

declare -A lock win storm stormfail cpu
best_of_3() { # name client-args... -> MB/s of the best of three 64 MiB runs, CPU seconds per run
  local name=$1; shift
  local best=0 ticks_before ticks_after t0 t1 rate
  ticks_before=$(cpu_ticks "${pid[$name]}")
  for _ in 1 2 3; do
    rm -f "$work/out"
    t0=$(now)
    inns taskset -c 0 "$@" >/dev/null 2>&1 || { echo "  $name: client failed: $*" >&2; echo "0 0"; return; }
    t1=$(now)
    check "$work/out" "$sum64" || { echo "  $name: wrong content" >&2; echo "0 0"; return; }
    rate=$(echo "64 / ($t1 - $t0) * 1.048576" | bc -l)
    if (( $(echo "$rate > $best" | bc -l) )); then best=$rate; fi
  done
  sleep 0.3 # let a forking server reap its children so their time lands in cutime/cstime
  ticks_after=$(cpu_ticks "${pid[$name]}")
  echo "$best $(echo "($ticks_after - $ticks_before) / $hz / 3" | bc -l)"
}

# Warm-up, not measured: JIT, page cache, the floor's in-memory packets.
for name in "${servers[@]}"; do
  for file in f64 f16; do inns curl -sS --tftp-blksize 1468 -o /dev/null "tftp://127.0.0.1:${port[$name]}/$file" || true; done
done

echo "== lock-step: curl --tftp-blksize 1468, 64 MiB, pinned to CPU 0 (best of 3) =="
for name in "${servers[@]}"; do
  read -r rate secs < <(best_of_3 "$name" curl -sS --tftp-blksize 1468 -o "$work/out" "tftp://127.0.0.1:${port[$name]}/f64")
  lock[$name]=$rate; cpu[$name]=$secs
  printf '  %-10s %7.1f MB/s   server CPU %.3f s per 64 MiB\n' "$name" "$rate" "$secs"
done

echo "== windowsize 16: atftp blksize 1468, 64 MiB, pinned to CPU 0 (best of 3) =="
for name in rackboot atftpd dnsmasq; do
  read -r rate _ < <(best_of_3 "$name" atftp --option "blksize 1468" --option "windowsize 16" -g -r f64 -l "$work/out" 127.0.0.1 "${port[$name]}")
  win[$name]=$rate
  printf '  %-10s %7.1f MB/s\n' "$name" "$rate"
done

storm_run() { # clients: every server in turn, all clients at once; fills storm[name:clients], stormfail[name:clients]
  local n=$1 name t0 t1 failed c i
  local -a clients
  echo "== storm: $n concurrent curl x 16 MiB, blksize 1468, unpinned =="
  for name in "${servers[@]}"; do
    mkdir -p "$work/storm"
    t0=$(now)
    clients=()
    for i in $(seq 1 "$n"); do
      inns curl -sS --max-time 300 --tftp-blksize 1468 -o "$work/storm/$i" "tftp://127.0.0.1:${port[$name]}/f16" 2>/dev/null &
      clients+=($!)
    done
    failed=0
    for c in "${clients[@]}"; do wait "$c" || failed=$((failed + 1)); done
    t1=$(now)
    for i in $(seq 1 "$n"); do [ -f "$work/storm/$i" ] && check "$work/storm/$i" "$sum16" || failed=$((failed + 1)); done
    failed=$(( failed > n ? n : failed ))
    rm -rf "$work/storm"
    storm[$name:$n]=$(echo "$t1 - $t0" | bc -l); stormfail[$name:$n]=$failed
    printf '  %-10s %6.2f s   %d failed\n' "$name" "${storm[$name:$n]}" "$failed"
  done
}
storm_sizes=(20 100)
for n in "${storm_sizes[@]}"; do storm_run "$n"; done

ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
max_of() { printf '%s\n' "$@" | sort -g | tail -1; }
min_of() { printf '%s\n' "$@" | sort -g | head -1; }
best_lock=$(max_of "${lock[tftpd-hpa]}" "${lock[atftpd]}" "${lock[dnsmasq]}")
echo "== ratios (rackboot vs references; target in brackets) =="
echo "  lock-step vs best reference:        $(ratio "${lock[rackboot]}" "$best_lock")x  [>= 1.0]"
echo "  windowsize 16 vs best ref lock-step: $(ratio "${win[rackboot]}" "$best_lock")x  [>= 2.0]"
for n in "${storm_sizes[@]}"; do
  best_storm=$(min_of "${storm[tftpd-hpa:$n]}" "${storm[atftpd:$n]}" "${storm[dnsmasq:$n]}")
  printf '  storm %-3s time vs fastest reference: %sx  [<= 1.0], rackboot failures %s [0]\n' "$n" "$(ratio "${storm[rackboot:$n]}" "$best_storm")" "${stormfail[rackboot:$n]}"
done
echo "  CPU per 64 MiB vs dnsmasq:           $(ratio "${cpu[rackboot]}" "${cpu[dnsmasq]}")x  [<= 1.0]"
echo "== the node:dgram floor (no server work at all) against the same references =="
echo "  floor lock-step vs best reference:  $(ratio "${lock[node-floor]}" "$best_lock")x; rackboot vs floor $(ratio "${lock[rackboot]}" "${lock[node-floor]}")x"
for n in "${storm_sizes[@]}"; do
  best_storm=$(min_of "${storm[tftpd-hpa:$n]}" "${storm[atftpd:$n]}" "${storm[dnsmasq:$n]}")
  printf '  floor storm %-3s vs fastest reference: %sx; rackboot vs floor %sx\n' "$n" "$(ratio "${storm[node-floor:$n]}" "$best_storm")" "$(ratio "${storm[rackboot:$n]}" "${storm[node-floor:$n]}")"
done
echo "  floor CPU per 64 MiB vs dnsmasq:    $(ratio "${cpu[node-floor]}" "${cpu[dnsmasq]}")x; rackboot vs floor $(ratio "${cpu[rackboot]}" "${cpu[node-floor]}")x"
echo "== machine =="
echo "  $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) CPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "  node $(node --version), $("$sbin/dnsmasq" --version | head -1 | cut -d' ' -f1-3), tftpd-hpa $(dpkg-deb -f "$pkgs"/tftpd-hpa_*.deb Version), atftpd $(dpkg-deb -f "$pkgs"/atftpd_*.deb Version), curl $(curl --version | head -1 | cut -d' ' -f2), atftp $(dpkg-query -W -f='${Version}' atftp)"
