#!/usr/bin/env bash
# Makes sure Postgres (127.0.0.1:5432, trust auth) and NATS with JetStream (127.0.0.1:4222) run:
# installs them from Debian's packages when missing, starts them when stopped, waits until both
# answer. Safe to run any number of times.
set -euo pipefail

log() { printf '[services] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  local port=$1 name=$2
  for _ in $(seq 1 100); do
    port_open "$port" && return 0
    sleep 0.2
  done
  log "$name did not open port $port"
  return 1
}

apt_updated=""
ensure_package() {
  local command=$1 package=$2
  if ! command -v "$command" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$command" ]; then
    log "installing $package"
    if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
  fi
}

# --- Postgres -------------------------------------------------------------------------------
if ! port_open 5432; then
  ensure_package pg_ctlcluster postgresql
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "starting Postgres $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for_port 5432 Postgres
fi
for _ in $(seq 1 50); do
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -h 127.0.0.1 -p 5432 -q && break
  else
    break
  fi
  sleep 0.2
done

# --- NATS with JetStream --------------------------------------------------------------------
if ! port_open 4222; then
  ensure_package nats-server nats-server
  log "starting NATS with JetStream"
  as_root mkdir -p /var/lib/nats-server
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_for_port 4222 NATS
fi
log "Postgres and NATS are up"
