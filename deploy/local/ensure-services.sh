#!/usr/bin/env bash
# Make sure the broker (with its management API, which the tests and operators' queue views use)
# and PostgreSQL are up on this machine. Starts what is installed but stopped; says what to do
# when something is missing. Used by `make test` and by CI.
set -u

say() { printf '[services] %s\n' "$*"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 tries=${2:-60}
  for _ in $(seq "$tries"); do port_open "$port" && return 0; sleep 1; done
  return 1
}

if ! port_open 5672; then
  if command -v rabbitmq-server >/dev/null; then
    say "starting RabbitMQ"
    rabbitmq-server -detached >/dev/null 2>&1 || true
    wait_port 5672 90 || { say "RabbitMQ did not come up on 5672"; exit 1; }
  else
    say "RabbitMQ is not running on 127.0.0.1:5672 and not installed: apt-get install rabbitmq-server"
    exit 1
  fi
fi

if ! port_open 15672; then
  if command -v rabbitmq-plugins >/dev/null; then
    say "enabling the RabbitMQ management API"
    rabbitmq-plugins enable rabbitmq_management >/dev/null || { say "could not enable rabbitmq_management"; exit 1; }
    wait_port 15672 60 || { say "the management API did not come up on 15672"; exit 1; }
  else
    say "the RabbitMQ management API (port 15672) is needed: rabbitmq-plugins enable rabbitmq_management"
    exit 1
  fi
fi
# The API answers 503 for a moment after the port opens.
for _ in $(seq 30); do
  curl -sf -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null && break
  sleep 1
done

if ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null; then
    say "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    wait_port 5432 60 || { say "PostgreSQL did not come up on 5432"; exit 1; }
  else
    say "PostgreSQL is not running on 127.0.0.1:5432: install it, or run the tests with --no-postgres"
    exit 1
  fi
fi
say "RabbitMQ, its management API and PostgreSQL are up"
