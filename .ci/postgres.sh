#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the tuner's multi-worker test.
# Prints "URL DATA_DIR" on stdout (stop it with pg_ctl -D DATA_DIR stop); prints nothing (and exits 0) when no server can be
# started, so the test that needs it skips with its own clear reason.
set -u
port="${HSI_ATTN_TEST_POSTGRES_PORT:-54329}"
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # Distribution package; quiet, and never fatal for the rest of CI.
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2 || true
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
[ -n "$bindir" ] || { echo "postgres: no server binaries found" >&2; exit 0; }

# The server refuses to run as root: use the distribution's postgres user when we are root.
run_as=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres >&2
    run_as=(runuser -u postgres --)
fi
dir=$(mktemp -d /tmp/hsi_attn_pg.XXXXXX)
chmod 755 "$dir"
[ "${#run_as[@]}" -eq 0 ] || chown postgres "$dir"
if ! "${run_as[@]}" "$bindir/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1; then
    echo "postgres: initdb failed, see $dir/initdb.log" >&2; exit 0
fi
if ! "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >&2; then
    echo "postgres: server did not start, see $dir/server.log" >&2; exit 0
fi
if ! "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "create database hsi_attn_test" >&2; then
    echo "postgres: could not create the test database" >&2; exit 0
fi
echo "postgresql://postgres@127.0.0.1:$port/hsi_attn_test $dir/data"
