# A throwaway PostgreSQL cluster for the ledger tests, sourced by .ci/run.
#
#   pg_start DIR   initdb a cluster in DIR, start it listening only on a unix socket in DIR
#                  (no TCP port to collide with), create the database xsudo_test, and
#                  export XSUDO_TEST_POSTGRES_URL (a superuser URL: the tests create one
#                  database per test) and XSUDO_TEST_REQUIRE_POSTGRES=1.
#   pg_stop DIR    stop it (fast shutdown) and delete DIR.
#
# Needs Debian's postgresql package (initdb/pg_ctl in /usr/lib/postgresql/*/bin). The server
# refuses to run as root, so as root DIR is handed to the unprivileged user nobody and every
# server command runs as nobody (runuser); as another user, as that user.

pg_bin() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] || { echo "postgres: no /usr/lib/postgresql/*/bin" >&2; return 1; }
    printf '%s\n' "$dir"
}

# Run a server command in DIR (a directory the server user can enter) as the server user.
pg_as() {
    local dir="$1"
    shift
    if [ "$(id -u)" = 0 ]; then
        (cd "$dir" && runuser -u nobody -- "$@")
    else
        (cd "$dir" && "$@")
    fi
}

pg_start() {
    local dir="$1" bin
    bin="$(pg_bin)"
    mkdir -p "$dir"
    chmod 0700 "$dir"
    [ "$(id -u)" = 0 ] && chown nobody: "$dir"
    pg_as "$dir" "$bin/initdb" -D "$dir/data" -U xsudo --auth=trust -E UTF8 --no-locale \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
    pg_as "$dir" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -k $dir -c fsync=off" start >/dev/null \
        || { cat "$dir/server.log" >&2; return 1; }
    pg_as "$dir" "$bin/createdb" -h "$dir" -U xsudo xsudo_test
    export XSUDO_TEST_POSTGRES_URL="postgresql://xsudo@/xsudo_test?host=$dir"
    export XSUDO_TEST_REQUIRE_POSTGRES=1
}

pg_stop() {
    local dir="$1" bin
    bin="$(pg_bin)" || return 0
    if [ -f "$dir/data/postmaster.pid" ]; then
        pg_as "$dir" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}
