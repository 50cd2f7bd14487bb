#!/usr/bin/env bash
# PostgreSQL and RabbitMQ from Debian, run without systemd, for the production AiiDA profile
# (`aiida-polymer setup --production`) and tests/test_production_stack.py.
#
#   scripts/services.sh start             configure (once) and start both; waits until they accept connections
#   scripts/services.sh stop              stop both
#   scripts/services.sh status            say whether each runs; exit 1 if one does not
#   scripts/services.sh restart-rabbitmq  stop and start RabbitMQ (every client connection drops)
#
# Both listen on 127.0.0.1 only (PostgreSQL: listen_addresses; RabbitMQ: its AMQP listener, its Erlang distribution
# port and epmd). RabbitMQ's consumer_timeout is disabled (advanced.config): AiiDA holds a process's task unacknowledged
# for as long as the process runs, and RabbitMQ >= 3.8.15 otherwise closes the channel after 30 minutes.
# The en_US.UTF-8 locale is generated if missing (AiiDA creates its databases with that collation).
# Needs root (or sudo); the packages come with scripts/system-deps.sh (`make install`).
set -euo pipefail

MARK="written by aiida-polymer scripts/services.sh"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
RABBITMQ_TIMEOUT=${RABBITMQ_TIMEOUT:-120}
RABBITMQ_PID=/var/lib/rabbitmq/mnesia/aiida-polymer.pid

as_postgres() { if [ -z "$SUDO" ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

die() { echo "services.sh: $*" >&2; exit 1; }

need_packages() {
  command -v pg_lsclusters >/dev/null || die "PostgreSQL is not installed (apt-get install postgresql, or make install)"
  command -v rabbitmqctl >/dev/null || die "RabbitMQ is not installed (apt-get install rabbitmq-server, or make install)"
}

# A file we own: written when absent or carrying our mark; a file of the administrator's is left alone.
write_config() {  # path content [comment prefix]
  local path=$1 content=$2 comment=${3:-#}
  if [ -e "$path" ] && ! grep -qF "$MARK" "$path"; then
    echo "services.sh: keeping $path (not ours); check it has: $content" >&2
    return
  fi
  local new
  new=$(printf '%s %s\n%s\n' "$comment" "$MARK" "$content")
  [ -e "$path" ] && [ "$(cat "$path")" = "$new" ] && return
  printf '%s\n' "$new" | $SUDO tee "$path" >/dev/null
}

ensure_locale() {
  locale -a 2>/dev/null | grep -qix 'en_US.utf8' && return
  echo "services.sh: generating the en_US.UTF-8 locale"
  if [ -f /etc/locale.gen ] && grep -q '^# *en_US.UTF-8 UTF-8' /etc/locale.gen; then
    $SUDO sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen
  elif ! grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen 2>/dev/null; then
    echo 'en_US.UTF-8 UTF-8' | $SUDO tee -a /etc/locale.gen >/dev/null
  fi
  $SUDO locale-gen >/dev/null
}

pg_cluster() {  # "VERSION NAME" of the first cluster, created if there is none
  local line
  line=$(pg_lsclusters -h | head -1)
  if [ -z "$line" ]; then
    local version
    version=$(ls /usr/lib/postgresql | sort -V | tail -1)
    $SUDO pg_createcluster --locale en_US.UTF-8 "$version" main >/dev/null
    line=$(pg_lsclusters -h | head -1)
  fi
  echo "$line" | awk '{print $1, $2}'
}

pg_online() { pg_lsclusters -h | awk '{print $4}' | grep -q online; }

start_postgresql() {
  local version name
  read -r version name <<<"$(pg_cluster)"
  local conf=/etc/postgresql/$version/$name/conf.d/aiida-polymer.conf
  write_config "$conf" "listen_addresses = '127.0.0.1'"
  if pg_lsclusters -h | awk -v v="$version" -v n="$name" '$1 == v && $2 == n {print $4}' | grep -q online; then
    # a running server picks up a changed listen_addresses only on restart
    if ! as_postgres psql -p "$(pg_port)" -Atqc "show listen_addresses" 2>/dev/null | grep -qx '127.0.0.1'; then
      $SUDO pg_ctlcluster "$version" "$name" restart
    fi
  else
    $SUDO pg_ctlcluster "$version" "$name" start
  fi
  for _ in $(seq 60); do
    pg_isready -q -h 127.0.0.1 -p "$(pg_port)" && { echo "PostgreSQL $version/$name on 127.0.0.1:$(pg_port)"; return; }
    sleep 1
  done
  die "PostgreSQL did not accept connections in 60 s (see /var/log/postgresql/)"
}

pg_port() { pg_lsclusters -h | head -1 | awk '{print $3}'; }

rabbitmq_running() { $SUDO rabbitmqctl -q status >/dev/null 2>&1; }

configure_rabbitmq() {
  $SUDO mkdir -p /etc/rabbitmq
  write_config /etc/rabbitmq/rabbitmq.conf "listeners.tcp.default = 127.0.0.1:5672
distribution.listener.interface = 127.0.0.1
loopback_users.guest = true"
  write_config /etc/rabbitmq/advanced.config "[{rabbit, [{consumer_timeout, undefined}]}]." "%%"
}

# epmd (the Erlang port mapper) listens on every interface when rabbitmqctl or the server start it: start it first
ensure_epmd() { pgrep -x epmd >/dev/null || $SUDO env ERL_EPMD_ADDRESS=127.0.0.1 epmd -address 127.0.0.1 -daemon; }

start_rabbitmq() {
  configure_rabbitmq
  ensure_epmd
  if rabbitmq_running; then
    echo "RabbitMQ on 127.0.0.1:5672 (already running)"
    return
  fi
  $SUDO env ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_PID_FILE=$RABBITMQ_PID \
    start-stop-daemon --quiet --chuid rabbitmq --start --background \
    --pidfile "$RABBITMQ_PID" --exec /usr/lib/rabbitmq/bin/rabbitmq-server
  local start=$SECONDS
  while [ $((SECONDS - start)) -lt "$RABBITMQ_TIMEOUT" ]; do
    sleep 2
    if ! pgrep -u rabbitmq -f 'beam.*rabbit' >/dev/null && [ $((SECONDS - start)) -gt 10 ]; then
      tail -5 /var/log/rabbitmq/rabbit@*.log 2>/dev/null >&2 || true
      die "RabbitMQ exited while starting (see /var/log/rabbitmq/)"
    fi
    if $SUDO rabbitmqctl -q await_startup --timeout 10 >/dev/null 2>&1; then
      echo "RabbitMQ on 127.0.0.1:5672"
      return
    fi
  done
  die "RabbitMQ did not start in $RABBITMQ_TIMEOUT s (see /var/log/rabbitmq/)"
}

stop_rabbitmq() {
  ensure_epmd
  rabbitmq_running || return 0
  $SUDO rabbitmqctl -q stop >/dev/null
}

status() {
  local rc=0
  if pg_online; then echo "PostgreSQL: running ($(pg_lsclusters -h | head -1 | awk '{print $1 "/" $2 ", port " $3}'))"
  else echo "PostgreSQL: stopped"; rc=1; fi
  ensure_epmd
  if rabbitmq_running; then echo "RabbitMQ: running"; else echo "RabbitMQ: stopped"; rc=1; fi
  return $rc
}

case "${1:-}" in
  start)
    need_packages
    ensure_locale
    start_postgresql
    start_rabbitmq
    ;;
  stop)
    need_packages
    stop_rabbitmq
    pg_lsclusters -h | while read -r version name _; do $SUDO pg_ctlcluster "$version" "$name" stop || true; done
    echo "stopped"
    ;;
  status)
    need_packages
    status
    ;;
  restart-rabbitmq)
    need_packages
    stop_rabbitmq
    start_rabbitmq
    ;;
  *)
    echo "usage: $0 {start|stop|status|restart-rabbitmq}" >&2
    exit 2
    ;;
esac
