#!/usr/bin/env bash
# bench/overload/run.sh — the overload figures of issue 19 (points 2 and 4),
# quickly, on loopback: switchboard as built from the working tree and as of
# BASELINE (default main), side by side in one run, under
#
#   (i)   a clean rate (CLEAN_RATE, 400/s),
#   (ii)  twice it offered (OVERLOAD_RATE, 800/s), nothing else on the core,
#   (iii) BURNER_RATE (default CLEAN_RATE) offered with one CPU burner on
#         the server's core,
#   (iv)  OVERLOAD_RATE offered with three burners on the server's core.
#
# It drives bench/sip/run.sh (the same SIPp door-call scenario, the same
# serve, the same measures: goodput, p99 INVITE→200, calls slower than 1 s,
# the server socket's drops) through its knobs, without Kamailio and
# without the memory figures, twice: once with one burner for (iii), once
# with three for (iv); (i) and (ii) come from the first. The load average
# is printed before each, since the machine may be shared.
#
# Knobs: CLEAN_RATE, OVERLOAD_RATE, BURNER_RATE, BASELINE, CALL_SECONDS,
# BASE_PORT, and any of bench/sip/run.sh's. With SIPp and the server on
# a core each, both real-time (below), switchboard carried 1 400 calls/s
# of 1 600 offered with no call slower than a second (issue 19, session
# 8): OVERLOAD_RATE=1600 is about what SIPp offers on its core, and twice
# the server's share of its core takes a burner beside it
# (BURNER_RATE=1600).
#
# On a shared machine (issue 19's figures): the server measured second
# tends to do better, so alternate the order — run it once from this
# tree with BASELINE=main, once from a checkout of main (git worktree add
# --detach) with BASELINE set to this tree's commit — and repeat; with
# SERVER_RT=1 the servers and burners run SCHED_RR on their core, and
# `chrt -r 5 bench/overload/run.sh` also keeps SIPp's core from the
# machine's other load (SIPp starved of its core retransmits late and
# reads every server as slow). Another bench running at the same time
# pins its server to the same core: this one waits for it (bench/lock.sh)
# and holds the lock across both of its bench-sip runs.
set -eo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lock.sh
. "$HERE/../lock.sh"
bench_lock bench-overload
CLEAN_RATE=${CLEAN_RATE:-400}
OVERLOAD_RATE=${OVERLOAD_RATE:-800}
BURNER_RATE=${BURNER_RATE:-$CLEAN_RATE}
export BASELINE=${BASELINE-main}
export SERVERS=${SERVERS:-switchboard}
export MEMORY=0 ACCOUNTS=${ACCOUNTS:-200} REG_RATE=${REG_RATE:-1000}
export BASE_PORT=${BASE_PORT:-27000}
export CALL_RATES=$CLEAN_RATE OVERLOAD_RATE

# quiet drops the generated site's lint warnings (a user without a name,
# one per user: the benchmark's users have none) from the output.
quiet() { awk '/^Warning: Missing name/ { skip = 1; next } skip && /Add first_name/ { skip = 0; next } !skip && NF'; }

echo "== (i) clean $CLEAN_RATE/s, (ii) $OVERLOAD_RATE/s offered, (iii) $BURNER_RATE/s with 1 burner"
echo "load average: $(cat /proc/loadavg)"
CONTENTION_RATE=$BURNER_RATE BURNERS=1 "$HERE/../sip/run.sh" 2>&1 | quiet
echo "== (iv) $OVERLOAD_RATE/s with 3 burners (rows (b) and (c) repeat (i) and (ii))"
echo "load average: $(cat /proc/loadavg)"
CONTENTION_RATE=$OVERLOAD_RATE BURNERS=3 "$HERE/../sip/run.sh" 2>&1 | quiet
echo "load average: $(cat /proc/loadavg)"
