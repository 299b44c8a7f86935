# shellcheck shell=bash
#
# pg.sh - start and stop a private PostgreSQL 15 server for one test.
#
# Source this file from a bash script, then:
#
#     pg_start || exit 1          # temp data dir, free port, waits ready
#     pg_createdb classify        # CREATE DATABASE (idempotent)
#     psql "$(pg_conninfo classify)" -c 'SELECT 1'
#     pg_stop                     # fast shutdown, data dir removed
#
# After pg_start these variables are set (and exported):
#   PG_DIR         the temp directory (data/, server.log, the unix socket)
#   PG_PORT        the TCP port, listening on 127.0.0.1 only
#   PG_SOCKET_DIR  the unix socket directory (= PG_DIR)
#   PG_HOST        127.0.0.1
# pg_conninfo DB prints a libpq conninfo for DB over TCP; pg_conninfo_unix
# DB one over the unix socket (use it inside another network namespace
# than the server's: TCP loopback differs per namespace, sockets do not).
#
# The server runs as the `postgres` user when the caller is root (initdb
# refuses root), with trust authentication, fsync off and no listening
# address besides 127.0.0.1.  Each pg_start uses its own directory and a
# port nobody listens on, so tests may run in parallel.  pg_stop stops
# exactly the server this shell started (by its data directory) and is
# safe to call twice; install it as an EXIT trap:
#
#     trap pg_stop EXIT
#
# Environment knobs: PG_BINDIR (default /usr/lib/postgresql/15/bin),
# PG_TMPROOT (default ${TMPDIR:-/tmp}), PG_KEEP=1 keeps the directory
# after pg_stop (for post-mortems; its path is printed).
#
# Functions print what went wrong on stderr and return non-zero; they
# never exit the caller.

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PG_HOST=127.0.0.1
PG_DIR=
PG_PORT=
PG_SOCKET_DIR=

# pg_as_owner CMD...: run CMD as the user that owns the cluster, from a
# directory that user can enter (the caller's may be private, e.g. /root).
pg_as_owner()
{
    if [ "$(id -u)" -eq 0 ]; then
        (cd "${PG_DIR:-/}" && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# pg_port_free PORT: succeed if nothing listens on TCP PORT of 127.0.0.1.
pg_port_free()
{
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pg_pick_port: print a random port in 20000..59999 that looks free.
pg_pick_port()
{
    local port i

    for ((i = 0; i < 50; i++)); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if pg_port_free "$port"; then
            echo "$port"
            return 0
        fi
    done
    echo "pg: no free port found after 50 tries" >&2
    return 1
}

# pg_init_dir: create PG_DIR and an initialised data directory in it.
pg_init_dir()
{
    local root=${PG_TMPROOT:-${TMPDIR:-/tmp}}

    PG_DIR=$(mktemp -d "$root/classify-pg.XXXXXX") || {
        echo "pg: cannot create a temp directory under $root" >&2
        return 1
    }
    chmod 0755 "$PG_DIR"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$PG_DIR" || return 1
    fi
    if ! pg_as_owner "$PG_BINDIR/initdb" -D "$PG_DIR/data" -U postgres \
        --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync \
        >"$PG_DIR/initdb.log" 2>&1; then
        echo "pg: initdb failed in $PG_DIR/data:" >&2
        cat "$PG_DIR/initdb.log" >&2
        return 1
    fi
}

# pg_start: init a fresh cluster and start it; retries on a port race.
pg_start()
{
    local try opts

    if [ -n "$PG_DIR" ]; then
        echo "pg: a server is already running in $PG_DIR" >&2
        return 1
    fi
    pg_init_dir || { pg_stop; return 1; }
    PG_SOCKET_DIR=$PG_DIR
    for ((try = 0; try < 5; try++)); do
        PG_PORT=$(pg_pick_port) || break
        opts="-c listen_addresses=127.0.0.1 -c port=$PG_PORT"
        opts+=" -c unix_socket_directories=$PG_SOCKET_DIR"
        opts+=" -c fsync=off -c synchronous_commit=off"
        opts+=" -c full_page_writes=off -c max_connections=100"
        if pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" \
            -l "$PG_DIR/server.log" -o "$opts" -w -t 30 start \
            >"$PG_DIR/pg_ctl.log" 2>&1; then
            export PG_DIR PG_PORT PG_SOCKET_DIR PG_HOST
            return 0
        fi
        if ! grep -q "could not bind\|already in use" "$PG_DIR/server.log" \
            2>/dev/null; then
            break
        fi
    done
    echo "pg: server did not start (data dir $PG_DIR/data):" >&2
    cat "$PG_DIR/pg_ctl.log" "$PG_DIR/server.log" >&2 2>/dev/null
    PG_KEEP=1 pg_stop
    return 1
}

# pg_conninfo DB: libpq conninfo for DB over TCP loopback.
pg_conninfo()
{
    echo "host=$PG_HOST port=$PG_PORT dbname=${1:-postgres} user=postgres"
}

# pg_conninfo_unix DB: libpq conninfo for DB over the unix socket.
pg_conninfo_unix()
{
    echo "host=$PG_SOCKET_DIR port=$PG_PORT dbname=${1:-postgres}" \
        "user=postgres"
}

# pg_psql DB ARGS...: run psql against DB (stops at the first error).
pg_psql()
{
    local db=$1
    shift

    psql -X -q -v ON_ERROR_STOP=1 "$(pg_conninfo_unix "$db")" "$@"
}

# pg_createdb NAME: create database NAME unless it exists.
pg_createdb()
{
    local exists

    exists=$(pg_psql postgres -At -c \
        "SELECT 1 FROM pg_database WHERE datname = '$1'") || return 1
    [ "$exists" = 1 ] && return 0
    pg_psql postgres -c "CREATE DATABASE \"$1\"" || {
        echo "pg: cannot create database $1" >&2
        return 1
    }
}

# pg_stop: fast shutdown of the server started by pg_start, then remove
# its directory (kept with PG_KEEP=1).  Safe to call when nothing runs.
pg_stop()
{
    [ -n "$PG_DIR" ] || return 0
    if [ -f "$PG_DIR/data/postmaster.pid" ]; then
        pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 \
            stop >/dev/null 2>&1 ||
            pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate \
                -w stop >/dev/null 2>&1 ||
            echo "pg: could not stop the server in $PG_DIR/data" >&2
    fi
    if [ "${PG_KEEP:-0}" = 1 ]; then
        echo "pg: kept $PG_DIR" >&2
    else
        rm -rf "$PG_DIR"
    fi
    PG_DIR=
    PG_PORT=
    PG_SOCKET_DIR=
}
