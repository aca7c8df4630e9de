#!/usr/bin/env bash
# Run a command against a private, throw-away PostgreSQL server.
#
#   scripts/with-postgres.sh COMMAND [ARG...]
#
# initdb into a fresh temporary directory, start the server on a unix socket in a private
# directory (no TCP port), create a role `medunion` that may CREATEDB and a database of the
# same name, export DATABASE_URL and PG* for the command, then stop the server and remove the
# directory however the command ends. PostgreSQL refuses to run as root, so as root the server
# runs as the `postgres` user (the Debian package creates it). The binaries are found under
# /usr/lib/postgresql/<version>/bin (newest version), or PG_BINDIR.
#
# With MEDUNION_PG_KEEP=DIR the cluster lives in DIR instead: created on first use, kept after
# the command (for the province data set and the benchmarks), and durable (fsync on), so that
# what is measured is what a real server does. The command sees MEDUNION_PG_DATA,
# MEDUNION_PG_BINDIR and MEDUNION_PG_RUNAS (the user the server runs as, or empty) to restart
# the server itself (the fault drills do).
#
# With MEDUNION_PG_DURABLE=1 a throw-away server is durable too: a drill that crashes the
# database server itself (scripts/faults/pg_restart.py, `pg_ctl restart -m immediate`) loses
# transactions it acknowledged without it (synchronous_commit=off).
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "error: PostgreSQL server binaries not found under /usr/lib/postgresql/<version>/bin" >&2
    echo "       (apt-get install postgresql, or set PG_BINDIR)" >&2
    exit 1
fi

as_server=()
if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        echo "error: running as root, but there is no 'postgres' user to run the server as" >&2
        exit 1
    fi
    as_server=(runuser -u postgres --)
fi

keep=${MEDUNION_PG_KEEP:-}
if [ -n "$keep" ]; then
    mkdir -p "$keep"
    root=$(cd "$keep" && pwd)
else
    root=$(mktemp -d "${TMPDIR:-/tmp}/medunion-pg.XXXXXX")
fi
data=$root/data
sock=$root/sock
rm -rf "$sock"
mkdir -m 700 "$sock"
if [ "${#as_server[@]}" -gt 0 ]; then
    chown -R postgres: "$root"
fi

server() {
    # The server user may not be able to enter the caller's directory; work from $root.
    (cd "$root" && "${as_server[@]}" "$@")
}

started=
cleanup() {
    status=$?
    trap - EXIT INT TERM
    if [ -n "$started" ]; then
        server "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ "$status" -ne 0 ] && [ -f "$root/server.log" ] && [ -z "$started" ]; then
        echo "--- PostgreSQL server log ---" >&2
        tail -n 50 "$root/server.log" >&2 || true
    fi
    if [ -z "$keep" ]; then
        rm -rf "$root"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fresh=
if [ ! -f "$data/PG_VERSION" ]; then
    server "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
        --no-sync >"$root/initdb.log" 2>&1 || { cat "$root/initdb.log" >&2; exit 1; }
    fresh=1
fi

# No TCP, the socket in a private directory. A throw-away test server runs without
# durability; a kept one (MEDUNION_PG_KEEP), or one asked for (MEDUNION_PG_DURABLE=1), is
# durable. Random reads cost what they cost on an SSD (docs/configuration.md, "PostgreSQL"), as
# on a production server.
options="-c listen_addresses='' -k $sock -c max_connections=200 -c random_page_cost=1.1"
if [ -z "$keep" ] && [ "${MEDUNION_PG_DURABLE:-}" != 1 ]; then
    options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
server "$bindir/pg_ctl" -D "$data" -l "$root/server.log" -w -t 60 -o "$options" start >/dev/null
started=1

if [ -n "$fresh" ]; then
    "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -U postgres -d postgres \
        -c "CREATE ROLE medunion LOGIN CREATEDB" -c "CREATE DATABASE medunion OWNER medunion"
fi

version=$("$bindir/psql" -X -A -t -h "$sock" -U medunion -d medunion -c "SHOW server_version")
echo "private PostgreSQL $version on socket $sock"

unset PGSERVICE PGPASSWORD PGPASSFILE PGOPTIONS
export PGHOST=$sock PGUSER=medunion PGDATABASE=medunion
export DATABASE_URL="postgres://medunion@${sock//\//%2F}/medunion"
export MEDUNION_PG_DATA=$data MEDUNION_PG_BINDIR=$bindir MEDUNION_PG_RUNAS=${as_server[2]:-}

"$@"
