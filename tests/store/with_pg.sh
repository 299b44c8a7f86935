#!/bin/bash
# with_pg.sh CMD ARGS... - run CMD against a private PostgreSQL 15.
#
# Starts a fresh server from tests/lib/pg.sh, exports CLASSIFY_TEST_PG (a
# libpq conninfo without dbname; tests create their own databases), runs
# CMD and stops the server whatever CMD returns.  The exit status is CMD's,
# or 1 when the server cannot be started (never a silent skip).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/pg.sh
. "$here/../lib/pg.sh"

trap pg_stop EXIT
pg_start || { echo "with_pg: cannot start PostgreSQL" >&2; exit 1; }
export CLASSIFY_TEST_PG="host=$PG_HOST port=$PG_PORT user=postgres"
"$@"
