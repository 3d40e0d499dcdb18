#!/usr/bin/env bash
# Run a setup step with its output in a log file; print one line, or the log's end on failure.
#
#   deploy/quiet.sh LOG "what it does" COMMAND [ARGS...]
set -uo pipefail
log=$1 what=$2
shift 2
mkdir -p "$(dirname "$log")"
printf '%s ... ' "$what"
{ echo "=== $(date -u +%FT%TZ) $what: $*"; } >>"$log"
if "$@" >>"$log" 2>&1; then
    echo "done"
else
    rc=$?
    echo "FAILED (exit $rc)"
    echo "--- last lines of $log ---"
    tail -n 40 "$log"
    exit "$rc"
fi
