# shellcheck shell=bash
#
# check.sh - the assertions and the exit report the end-to-end scripts
# share.  Source it from bash, then set CHECK_LABEL (shown in FAIL lines,
# e.g. the scenario; empty gives plain "FAIL:") and, before calling sql,
# DB (a libpq conninfo).
#
#   fail MSG...                  print "FAIL [CHECK_LABEL]: MSG" on stderr,
#                                set FAILED=1 and exit 1
#   expect_eq WHAT GOT WANT      fail unless GOT = WANT, else "ok: WHAT = WANT"
#   expect_gt WHAT GOT MIN       integers: fail unless GOT > MIN
#   sql QUERY                    one psql query against $DB, unaligned
#                                tuples only; fail when it errors
#   check_failed RC              true when RC (an exit status) is non-zero
#                                or fail ran: for an EXIT trap
#   check_tail TITLE N FILE...   the last N lines of FILE... under a heading
#                                (missing files are passed over)
#   check_clean_work DIR KEEP    remove DIR unless KEEP is non-empty (then
#                                say it was kept)
#   check_netns_gone NAME        false, with a FAIL line, while the network
#                                namespace NAME still exists
#   step MSG...                  "== [Ns] MSG": N seconds since sourcing
#
# Helpers that start classifyd are in host.sh.  scripts/ sources this
# folder too (tests/lib is the one home of the shell helpers: netns.sh and
# restate.sh were here first).

CHECK_LABEL=${CHECK_LABEL:-}
CHECK_STARTED=$(date +%s)
FAILED=0

fail()
{
    if [ -n "$CHECK_LABEL" ]; then
        echo "FAIL [$CHECK_LABEL]: $*" >&2
    else
        echo "FAIL: $*" >&2
    fi
    FAILED=1
    exit 1
}

expect_eq()
{
    [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
    echo "ok: $1 = $3"
}

expect_gt()
{
    [ "$2" -gt "$3" ] || fail "$1: got '$2', expected more than $3"
    echo "ok: $1 = $2 (> $3)"
}

sql()
{
    psql -X -q -At -v ON_ERROR_STOP=1 "$DB" -c "$1" ||
        fail "query failed: $1"
}

check_failed()
{
    [ "$1" -ne 0 ] || [ "$FAILED" -ne 0 ]
}

check_tail()
{
    local title=$1 lines=$2

    shift 2
    echo "---- $title (tail) ----"
    tail -n "$lines" "$@" 2>/dev/null
}

check_clean_work()
{
    if [ -n "$2" ]; then
        echo "work directory kept: $1"
    else
        rm -rf "$1"
    fi
}

check_netns_gone()
{
    if ip netns list | awk '{print $1}' | grep -qx "$1"; then
        echo "FAIL: netns $1 still exists after down" >&2
        return 1
    fi
}

step()
{
    echo "== [$(($(date +%s) - CHECK_STARTED))s] $*"
}
