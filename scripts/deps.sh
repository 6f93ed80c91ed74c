#!/usr/bin/env bash
# Installs the Debian bookworm packages Tern needs to build, run and test.
# Skips apt-get entirely when everything is already present. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev libssl-dev libsqlite3-dev libsodium-dev libspdlog-dev
  libgtest-dev libgmock-dev libc-ares-dev libtomlplusplus-dev libcli11-dev libpsl-dev zlib1g-dev
  # the ACME client (acme/): HTTPS and JSON; pebble, the ACME CA tests/integration/test_acme.py runs
  libcurl4-openssl-dev nlohmann-json3-dev pebble
  # crypt(3) for imported password hashes; doveadm pw and the Dovecot the import tests run
  libcrypt-dev dovecot-core dovecot-imapd
  clang-14 libclang-rt-14-dev
  # sd_notify; the systemd unit directory and systemd-analyze; the Debian package and the
  # manual pages (tests/integration/test_install.py)
  libsystemd-dev systemd debhelper dpkg-dev groff-base
  openssl ca-certificates sqlite3 curl python3 python3-aiosmtpd python3-dnslib python3-dkim python3-nacl
  python3-authres python3-spf python3-pyflakes
  # tls-exporter channel binding for SCRAM-SHA-256-PLUS (tests/integration/test_scram.py)
  python3-openssl
  # swaks only Recommends its TLS and IPv6 modules, and we install without Recommends.
  swaks libnet-ssleay-perl libio-socket-inet6-perl
  publicsuffix libpsl5
  isync fetchmail msmtp offlineimap3
  # mbsync's SASL mechanisms (SCRAM-SHA-256 in tests/integration/test_scram.py): a Recommends
  libsasl2-modules
  # The external scanners of the content stage (tests/integration/test_spam.py).
  clamav-daemon clamav rspamd
  # A real Dovecot to migrate from and to (tests/integration/test_dovecot_migration.py,
  # started by bench/peers/dovecot.sh, which runs imap, pop3 and lmtp)
  dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd
)

# What the tests need at run time, checked after every install: a package that installed
# without a module it only Recommends fails here, in one line, not as a test failure later.
check_runtime() {
  local problems=()
  swaks --support 2>&1 | grep -q "^=== TLS supported" || problems+=("swaks has no TLS (libnet-ssleay-perl)")
  /usr/bin/python3 -c "import aiosmtpd, dnslib, dkim, nacl, authres, spf" 2>/dev/null ||
    problems+=("/usr/bin/python3 lacks aiosmtpd, dnslib, dkim, nacl, authres or spf")
  ls /usr/lib/*/sasl2/libscram.so >/dev/null 2>&1 || problems+=("no Cyrus SASL SCRAM plugin (libsasl2-modules)")
  [ -x /usr/sbin/clamd ] && [ -x /usr/bin/rspamd ] || problems+=("clamd or rspamd missing")
  if [ ${#problems[@]} -gt 0 ]; then
    echo "deps: installed, but: ${problems[*]}" >&2
    exit 1
  fi
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  check_runtime
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
check_runtime
