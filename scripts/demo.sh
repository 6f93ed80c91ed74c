#!/usr/bin/env bash
# README command 1: install what is needed, build, create a ready demo instance under ./var/
# (config, self-signed certificate, data dir, domain example.test, user demo@example.test)
# and run ternd in the foreground on loopback, unprivileged ports.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/deps.sh

cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DTERN_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target ternd ternctl
ternd="$root/build/release/daemon/ternd"
ternctl="$root/build/release/ctl/ternctl"

var="$root/var"
conf="$var/ternd.toml"
mkdir -p "$var/tls" "$var/data"
chmod 700 "$var"

if [ ! -f "$var/tls/cert.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,DNS:mail.example.test,IP:127.0.0.1,IP:::1" \
    -keyout "$var/tls/key.pem" -out "$var/tls/cert.pem" 2>/dev/null
  chmod 600 "$var/tls/key.pem"
fi

if [ ! -f "$conf" ]; then
  cat > "$conf" <<CONF
# Demo instance made by scripts/demo.sh. Every key is documented in README.md.
hostname = "mail.example.test"
data_dir = "$var/data"
postmaster = "demo@example.test"
log_level = "info"

[tls]
cert = "$var/tls/cert.pem"
key = "$var/tls/key.pem"

[listen]
smtp = ["127.0.0.1:2525", "[::1]:2525"]
submission = ["127.0.0.1:2587", "[::1]:2587"]
submissions = ["127.0.0.1:2465", "[::1]:2465"]
imap = ["127.0.0.1:2143", "[::1]:2143"]
imaps = ["127.0.0.1:2993", "[::1]:2993"]
pop3 = ["127.0.0.1:2110", "[::1]:2110"]
pop3s = ["127.0.0.1:2995", "[::1]:2995"]

[auth]
allow_plaintext_without_tls = false

# Sender checks (SPF, DKIM, DMARC, iprev) only record their results here: the demo listens on
# loopback, where the senders are you, and on a machine without DNS each message would wait
# for the lookups' timeout. A real MX keeps the defaults ("enforce").
[inbound_auth]
spf = "record"
dkim = "record"
dmarc = "record"
iprev = "off"
timeout = 3
CONF
fi

# ::1 may be missing (IPv6 disabled): fall back to IPv4-only listeners.
if ! /usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
  sed -i 's/, "\[::1\]:[0-9]*"//' "$conf"
fi

if [ ! -f "$var/demo-password" ]; then
  head -c 12 /dev/urandom | base64 | tr -d '/+=' > "$var/demo-password"
  chmod 600 "$var/demo-password"
fi
password=$(cat "$var/demo-password")
"$ternctl" -c "$conf" domain list | grep -qx example.test || "$ternctl" -c "$conf" domain add example.test
if ! "$ternctl" -c "$conf" user list | cut -f1 | grep -qx demo@example.test; then
  printf '%s\n' "$password" | "$ternctl" -c "$conf" user add demo@example.test
fi

cat <<INFO

  Tern demo instance (config: $conf)
  Account:   demo@example.test
  Password:  $password
  Certificate is self-signed: accept it in your client (or trust $var/tls/cert.pem).

  Incoming mail (SMTP MX):      localhost port 2525
  Outgoing mail (submission):   localhost port 2587 STARTTLS, or 2465 SSL/TLS; normal password
  IMAP:                         localhost port 2143 STARTTLS, or 2993 SSL/TLS
  POP3:                         localhost port 2110 STARTTLS, or 2995 SSL/TLS

  Try:  swaks --server 127.0.0.1:2525 --to demo@example.test
        curl -k --url "imaps://127.0.0.1:2993/INBOX" --user "demo@example.test:$password"
  Admin: $ternctl -c $conf --help
  Stop with Ctrl-C.

INFO
exec "$ternd" -c "$conf"
