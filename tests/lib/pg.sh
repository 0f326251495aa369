# pg.sh - a throwaway PostgreSQL 15 for the tests (issue 15), from Debian's
# postgresql-15 package: initdb in a fresh temporary directory, run as an
# unprivileged user (initdb refuses root: as root the server runs as the
# package's `postgres` user), listening on a free port of 127.0.0.1 only,
# its unix socket in the temporary directory, trust auth for the role "tb"
# (loopback only: nothing else can reach it). fsync is off: the cluster is
# thrown away, and durability is the engine's, not ours to test here;
# TB_PG_DURABLE=1 turns it on (make bench compares it with a SQLite file);
# TB_PG_EXTRA adds server options (for profiling: -c shared_preload_libraries=...).
#
# Sourced (POSIX sh):
#   tb_pg_start   starts it; sets and exports TB_PG_URI (postgresql://tb@127.0.0.1:PORT),
#                 TB_PG_DIR, TB_PG_PORT, TB_PG_BIN; on failure prints the cause
#                 (the server log) and returns 1
#   tb_pg_stop    stops it (immediate) and removes the directory; safe to call twice
#   tb_pg_server stop|start  stops it (fast, data kept) or starts it again on the same port
#   tb_pg_psql DB ARGS...  psql on database DB as tb, unaligned, no psqlrc
#   tb_pg_uri DB  the URI of database DB
# The caller arranges for tb_pg_stop on exit (a trap); `run` below does.
#
# Run as a command:
#   sh tests/lib/pg.sh run CMD...   starts one, runs CMD with TB_PG_URI exported,
#                                   stops and removes it whatever happens; CMD's status.
#                                   With TB_PG_URI already set, runs CMD on that one.

TB_PG_BIN=${TB_PG_BIN:-/usr/lib/postgresql/15/bin}
TB_PG_DIR=${TB_PG_DIR:-}

tb_pg__as() { # tb_pg__as CMD...: CMD as the server's user
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$TB_PG_USER" -- "$@"
    else
        "$@"
    fi
}

tb_pg__free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

tb_pg__ctl_start() { # the server of $TB_PG_DIR on $TB_PG_PORT
    dur="-c fsync=off -c full_page_writes=off"
    [ "${TB_PG_DURABLE:-0}" = 1 ] && dur="-c fsync=on -c full_page_writes=on"
    tb_pg__as "$TB_PG_BIN/pg_ctl" -D "$TB_PG_DIR/data" -l "$TB_PG_DIR/server.log" -w -t 30 \
        -o "-p $TB_PG_PORT -k $TB_PG_DIR -c listen_addresses=127.0.0.1 $dur \
            -c max_connections=300 -c shared_buffers=32MB ${TB_PG_EXTRA:-}" start
}

# tb_pg_server stop|start: stops the running server (-m fast: clients are
# disconnected, the data kept) or starts it again on the same port and
# directory; for the tests of a lost connection (tests/pg/). Works in a
# script run by `run` (the variables are exported).
tb_pg_server() {
    TB_PG_USER=$(id -un)
    [ "$(id -u)" = 0 ] && TB_PG_USER=postgres
    case "$1" in
    stop) tb_pg__as "$TB_PG_BIN/pg_ctl" -D "$TB_PG_DIR/data" -m fast -w stop > /dev/null ;;
    start) tb_pg__ctl_start > /dev/null ;;
    esac
}

tb_pg_start() {
    if [ ! -x "$TB_PG_BIN/initdb" ]; then
        echo "pg.sh: no $TB_PG_BIN/initdb: install postgresql-15 (make deps)" >&2
        return 1
    fi
    TB_PG_USER=$(id -un)
    if [ "$(id -u)" = 0 ]; then
        TB_PG_USER=postgres # made by Debian's postgresql-common
        if ! id "$TB_PG_USER" > /dev/null 2>&1; then
            echo "pg.sh: running as root and there is no '$TB_PG_USER' user to run the server" >&2
            return 1
        fi
    fi
    TB_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tb-pg-XXXXXX") || return 1
    chmod 0755 "$TB_PG_DIR"
    [ "$(id -u)" = 0 ] && chown "$TB_PG_USER" "$TB_PG_DIR"
    if ! tb_pg__as "$TB_PG_BIN/initdb" -D "$TB_PG_DIR/data" -U tb -A trust -E UTF8 \
        --locale=C.UTF-8 > "$TB_PG_DIR/initdb.log" 2>&1; then
        echo "pg.sh: initdb failed:" >&2
        cat "$TB_PG_DIR/initdb.log" >&2
        return 1
    fi
    # Loopback only; trust is for the host lines initdb wrote (127.0.0.1, ::1, local).
    tries=0
    while :; do
        TB_PG_PORT=$(tb_pg__free_port) || return 1
        if tb_pg__ctl_start > "$TB_PG_DIR/pg_ctl.log" 2>&1; then
            break
        fi
        tries=$((tries + 1))
        if [ $tries -ge 3 ]; then # the port may have been taken meanwhile: try another
            echo "pg.sh: the server did not start:" >&2
            cat "$TB_PG_DIR/pg_ctl.log" "$TB_PG_DIR/server.log" >&2 2> /dev/null
            return 1
        fi
    done
    TB_PG_URI="postgresql://tb@127.0.0.1:$TB_PG_PORT"
    export TB_PG_URI TB_PG_DIR TB_PG_PORT TB_PG_BIN
    echo "pg.sh: PostgreSQL $("$TB_PG_BIN/postgres" -V | awk '{print $3}') on 127.0.0.1:$TB_PG_PORT ($TB_PG_DIR)" >&2
}

tb_pg_stop() {
    [ -n "$TB_PG_DIR" ] && [ -d "$TB_PG_DIR" ] || return 0
    if [ -f "$TB_PG_DIR/data/postmaster.pid" ]; then
        tb_pg__as "$TB_PG_BIN/pg_ctl" -D "$TB_PG_DIR/data" -m immediate -w stop > /dev/null 2>&1 ||
            echo "pg.sh: pg_ctl stop failed; removing $TB_PG_DIR anyway" >&2
    fi
    rm -rf "$TB_PG_DIR"
    TB_PG_DIR=""
}

tb_pg_uri() {
    echo "$TB_PG_URI/$1"
}

tb_pg_psql() {
    db=$1
    shift
    "$TB_PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$TB_PG_URI/$db" "$@"
}

if [ "${1:-}" = run ] && [ "$(basename "$0")" = pg.sh ]; then
    shift
    if [ -n "${TB_PG_URI:-}" ]; then
        exec "$@"
    fi
    set -u
    trap 'tb_pg_stop' EXIT
    trap 'tb_pg_stop; exit 1' INT TERM
    tb_pg_start || exit 1
    rc=0
    "$@" || rc=$?
    exit $rc
fi
