#!/bin/sh
# check_exports.sh PLUGIN.so... - a stage plugin must export nothing but
# its entry symbol and import nothing that breaks safe unloading or
# touches process-wide state.  Prints every offence; exits 1 on any.
set -u

ENTRY=cls_stage_entry_v1
# Imports a stage must never use (see the rules in classify/stage.h).
DENY='atexit on_exit __cxa_atexit at_quick_exit pthread_create
pthread_key_create pthread_atfork signal sigaction sigprocmask
pthread_sigmask fork vfork system popen execl execle execlp execv execve
execvp execvpe fexecve exit _exit _Exit quick_exit abort setenv putenv
unsetenv clearenv chdir fchdir umask setlocale uselocale dlopen dlclose'

if [ $# -eq 0 ]; then
    echo "usage: $0 PLUGIN.so..." >&2
    exit 2
fi

status=0
for so in "$@"; do
    if [ ! -f "$so" ]; then
        echo "$so: no such file" >&2
        status=1
        continue
    fi

    exports=$(nm -D --defined-only "$so" | awk '{ print $NF }' |
        grep -v -x -e _init -e _fini -e _edata -e _end -e __bss_start)
    for sym in $exports; do
        if [ "$sym" != "$ENTRY" ]; then
            echo "$so: exports $sym (only $ENTRY is allowed)"
            status=1
        fi
    done
    if ! printf '%s\n' $exports | grep -q -x "$ENTRY"; then
        echo "$so: does not export $ENTRY"
        status=1
    fi

    imports=$(nm -D --undefined-only "$so" | awk '{ print $NF }' |
        sed 's/@.*//')
    for sym in $imports; do
        for bad in $DENY; do
            if [ "$sym" = "$bad" ]; then
                echo "$so: imports $sym, which a stage must not use"
                status=1
            fi
        done
    done
done

if [ $status -eq 0 ]; then
    echo "exports/imports OK: $*"
fi
exit $status
