# shellcheck shell=bash
#
# netns.sh - run test servers inside a private, loopback-only network
# namespace.
#
# Source this file from a bash test script, then call ns_enter "$0" "$@" as
# the script's first action: the script re-executes itself under
# `unshare -n`, brings `lo` up and checks that no other interface exists.
# From then on everything the script starts (servers, curl, wrk) shares that
# namespace; nothing it sends can leave the machine, and nothing outside can
# reach it.  The namespace disappears with the last process in it.
#
# Processes are started with ns_start, which records their PID in a file;
# ns_stop and ns_kill act on exactly that PID.  ns_cleanup stops every
# process this script started (it is installed as an EXIT trap by ns_enter).
#
# Functions return non-zero with a message on stderr; they never exit the
# caller except ns_enter when isolation cannot be established.

NS_PIDFILES=()

# ns_enter SCRIPT ARGS...: re-exec SCRIPT inside a new network namespace
# unless already inside one created by us; then set up lo and the EXIT trap.
ns_enter()
{
    if [ -z "${CLASSIFY_NETNS:-}" ]; then
        exec unshare -n -- env CLASSIFY_NETNS=1 bash "$@"
    fi
    ip link set lo up || { echo "netns: cannot bring lo up" >&2; exit 1; }
    ns_assert_isolated || exit 1
    trap ns_cleanup EXIT
}

# ns_assert_isolated: succeed only if lo is the sole network interface.
ns_assert_isolated()
{
    local others

    others=$(ip -o link show | awk -F': ' '$2 != "lo" {print $2}')
    if [ -n "$others" ]; then
        echo "netns: not isolated, interfaces besides lo: $others" >&2
        return 1
    fi
}

# ns_start PIDFILE LOGFILE CMD...: start CMD in the background (stdin from
# /dev/null, stdout+stderr to LOGFILE) and write its PID to PIDFILE.
ns_start()
{
    local pidfile=$1 logfile=$2
    shift 2

    ns_assert_isolated || return 1
    "$@" >"$logfile" 2>&1 </dev/null &
    echo $! >"$pidfile"
    NS_PIDFILES+=("$pidfile")
}

# ns_pid PIDFILE: print the recorded PID.
ns_pid()
{
    cat "$1" 2>/dev/null
}

# ns_alive PIDFILE: succeed if the recorded process runs and is no zombie.
ns_alive()
{
    local pid state

    pid=$(ns_pid "$1") || return 1
    [ -n "$pid" ] || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# ns_wait_url URL [SECONDS] [PIDFILE]: poll URL until it answers 2xx; give up
# after SECONDS (default 30) or as soon as the process in PIDFILE has died.
ns_wait_url()
{
    local url=$1 secs=${2:-30} pidfile=${3:-} i

    for ((i = 0; i < secs * 10; i++)); do
        if curl -sf -o /dev/null -m 2 "$url"; then
            return 0
        fi
        if [ -n "$pidfile" ] && ! ns_alive "$pidfile"; then
            echo "netns: process $(ns_pid "$pidfile") died before $url" \
                "answered" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "netns: timeout after ${secs}s waiting for $url" >&2
    return 1
}

# ns_stop PIDFILE [SECONDS]: SIGTERM the recorded PID, wait up to SECONDS
# (default 20), then SIGKILL.  Succeeds if the process is gone.
ns_stop()
{
    local pidfile=$1 secs=${2:-20} pid i

    pid=$(ns_pid "$pidfile")
    [ -n "$pid" ] || return 0
    if ns_alive "$pidfile"; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < secs * 10; i++)); do
            ns_alive "$pidfile" || break
            sleep 0.1
        done
        if ns_alive "$pidfile"; then
            echo "netns: pid $pid ignored SIGTERM for ${secs}s, killing" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    wait "$pid" 2>/dev/null
    : >"$pidfile"
    return 0
}

# ns_kill PIDFILE: SIGKILL the recorded PID and reap it.
ns_kill()
{
    local pid

    pid=$(ns_pid "$1")
    [ -n "$pid" ] || return 0
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    : >"$1"
}

# ns_cleanup: stop every process started with ns_start (reverse order).
ns_cleanup()
{
    local i

    for ((i = ${#NS_PIDFILES[@]} - 1; i >= 0; i--)); do
        ns_stop "${NS_PIDFILES[$i]}" 10
    done
}
