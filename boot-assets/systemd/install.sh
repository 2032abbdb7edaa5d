#!/usr/bin/env bash
# Installs this built clone as the rackboot system service: the app under $PREFIX (/opt/rackboot)
# with its production node_modules, `rackboot` on PATH ($BINDIR/rackboot), the system user from
# rackboot.sysusers, /etc/rackboot/config.json (only when missing) and the systemd unit.
# Run as root from a clone after `npm install` (which builds dist/). Re-run it to upgrade: the
# config, the data in /var/lib/rackboot and Pi firmware put into $PREFIX/boot-assets/firmware stay.
#
#   DESTDIR=/tmp/root  install everything under that directory instead of / (packaging, tests)
#   PREFIX, BINDIR     where the app and the command go (/opt/rackboot, /usr/local/bin)
#   NODE               the node binary the unit runs (default: the one on PATH)
set -euo pipefail

die() {
  echo "install.sh: $*" >&2
  exit 1
}

src=$(cd "$(dirname "$0")/../.." && pwd)
here="$src/boot-assets/systemd"
root=${DESTDIR:-}
root=${root%/}
prefix=${PREFIX:-/opt/rackboot}
bindir=${BINDIR:-/usr/local/bin}
node=${NODE:-$(command -v node || true)}

[ -n "$node" ] || die "node is not on PATH; install Node.js 20 or set NODE=/path/to/node"
[ -x "$src/dist/server/main.js" ] || die "$src/dist/server/main.js missing: run npm install (it builds) or npm run build first"
[ -d "$src/node_modules/better-sqlite3" ] || die "$src/node_modules is incomplete: run npm install first"
case "$node" in
  /home/* | /root/*) echo "install.sh: warning: $node is under /home or /root, which the unit hides (ProtectHome=yes); set NODE to a system-wide node" >&2 ;;
esac

app="$root$prefix"
install -d "$app/dist" "$app/server/config" "$app/boot-assets"
# Code is replaced whole, so an upgrade drops files the new version no longer has.
rm -rf "$app/dist/server" "$app/migrations" "$app/node_modules"
cp -a "$src/dist/server" "$app/dist/"
cp -a "$src/migrations" "$src/package.json" "$src/package-lock.json" "$src/config.example.json" "$src/README.md" "$app/"
cp -a "$src/server/config/config.schema.json" "$app/server/config/"
# Merged, not replaced: boot-assets/firmware holds the Pi firmware the operator supplies.
cp -a "$src/boot-assets/." "$app/boot-assets/"
# Through "/.": a worktree's node_modules may be a symlink, whose target is what gets copied.
install -d "$app/node_modules"
cp -a "$src/node_modules/." "$app/node_modules/"
# Offline: it only removes what the lockfile marks dev (typescript, playwright-core, @types/*).
(cd "$app" && npm prune --omit=dev --offline --ignore-scripts --no-audit --no-fund --loglevel=error)

# Relative, so the link also resolves inside DESTDIR.
install -d "$root$bindir"
ln -sfr "$app/dist/server/main.js" "$root$bindir/rackboot"

install -D -m 0644 "$here/rackboot.sysusers" "$root/etc/sysusers.d/rackboot.conf"
systemd-sysusers ${root:+--root="$root"} "$root/etc/sysusers.d/rackboot.conf"
gid=$(awk -F: '$1 == "rackboot" { print $3 }' "$root/etc/group")
[ -n "$gid" ] || die "systemd-sysusers did not create the group rackboot in $root/etc/group"

# The config may hold the admin token: readable by root and the service's group only.
install -d -m 0750 -g "$gid" "$root/etc/rackboot"
config="$root/etc/rackboot/config.json"
if [ ! -e "$config" ]; then
  RB_SCHEMA="$prefix/server/config/config.schema.json" "$node" -e '
    const config = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    config.$schema = process.env.RB_SCHEMA;
    config.dataDir = "/var/lib/rackboot"; // the unit'"'"'s StateDirectory, the only place it may write
    process.stdout.write(JSON.stringify(config, null, 2) + "\n");
  ' "$src/config.example.json" >"$config.new"
  chmod 0640 "$config.new"
  chgrp "$gid" "$config.new"
  mv "$config.new" "$config"
  echo "install.sh: wrote $config from config.example.json (dataDir /var/lib/rackboot); set serverAddress and the ports before starting" >&2
fi

unit="$root/etc/systemd/system/rackboot.service"
install -d "$(dirname "$unit")"
sed -e "s#/opt/rackboot#$prefix#g" -e "s#^ExecStart=/usr/bin/node #ExecStart=$node #" "$here/rackboot.service" >"$unit"
chmod 0644 "$unit"

if [ -z "$root" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
echo "install.sh: installed rackboot in $app, the command $root$bindir/rackboot and $unit" >&2
echo "install.sh: next: edit /etc/rackboot/config.json, then systemctl enable --now rackboot && rackboot doctor" >&2
