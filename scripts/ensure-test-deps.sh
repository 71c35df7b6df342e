#!/usr/bin/env bash
# Installs what the tests need on Debian when it is missing: chromium + chromium-driver for the
# browser tests, node and redis-server for the tests that run them, promtool (Debian's package
# prometheus) to lint a live /metrics scrape, and PostgreSQL / Redis started on loopback when
# nothing answers at the test URLs.
set -euo pipefail

PG_URL="${BI_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
REDIS_URL="${BI_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
MYSQL_URL="${BI_TEST_MYSQL_URL:-mysql+pymysql://root@127.0.0.1:3306/test}"
APT_UPDATED=0

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  if [ "$APT_UPDATED" = 0 ]; then as_root apt-get update -q; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}
# host and port of a URL like scheme://user@host:port/db
url_host() { python3 -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).hostname or "127.0.0.1")' "$1"; }
url_port() { python3 -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).port or int(sys.argv[2]))' "$1" "$2"; }
answers() { python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2).close()' "$1" "$2" 2>/dev/null; }

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "== installing chromium and chromium-driver"
  apt_install chromium chromium-driver
fi

# reports draw their charts with Chromium's headless shell (lighter than the full browser)
if ! command -v chromium-headless-shell >/dev/null; then
  echo "== installing chromium-headless-shell (report charts)"
  apt_install chromium-headless-shell
fi

# Korean pages are tested and photographed in the browser: without a CJK font Hangul draws as
# empty boxes (the base image has none)
if ! fc-list :lang=ko 2>/dev/null | grep -q .; then
  echo "== installing fonts-noto-cjk (Hangul for the browser tests)"
  apt_install fonts-noto-cjk
fi

# a report's first-page preview is drawn by poppler's pdftoppm; the report tests check it
if ! command -v pdftoppm >/dev/null; then
  echo "== installing poppler-utils (pdftoppm: report previews)"
  apt_install poppler-utils
fi

# node runs the clientside JavaScript in a unit test; the cache test starts, kills and stops its
# own redis-server. Under CI=true a missing one fails the test, so both are installed here.
if ! command -v node >/dev/null; then
  echo "== installing nodejs"
  apt_install nodejs
fi
if ! command -v redis-server >/dev/null; then
  echo "== installing redis-server"
  apt_install redis-server
fi

# promtool checks that a live /metrics scrape follows Prometheus' naming rules. Only the tool
# is needed: no recommended node exporter, and the server it comes with is not started.
if ! command -v promtool >/dev/null; then
  echo "== installing promtool (Debian package prometheus)"
  apt_install --no-install-recommends prometheus
fi

pg_host=$(url_host "$PG_URL"); pg_port=$(url_port "$PG_URL" 5432)
if ! answers "$pg_host" "$pg_port"; then
  echo "== no PostgreSQL at $pg_host:$pg_port: installing and starting one on loopback"
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  version=$(ls /etc/postgresql | sort -V | tail -1)
  conf=/etc/postgresql/$version/main
  # Tests connect as postgres without a password, on loopback only.
  as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$conf/pg_hba.conf"
  as_root sed -i -E "s/^#?listen_addresses.*/listen_addresses = '127.0.0.1'/" "$conf/postgresql.conf"
  as_root sed -i -E "s/^#?port = .*/port = $pg_port/" "$conf/postgresql.conf"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || as_root pg_ctlcluster --skip-systemctl-redirect "$version" main restart
  for _ in $(seq 1 30); do answers "$pg_host" "$pg_port" && break; sleep 1; done
fi
# The test database itself (PostgreSQL answers but may not have it yet).
.venv/bin/python - "$PG_URL" <<'PY'
import sys
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
url = make_url(sys.argv[1])
name = url.database or "test"
admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
with admin.connect() as conn:
    if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        print(f"== created database {name}")
PY

redis_host=$(url_host "$REDIS_URL"); redis_port=$(url_port "$REDIS_URL" 6379)
if ! answers "$redis_host" "$redis_port"; then
  echo "== no Redis at $redis_host:$redis_port: installing and starting one on loopback"
  command -v redis-server >/dev/null || apt_install redis-server
  redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no
  for _ in $(seq 1 30); do answers "$redis_host" "$redis_port" && break; sleep 1; done
fi
# MariaDB is a source database of the sync tests (root without a password, on loopback).
my_host=$(url_host "$MYSQL_URL"); my_port=$(url_port "$MYSQL_URL" 3306)
if ! answers "$my_host" "$my_port"; then
  echo "== no MariaDB at $my_host:$my_port: installing and starting one on loopback"
  command -v mariadbd >/dev/null || apt_install mariadb-server
  as_root service mariadb start || (as_root mysqld_safe --bind-address=127.0.0.1 --port="$my_port" >/dev/null 2>&1 &)
  for _ in $(seq 1 30); do answers "$my_host" "$my_port" && break; sleep 1; done
  as_root mariadb -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD(''); CREATE DATABASE IF NOT EXISTS test;"
fi
echo "== test dependencies ready (chromium, PostgreSQL $pg_host:$pg_port, Redis $redis_host:$redis_port, MariaDB $my_host:$my_port)"
