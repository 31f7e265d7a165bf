#!/usr/bin/env bash
# Make sure NATS (with JetStream) and Redis answer where Flywheel expects them.
#
# Idempotent: a service that already answers is left alone. A missing local service is started
# (and its Debian package installed first when the binary is missing). Never hangs: every probe
# has a timeout and every wait a deadline.
#
#   FLYWHEEL_NATS_URL   host:port or nats://[user:pass@]host:port   (default 127.0.0.1:4222)
#   FLYWHEEL_REDIS_URL  host:port or redis://[user:pass@]host:port[/db] (default 127.0.0.1:6379)
#   FLYWHEEL_SERVICE_WAIT   seconds to wait for a started service to answer (default 20)
#   FLYWHEEL_NATS_STORE_DIR JetStream store dir for a NATS started here
#                           (default /var/lib/nats-server on port 4222, else $TMPDIR/flywheel-nats-<port>)
#
# Prints one line per service: "already running", "started" or "cannot start: <why>".
# Exits non-zero only when a service cannot be had.
set -uo pipefail

WAIT="${FLYWHEEL_SERVICE_WAIT:-20}"
TMPBASE="${TMPDIR:-/tmp}"

# "nats://u:p@h:p/x" -> "h:p"; "[::1]:4222" kept as is; of a list ("nats://a:1,nats://b:2",
# "redis+cluster://a:1,b:2") the first server.
hostport() {
  local s="$1"
  s="${s#*://}"        # scheme
  s="${s%%,*}"         # first of several servers
  s="${s##*@}"         # credentials
  s="${s%%/*}"         # path / db number
  s="${s%%\?*}"        # query
  printf '%s' "$s"
}
split_host() { local hp="$1"; local h="${hp%:*}"; h="${h#[}"; h="${h%]}"; printf '%s' "$h"; }
split_port() { local hp="$1"; printf '%s' "${hp##*:}"; }

is_local() {
  case "$1" in
    127.*|localhost|::1|0.0.0.0|::) return 0 ;;
    *) return 1 ;;
  esac
}

# TCP connect with a 2 s timeout (bash /dev/tcp; no nc needed).
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# First line the NATS server sends on connect: INFO {...json...}
nats_info() {
  timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2 || exit 1; IFS= read -r -t 2 line <&3; printf '%s' \"\$line\"" 2>/dev/null
}

# Redis answers PING with +PONG (or -NOAUTH when a password is set: still a Redis).
redis_reply() {
  timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2 || exit 1; printf 'PING\r\n' >&3; IFS= read -r -t 2 line <&3; printf '%s' \"\${line%\$'\r'}\"" 2>/dev/null
}

have_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
  local pkg="$1"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "  (no apt-get: cannot install $pkg)" >&2; return 1
  fi
  local SUDO=""
  if ! have_root; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
      echo "  (not root and no passwordless sudo: cannot install $pkg)" >&2; return 1
    fi
  fi
  echo "  installing Debian package $pkg ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || {
    echo "  (apt-get update failed)" >&2; return 1; }
  timeout 600 $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$pkg" >/dev/null 2>&1 || {
    echo "  (apt-get install $pkg failed)" >&2; return 1; }
}

find_bin() {
  local name="$1" p
  p="$(command -v "$name" 2>/dev/null)" && { printf '%s' "$p"; return 0; }
  for p in "/usr/sbin/$name" "/usr/bin/$name" "/usr/local/bin/$name" "/usr/local/sbin/$name"; do
    [ -x "$p" ] && { printf '%s' "$p"; return 0; }
  done
  return 1
}

# Pick a writable directory: first candidate we can create and write, else a temp one.
writable_dir() {
  local d
  for d in "$@"; do
    if mkdir -p "$d" 2>/dev/null && [ -w "$d" ]; then printf '%s' "$d"; return 0; fi
  done
  return 1
}

# wait_for <deadline-seconds> <probe-function> <args...>
wait_for() {
  local secs="$1"; shift
  local end=$(( SECONDS + secs ))
  while (( SECONDS < end )); do
    "$@" && return 0
    sleep 0.25
  done
  "$@"
}

nats_js_ok() { local i; i="$(nats_info "$1" "$2")"; [[ "$i" == INFO* && "$i" == *'"jetstream":true'* ]]; }

FAILED=0

# ---------------------------------------------------------------- NATS
ensure_nats() {
  local hp host port info bin store log pidfile
  hp="$(hostport "${FLYWHEEL_NATS_URL:-127.0.0.1:4222}")"
  host="$(split_host "$hp")"; port="$(split_port "$hp")"
  [ "$host" = localhost ] && host=127.0.0.1
  local label="nats  $host:$port"

  if port_open "$host" "$port"; then
    info="$(nats_info "$host" "$port")"
    if [[ "$info" != INFO* ]]; then
      echo "$label: cannot start: something answers there but it is not a NATS server (no INFO line)"; return 1
    fi
    if [[ "$info" != *'"jetstream":true'* ]]; then
      echo "$label: cannot start: a NATS server runs there but JetStream is off (restart it with -js)"; return 1
    fi
    echo "$label: already running (JetStream on)"; return 0
  fi

  if ! is_local "$host"; then
    echo "$label: cannot start: remote host does not answer (only local services are started here)"; return 1
  fi

  if ! bin="$(find_bin nats-server)"; then
    apt_install nats-server || true
    bin="$(find_bin nats-server)" || { echo "$label: cannot start: nats-server is not installed and could not be installed"; return 1; }
  fi

  if [ -n "${FLYWHEEL_NATS_STORE_DIR:-}" ]; then
    store="$(writable_dir "$FLYWHEEL_NATS_STORE_DIR")"
  elif [ "$port" = 4222 ]; then
    store="$(writable_dir /var/lib/nats-server "$TMPBASE/flywheel-nats-$port")"
  else
    store="$(writable_dir "$TMPBASE/flywheel-nats-$port")"
  fi
  [ -n "$store" ] || { echo "$label: cannot start: no writable JetStream store directory"; return 1; }
  if [ "$port" = 4222 ] && [ -w /var/log ]; then log=/var/log/nats-server.log; else log="$TMPBASE/flywheel-nats-$port.log"; fi
  local rundir; rundir="$(writable_dir /run "$TMPBASE")"
  pidfile="$rundir/flywheel-nats-$port.pid"

  # A pidfile per port, so that start-stop-daemon does not mistake another nats-server (on
  # another port) for this one.
  if command -v start-stop-daemon >/dev/null 2>&1; then
    start-stop-daemon --start --oknodo --background --make-pidfile --pidfile "$pidfile" \
      --exec "$bin" -- -a "$host" -p "$port" -js -sd "$store" -l "$log" >/dev/null 2>&1
  else
    setsid nohup "$bin" -a "$host" -p "$port" -js -sd "$store" -l "$log" >/dev/null 2>&1 < /dev/null &
    echo $! > "$pidfile"
  fi

  if wait_for "$WAIT" nats_js_ok "$host" "$port"; then
    echo "$label: started (JetStream on, store $store, log $log)"; return 0
  fi
  echo "$label: cannot start: no answer with JetStream within ${WAIT}s (see $log)"; return 1
}

# ---------------------------------------------------------------- Redis
redis_ok() { local r; r="$(redis_reply "$1" "$2")"; [[ "$r" == +PONG* || "$r" == -NOAUTH* || "$r" == -LOADING* ]]; }

ensure_redis() {
  local hp host port reply bin dir log bind
  hp="$(hostport "${FLYWHEEL_REDIS_URL:-127.0.0.1:6379}")"
  host="$(split_host "$hp")"; port="$(split_port "$hp")"
  [ "$host" = localhost ] && host=127.0.0.1
  local label="redis $host:$port"

  if port_open "$host" "$port"; then
    reply="$(redis_reply "$host" "$port")"
    case "$reply" in
      +PONG*)    echo "$label: already running"; return 0 ;;
      -NOAUTH*)  echo "$label: already running (password required)"; return 0 ;;
      -LOADING*) echo "$label: already running (still loading its data)"; return 0 ;;
      *) echo "$label: cannot start: something answers there but it does not answer PING like Redis"; return 1 ;;
    esac
  fi

  if ! is_local "$host"; then
    echo "$label: cannot start: remote host does not answer (only local services are started here)"; return 1
  fi

  if ! bin="$(find_bin redis-server)"; then
    apt_install redis-server || true
    # The package's postinst may have started a server on 6379 by itself.
    if redis_ok "$host" "$port"; then echo "$label: started (by the redis-server package)"; return 0; fi
    bin="$(find_bin redis-server)" || { echo "$label: cannot start: redis-server is not installed and could not be installed"; return 1; }
  fi

  if [ "$port" = 6379 ]; then
    dir="$(writable_dir /var/lib/redis "$TMPBASE/flywheel-redis-$port")"
  else
    dir="$(writable_dir "$TMPBASE/flywheel-redis-$port")"
  fi
  [ -n "$dir" ] || { echo "$label: cannot start: no writable data directory"; return 1; }
  if [ "$port" = 6379 ] && mkdir -p /var/log/redis 2>/dev/null && [ -w /var/log/redis ]; then
    log=/var/log/redis/ci.log
  else
    log="$TMPBASE/flywheel-redis-$port.log"
  fi
  # "-::1": bind ::1 too when the host has IPv6, without failing when it has not.
  case "$host" in
    127.0.0.1) bind=(127.0.0.1 -::1) ;;
    *)         bind=("$host") ;;
  esac

  # An append-only file (fsync every second): a PS shard refuses a Redis that keeps nothing.
  "$bin" --daemonize yes --bind "${bind[@]}" --port "$port" --save "" --appendonly yes --appendfsync everysec \
    --dir "$dir" --logfile "$log" >/dev/null 2>&1

  if wait_for "$WAIT" redis_ok "$host" "$port"; then
    echo "$label: started (dir $dir, log $log)"; return 0
  fi
  echo "$label: cannot start: no PONG within ${WAIT}s (see $log)"; return 1
}

ensure_nats  || FAILED=1
ensure_redis || FAILED=1
exit "$FAILED"
