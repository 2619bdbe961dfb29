#!/usr/bin/env bash
# Builds the Linux installers (.deb and .rpm) with `tauri build`, checks that the .deb installs
# and the installed app starts (and opens its data directory) under Xvfb, checks the .rpm's
# contents, and reports their sizes against the 15 MB budget.
#
# AppImage, .msi and .dmg are configured in src-tauri/tauri.conf.json ("targets": "all") but
# need tools or machines this one lacks (linuxdeploy downloads, Windows, macOS); a release
# machine builds them with `npx --prefix ui tauri build` on that platform.
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=${CARGO_TARGET_DIR:-target}/release/bundle
rm -rf "$BUNDLE"
npm run build --prefix ui --silent
npx --prefix ui tauri build --bundles deb,rpm --ci
DEB=$(ls "$BUNDLE"/deb/*.deb)
RPM=$(ls "$BUNDLE"/rpm/*.rpm)
budget=$((15 * 1000 * 1000))
for f in "$DEB" "$RPM"; do
  size=$(stat -c %s "$f")
  awk -v n="$(basename "$f")" -v s="$size" 'BEGIN { printf "installer %s: %.2f MB (budget 15 MB)\n", n, s / 1e6 }'
  [ "$size" -le "$budget" ] || { echo "$(basename "$f") is over the 15 MB installer budget" >&2; exit 1; }
done

# The .rpm carries the binary, the desktop entry and the icons.
# (Listed on stderr by a redirect: `tee /dev/stderr` would reopen a log file and truncate it.)
files=$(rpm -qpl "$RPM")
echo "$files" >&2
grep -q '^/usr/bin/hearth-app$' <<<"$files"
grep -q '\.desktop$' <<<"$files"

# The .deb installs (with its dependencies from the distribution) and the installed app starts.
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$(realpath "$DEB")" >/dev/null
test -x /usr/bin/hearth-app
grep -q '^Exec=hearth-app' /usr/share/applications/*earth*.desktop
data=$(mktemp -d)
# Its own home: the app turns start-at-login on at first run (an autostart file in ~/.config).
mkdir -p "$data/home"
# Started means: the node opened its database in the data directory while the app runs.
# Everything happens inside xvfb-run, which then stops its X server.
HOME="$data/home" XDG_CONFIG_HOME="$data/home/.config" HEARTH_PUBLIC_NETWORK=0 HEARTH_NOSTR=0 HEARTH_DATA_DIR="$data" HEARTH_MDNS=0 HEARTH_LISTEN=/ip4/127.0.0.1/tcp/0 xvfb-run -a sh -c '
  /usr/bin/hearth-app & app=$!
  for _ in $(seq 200); do [ -f "$HEARTH_DATA_DIR/hearth.db" ] && break; sleep 0.1; done
  [ -f "$HEARTH_DATA_DIR/hearth.db" ] || { echo "the installed app did not start" >&2; kill $app; exit 1; }
  kill -0 $app || { echo "the installed app exited early" >&2; exit 1; }
  kill $app; wait $app; exit 0
'
$SUDO apt-get remove -y -qq hearth >/dev/null 2>&1 || true
echo "installers ok"
