#!/usr/bin/env bash
# Installs what building and testing Hearth needs on a fresh Debian/Ubuntu machine (as root, or
# with sudo): iproute2, strace and nftables for the network-namespace scenarios, procps for pkill,
# Node.js for the UI and the Yjs check, the WebKitGTK libraries the Tauri app links against
# (and the GStreamer plugins its voice recorder needs),
# Xvfb and WebKitWebDriver for the app's end-to-end tests, rpm to build the .rpm installer,
# and the Rust lint components. Does nothing for what is already there.
#
#   scripts/deps.sh          everything the tests need
#   scripts/deps.sh app      only what building and running the app needs
set -euo pipefail
rustup component add rustfmt clippy >/dev/null 2>&1 || true
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
need=()
# WebKitGTK's MediaRecorder (voice messages) is built on GStreamer's transcodebin and needs an
# AAC encoder to say it works at all (voaacenc): both are in gstreamer1.0-plugins-bad, which
# WebKitGTK only recommends, so a machine that skips recommended packages could not record.
for p in libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev pkg-config gstreamer1.0-plugins-bad; do
  have_pkg "$p" || need+=("$p")
done
command -v node >/dev/null || need+=(nodejs npm)
# The UI's build tools (Vite) need Node 20.19 or newer; say so plainly rather than fail later.
node_ok() {
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
}
if [ "${1:-}" != app ]; then
  command -v ip >/dev/null || need+=(iproute2)
  command -v strace >/dev/null || need+=(strace)
  # Home routers with NAT (masquerade) in the beyond-the-LAN scenarios.
  command -v nft >/dev/null || [ -x /usr/sbin/nft ] || need+=(nftables)
  command -v pkill >/dev/null || need+=(procps)
  command -v Xvfb >/dev/null || need+=(xvfb)
  command -v xauth >/dev/null || need+=(xauth)
  command -v WebKitWebDriver >/dev/null || need+=(webkit2gtk-driver)
  command -v rpm >/dev/null || need+=(rpm)
  # nostr-rs-relay (below) compiles protobuf definitions.
  command -v protoc >/dev/null || need+=(protobuf-compiler)
  # A private session bus for the notification test, and another window to take the focus.
  command -v dbus-daemon >/dev/null || need+=(dbus-daemon)
  command -v xdotool >/dev/null || need+=(xdotool)
  command -v xmessage >/dev/null || need+=(x11-utils)
  # Closes the app's window as a window manager would (e2e/lib/wm-close.py, through libX11).
  command -v python3 >/dev/null || need+=(python3)
  # Korean text and emoji in the end-to-end screenshots (a family's desktop has these fonts).
  have_pkg fonts-noto-cjk || need+=(fonts-noto-cjk)
  have_pkg fonts-noto-color-emoji || need+=(fonts-noto-color-emoji)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
if ! node_ok; then
  echo "Hearth's UI needs Node.js 20.19 or newer; this machine has $(node --version). Install a newer Node.js (for example from your distribution's backports or nodesource) and run this again." >&2
  exit 1
fi
# Stock Kubo (go-libp2p) nodes for the public-network scenarios (cli/tests/support/kubo.py):
# Kubo as a shared library from PyPI, driven through ctypes (so none of its Python deps).
if [ "${1:-}" != app ] && ! python3 -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("ipfs_node") is None)' 2>/dev/null; then
  python3 -m pip install --quiet --no-deps --break-system-packages kubo-python==0.1.5 2>/dev/null \
    || python3 -m pip install --quiet --no-deps kubo-python==0.1.5
fi
# Stock Nostr relays for the public-mailbox scenarios (cli/tests/nostr_mailboxes.rs, core's
# nostr tests). Not --locked: the lockfile shipped in 0.8.12 pins `time` 0.3.25, which no
# longer compiles with current Rust; the version of the relay itself is pinned.
if [ "${1:-}" != app ] && ! command -v nostr-rs-relay >/dev/null; then
  cargo install nostr-rs-relay --version 0.8.12 --quiet
fi
# tauri-driver bridges WebDriver clients to WebKitWebDriver and the app (end-to-end tests).
if [ "${1:-}" != app ] && ! command -v tauri-driver >/dev/null; then
  cargo install tauri-driver --version 2.1.0 --locked --quiet
fi
