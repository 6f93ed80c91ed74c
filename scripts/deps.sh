#!/usr/bin/env bash
# Installs the Debian bookworm packages Tern needs to build, run and test.
# Skips apt-get entirely when everything is already present. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev libssl-dev libsqlite3-dev libsodium-dev libspdlog-dev
  libgtest-dev libgmock-dev libc-ares-dev libtomlplusplus-dev libcli11-dev libpsl-dev
  clang-14 libclang-rt-14-dev
  openssl ca-certificates sqlite3 curl swaks python3 python3-aiosmtpd python3-dnslib python3-dkim python3-nacl
  publicsuffix libpsl5
  isync fetchmail msmtp offlineimap3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
