#!/usr/bin/env bash
# A service: reads the orders table every 100 ms with the DATABASE_URL it
# was started with, one line per query in LOG ("ok USER N" or "fail USER").
# On SIGTERM it finishes the query under way and exits.
#
#   consumer.sh LOG PSQL
set -u
log="$1" psql="$2"
stop=0
trap 'stop=1' TERM INT
user="${DATABASE_URL#*://}"
user="${user%%:*}"
echo "start $user" >>"$log"
while [ "$stop" = 0 ]; do
    if n="$("$psql" "$DATABASE_URL" -tAXqc 'SELECT count(*) FROM orders' 2>>"$log.err")"; then
        echo "ok $user $n" >>"$log"
    else
        echo "fail $user" >>"$log"
    fi
    sleep 0.1 &
    wait $! 2>/dev/null || true
done
echo "stop $user" >>"$log"
