#!/bin/bash
# Private Dovecot instance on loopback for side-by-side benchmarks (Debian's dovecot 2.3).
#
# Interface (stable; used by bench/*.py):
#   dovecot.sh start DIR MAILDIR_ROOT USER PASSWORD
#       Writes DIR/dovecot.conf and DIR/users, starts `dovecot -c DIR/dovecot.conf`, waits until
#       every listener accepts, and prints ONE line on stdout:
#         imap=PORT pop3=PORT lmtp=PORT auth=DIR/run/auth-client pid=MASTER_PID mail_uid=U mail_gid=G
#       Ports are free loopback ports (127.0.0.1). USER logs in with PASSWORD (plaintext
#       allowed, ssl = no; stored as {ARGON2ID} like Tern's, or $DOVECOT_BENCH_SCHEME). USER's Maildir is MAILDIR_ROOT/<localpart of USER>/Maildir; LMTP
#       accepts RCPT TO:<USER> and <localpart@any-domain> for every user in DIR/users.
#       Mail files are owned by mail_uid:mail_gid (the invoking user; as root: nobody/nogroup,
#       since Dovecot refuses uid 0): chown whatever you write into the Maildir yourself.
#       auth= is a unix socket speaking the Dovecot auth protocol (Postfix smtpd_sasl_type =
#       dovecot can use it for AUTH PLAIN/LOGIN).
#       With DOVECOT_BENCH_TLS_CERT and DOVECOT_BENCH_TLS_KEY (PEM files) set: ssl = yes with that
#       certificate and an implicit-TLS listener, printed as an extra "imaps=PORT" field.
#       DOVECOT_BENCH_MAX_CONNS (default 5000) sizes imap/imap-login process limits (over TLS
#       every connection keeps its own imap-login process as the TLS proxy).
#   dovecot.sh adduser DIR USER PASSWORD   another user (the passwd-file is re-read on change)
#   dovecot.sh pids DIR     master pid and every descendant (imap-login, imap, auth...), one
#                           per line (for PSS measurements)
#   dovecot.sh stop DIR     stops the instance (waits, bounded); DIR is left in place
#   Exit status non-zero with a reason on stderr when Dovecot is missing or does not start.
#   Every ancestor of DIR and MAILDIR_ROOT must be searchable by others (o+x): Dovecot's auth
#   and mail processes do not run as root (mktemp -d makes 0700 dirs: chmod 0755 them).
#
# Installs dovecot-imapd/-pop3d/-lmtpd with apt-get when missing (root only). Never uses or
# changes the system instance (/etc/dovecot is not read: the config is self-contained).
set -euo pipefail

die() { echo "dovecot.sh: $*" >&2; exit 1; }

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

ensure_installed() {
  if [ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] && [ -x /usr/lib/dovecot/pop3 ] &&
     [ -x /usr/lib/dovecot/lmtp ]; then
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "dovecot not installed and not root (apt-get install dovecot-imapd dovecot-pop3d dovecot-lmtpd)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd dovecot-pop3d dovecot-lmtpd \
    >"${TMPDIR:-/tmp}/dovecot-apt.log" 2>&1 || die "apt-get install failed (see ${TMPDIR:-/tmp}/dovecot-apt.log)"
}

localpart() { echo "${1%%@*}"; }

mail_uid() { if [ "$(id -u)" = 0 ]; then id -u nobody; else id -u; fi; }
mail_gid() { if [ "$(id -u)" = 0 ]; then getent group nogroup | cut -d: -f3; else id -g; fi; }

user_line() {  # USER PASSWORD MAILDIR_ROOT
  local lp; lp=$(localpart "$1")
  mkdir -p "$3/$lp"
  chown "$(mail_uid):$(mail_gid)" "$3/$lp"
  # Passwords hashed like Tern's (argon2id, 64 MiB), so LOGIN costs compare; PLAIN when
  # DOVECOT_BENCH_SCHEME=PLAIN or doveadm cannot hash.
  local hash=""
  if [ "${DOVECOT_BENCH_SCHEME:-ARGON2ID}" != PLAIN ]; then
    hash=$(/usr/bin/doveadm pw -s "${DOVECOT_BENCH_SCHEME:-ARGON2ID}" -p "$2" 2>/dev/null) || hash=""
  fi
  [ -n "$hash" ] || hash="{PLAIN}$2"
  # passwd-file: user:password:uid:gid:gecos:home:shell:extra
  echo "$lp:$hash:$(mail_uid):$(mail_gid)::$3/$lp::"
}

wait_port() {  # PORT SECONDS
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

master_pid() {
  local f="$1/run/master.pid"
  [ -s "$f" ] && cat "$f"
}

descendants() {  # PID: prints PID and all descendants
  local p c
  echo "$1"
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do descendants "$c"; done
}

check_traversable() {  # PATH: every ancestor must be searchable by others (dovecot, nobody)
  local d=$1
  while [ "$d" != "/" ] && [ -n "$d" ]; do
    d=$(dirname "$d")
    if [ "$(stat -c %A "$d" | cut -c10)" != "x" ] && [ "$(stat -c %A "$d" | cut -c10)" != "t" ]; then
      die "$d is not searchable by other users (chmod o+x it): dovecot's auth and mail processes need to reach $1"
    fi
  done
}

cmd_start() {
  [ $# -eq 4 ] || die "usage: dovecot.sh start DIR MAILDIR_ROOT USER PASSWORD"
  local dir=$1 root=$2 user=$3 pass=$4
  ensure_installed
  mkdir -p "$dir" "$root"
  dir=$(cd "$dir" && pwd); root=$(cd "$root" && pwd)
  check_traversable "$dir"; check_traversable "$root"
  # Login processes run as dovenull and auth as dovecot: they must reach base_dir.
  chmod 0755 "$dir"
  mkdir -p "$dir/run" "$dir/state"
  local imap pop3 lmtp imaps=0 ssl=no ssl_lines="" maxc=${DOVECOT_BENCH_MAX_CONNS:-5000}
  imap=$(free_port); pop3=$(free_port); lmtp=$(free_port)
  while [ "$pop3" = "$imap" ]; do pop3=$(free_port); done
  while [ "$lmtp" = "$imap" ] || [ "$lmtp" = "$pop3" ]; do lmtp=$(free_port); done
  if [ -n "${DOVECOT_BENCH_TLS_CERT:-}" ] && [ -n "${DOVECOT_BENCH_TLS_KEY:-}" ]; then
    imaps=$(free_port)
    while [ "$imaps" = "$imap" ] || [ "$imaps" = "$pop3" ] || [ "$imaps" = "$lmtp" ]; do imaps=$(free_port); done
    ssl=yes
    ssl_lines="ssl_cert = <$DOVECOT_BENCH_TLS_CERT
ssl_key = <$DOVECOT_BENCH_TLS_KEY"
  fi
  local login_limit=$((maxc + 100)); [ "$login_limit" -lt 1100 ] && login_limit=1100
  user_line "$user" "$pass" "$root" > "$dir/users"
  chmod 0644 "$dir/users"
  echo "$root" > "$dir/maildir_root"
  local first_uid=500
  [ "$(mail_uid)" -lt 500 ] && first_uid=$(mail_uid)
  cat > "$dir/dovecot.conf" <<EOF
# Generated by bench/peers/dovecot.sh: private benchmark instance, loopback only.
base_dir = $dir/run
state_dir = $dir/state
instance_name = bench-$(basename "$dir")
log_path = $dir/dovecot.log
protocols = imap pop3 lmtp
listen = 127.0.0.1
ssl = $ssl
$ssl_lines
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = $first_uid
mail_location = maildir:~/Maildir
postmaster_address = postmaster@bench.invalid
default_client_limit = $((maxc < 4000 ? 4000 : maxc + 100))
mail_max_userip_connections = $((maxc < 5000 ? 5000 : maxc + 100))

passdb {
  driver = passwd-file
  args = username_format=%Ln $dir/users
}
userdb {
  driver = passwd-file
  args = username_format=%Ln $dir/users
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps
  }
  process_limit = $login_limit
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $pop3
  }
  inet_listener pop3s {
    port = 0
  }
  process_limit = 1100
}
service imap {
  process_limit = $((maxc < 5000 ? 5000 : maxc + 100))
}
service pop3 {
  process_limit = 1000
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp
  }
  unix_listener lmtp {
    mode = 0666
  }
}
service auth {
  unix_listener auth-client {
    mode = 0666
  }
  client_limit = $((maxc < 8000 ? 8000 : 2 * maxc + 100))
}
service anvil {
  client_limit = $((maxc < 8000 ? 8000 : 2 * maxc + 100))
}
protocol lmtp {
  auth_username_format = %Ln
}
EOF
  if [ -n "$(master_pid "$dir" || true)" ] && kill -0 "$(master_pid "$dir")" 2>/dev/null; then
    die "an instance already runs in $dir (stop it first)"
  fi
  # Up to 5000 connections, each a process with a few descriptors.
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  /usr/sbin/dovecot -c "$dir/dovecot.conf" 2>"$dir/start.err" ||
    die "dovecot failed to start: $(cat "$dir/start.err"; tail -5 "$dir/dovecot.log" 2>/dev/null)"
  local p
  local ports="$imap $pop3 $lmtp"; [ "$imaps" != 0 ] && ports="$ports $imaps"
  for p in $ports; do
    wait_port "$p" 15 || die "port $p does not accept: $(tail -5 "$dir/dovecot.log" 2>/dev/null)"
  done
  local i
  for ((i = 0; i < 100; i++)); do [ -n "$(master_pid "$dir" || true)" ] && break; sleep 0.05; done
  local extra=""; [ "$imaps" != 0 ] && extra=" imaps=$imaps"
  echo "imap=$imap$extra pop3=$pop3 lmtp=$lmtp auth=$dir/run/auth-client pid=$(master_pid "$dir") mail_uid=$(mail_uid) mail_gid=$(mail_gid)"
}

cmd_adduser() {
  [ $# -eq 3 ] || die "usage: dovecot.sh adduser DIR USER PASSWORD"
  local dir=$1
  [ -f "$dir/users" ] || die "no instance in $dir"
  local root; root=$(cat "$dir/maildir_root")
  user_line "$2" "$3" "$root" >> "$dir/users"
}

cmd_pids() {
  [ $# -eq 1 ] || die "usage: dovecot.sh pids DIR"
  local pid; pid=$(master_pid "$1") || die "no pid file in $1/run"
  kill -0 "$pid" 2>/dev/null || die "master $pid not running"
  descendants "$pid"
}

cmd_stop() {
  [ $# -eq 1 ] || die "usage: dovecot.sh stop DIR"
  local dir=$1 pid
  pid=$(master_pid "$dir" || true)
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    return 0
  fi
  /usr/sbin/dovecot -c "$dir/dovecot.conf" stop 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  adduser) shift; cmd_adduser "$@" ;;
  pids) shift; cmd_pids "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) die "usage: dovecot.sh start DIR MAILDIR_ROOT USER PASSWORD | adduser DIR USER PASSWORD | pids DIR | stop DIR" ;;
esac
