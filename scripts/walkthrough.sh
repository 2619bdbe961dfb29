#!/usr/bin/env bash
# A scripted walkthrough of Hearth between two local identities, Mom and Son, with no network:
# they become contacts, talk, reply, react, edit, search in Korean, make a family group, and
# move everything between their devices with bundle files (a USB stick, in real life).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p hearth
H=target/release/hearth
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mom() { "$H" --data-dir "$WORK/mom" "$@"; }
son() { "$H" --data-dir "$WORK/son" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Moves what one device lacks from the other, through a file.
carry() {
  "$H" --data-dir "$WORK/$2" bundle state --out "$WORK/state.json" >/dev/null
  "$H" --data-dir "$WORK/$1" bundle export --since "$WORK/state.json" --out "$WORK/stick.bundle"
  "$H" --data-dir "$WORK/$2" bundle import "$WORK/stick.bundle"
}

step "Mom and Son create their identities"
mom init --name "엄마"
son init --name "Minjun"

step "Mom shows her invite code (and QR code)"
CODE=$(mom invite)
echo "$CODE"
mom invite --qr | tail -n +2

step "Son accepts it; the request travels to Mom on a USB stick, her confirmation comes back"
son accept "$CODE"
carry son mom
carry mom son
mom contacts
son contacts

step "Son writes; Mom replies and reacts"
MSG=$(son send --to "엄마" "엄마, 오늘 정전이래요. 괜찮아요?")
carry son mom
mom messages --chat Minjun
REPLY=$(mom reply "$MSG" "응 괜찮아. 초 켜놨어")
mom react "$MSG" "❤️"
carry mom son
son messages --chat "엄마"

step "Son fixes a typo; search finds a two-syllable word inside a longer one"
son edit "$MSG" "엄마, 오늘 저녁 정전이래요. 괜찮아요?"
carry son mom
mom search "정전"

step "Mom makes a family group"
mom group create "우리 가족" --member Minjun
mom send --chat "우리 가족" "다들 저녁 7시에 모여"
carry mom son
son chats
son messages --chat "우리 가족"

step "Both devices check their stores and export the conversation"
mom check
son export --chat "우리 가족" --format json
echo
echo "Done. Reply id: $REPLY"
