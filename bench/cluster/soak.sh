#!/usr/bin/env bash
# bench/cluster/soak.sh — `make soak-cluster`: three `switchboard serve`
# nodes on 127.0.0.1-3 forming one cluster carry door calls from SIPp for
# SOAK_DURATION while devices keep registering on every node. The door
# calls node 3; residence R1's three apps are registered one per node —
# ep1 (answers, "#" as RFC 2833) on node 2, ep2 (rings) on node 1, ep3
# (rings) on node 3 — so each call forks through both other nodes
# (calls between nodes, README) and is answered through node 2. Every
# SAMPLE seconds it prints each node's RSS and the calls so far; at the
# end, the failed calls and a summary. See bench/cluster/README.md.
#
# Knobs (environment): SOAK_RATE, SOAK_DURATION, HOLD_MS, REG_RATE, USERS,
# SAMPLE, MAX_FAILED_PCT, BASE_PORT, WORK, KEEP, GO.
set -euo pipefail
NAME=soak-cluster
SOAK_DURATION=${SOAK_DURATION:-30m} # how long calls are offered (s, m or h suffix)
SOAK_RATE=${SOAK_RATE:-200}         # door calls per second: half of bench/sip's ~400/s clean on one node (note 6)
HOLD_MS=${HOLD_MS:-300}             # how long the door holds each answered call
REG_RATE=${REG_RATE:-5}             # REGISTERs with digest per second on each node, cycling through USERS accounts
USERS=${USERS:-300}                 # app accounts that keep registering
SAMPLE=${SAMPLE:-60}                # seconds between the samples printed
MAX_FAILED_PCT=${MAX_FAILED_PCT:-0.1} # fail when more calls than this per cent failed
BASE_PORT=${BASE_PORT:-27000}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=$(seconds "$SOAK_DURATION")
SIP_PORT=$BASE_PORT ROUTE_PORT=$((BASE_PORT + 1))
DOOR_PORT=$((BASE_PORT + 11)) EP_PORT=$((BASE_PORT + 20)) REG_PORT=$((BASE_PORT + 30))
MEDIA_PORT=$((BASE_PORT + 100)) # SIPp media: +10, +20, +30 (apps), +40 (door), +50.. (registrations)
PCAP=/usr/share/sip-tester/dtmf_2833_pound.pcap

build_site "$USERS"
start_nodes 3 "$SIP_PORT" "$ROUTE_PORT"

# R1's apps register, one on each node, then answer or ring.
EP_NODE=(0 2 1 3) # ep1 on node 2, ep2 on node 1, ep3 on node 3
for i in 1 2 3; do
	mkdir -p "$WORK/ep$i-register"
	(cd "$WORK/ep$i-register" && timeout 60 sipp "127.0.0.${EP_NODE[i]}:$SIP_PORT" -sf "$SIPDIR/register.xml" -inf "$WORK/ep$i.csv" -m 1 \
		-i 127.0.0.1 -nostdin -p $((EP_PORT + i)) -mp $((MEDIA_PORT + 10 * i)) -timeout 50s >screen.txt 2>&1) ||
		die "app.ep$i did not register on node ${EP_NODE[i]} (see $WORK/ep$i-register; KEEP=1 keeps it)"
done
scen=$SIPDIR/endpoint_answer.xml
if [ "$(id -u)" != 0 ] || [ ! -r "$PCAP" ]; then
	say "WARNING: not root or no $PCAP: the answering app sends NO DTMF"
	sed '/<nop>/,/<\/nop>/d' "$scen" >"$WORK/endpoint_answer_nodtmf.xml"
	scen=$WORK/endpoint_answer_nodtmf.xml
fi
for i in 1 2 3; do
	[ "$i" = 1 ] || scen=$SIPDIR/endpoint_ring.xml
	mkdir -p "$WORK/ep$i"
	(cd "$WORK/ep$i" && exec sipp "127.0.0.${EP_NODE[i]}:$SIP_PORT" -sf "$scen" -i 127.0.0.1 -nostdin \
		-p $((EP_PORT + i)) -mp $((MEDIA_PORT + 10 * i)) >screen.txt 2>&1) &
	PIDS+=("$!")
done
for i in 1 2 3; do wait_bound 127.0.0.1 $((EP_PORT + i)); done

# Devices registering throughout: REG_RATE/s on each node.
REGS=$((REG_RATE * DURATION))
for i in 1 2 3; do
	mkdir -p "$WORK/register$i"
	(cd "$WORK/register$i" && exec timeout -s KILL $((DURATION + 60)) sipp "127.0.0.$i:$SIP_PORT" -sf "$SIPDIR/register.xml" \
		-inf "$WORK/users.csv" -r "$REG_RATE" -m "$REGS" -l 1000 -i 127.0.0.1 -nostdin -p $((REG_PORT + i)) \
		-mp $((MEDIA_PORT + 40 + 10 * i)) -trace_stat -stf stat.csv -fd 5 >screen.txt 2>&1) &
	PIDS+=("$!")
done

CALLS=$((SOAK_RATE * DURATION))
say "$CALLS door calls on node 3 at $SOAK_RATE/s for $SOAK_DURATION (fork to 3 apps on 3 nodes, one answers, BYE after ${HOLD_MS}ms); $REG_RATE REGISTERs/s on each node"
mkdir -p "$WORK/door"
(cd "$WORK/door" && exec timeout -s KILL $((DURATION + 60)) sipp "127.0.0.3:$SIP_PORT" \
	-sf "$SIPDIR/door.xml" -s R1 -au device.door -ap "$DOOR_PASSWORD" -auth_uri "R1@127.0.0.3:$SIP_PORT" \
	-d "$HOLD_MS" -r "$SOAK_RATE" -m "$CALLS" -l 5000 -i 127.0.0.1 -nostdin -timeout "$((DURATION + 40))s" \
	-p "$DOOR_PORT" -mp $((MEDIA_PORT + 40)) -default_behaviors all,-abortunexp \
	-trace_stat -stf stat.csv -fd 5 -trace_err -error_file errors.log >screen.txt 2>&1) &
DOOR_PID=$!
PIDS+=("$DOOR_PID")

SAMPLES=$WORK/samples.txt
: >"$SAMPLES"
printf '%8s %12s %12s %12s %10s %8s %8s\n' elapsed_s node1_rss_kib node2_rss_kib node3_rss_kib calls_ok failed regs_ok
START=$(date +%s)
sample_line() {
	local now=$1 i r=() regs=0
	for i in 1 2 3; do
		kill -0 "${NODE_PID[i]}" 2>/dev/null || die "node $i exited during the soak: $(tail -5 "$WORK/node$i/serve.log")"
		r+=("$(rss "$i")")
		regs=$((regs + $(stat "$WORK/register$i" 'SuccessfulCall(C)')))
	done
	echo "$now ${r[*]} $(stat "$WORK/door" 'SuccessfulCall(C)') $(stat "$WORK/door" 'FailedCall(C)') $regs" >>"$SAMPLES"
	printf '%8s %12s %12s %12s %10s %8s %8s\n' "$now" "${r[@]}" "$(stat "$WORK/door" 'SuccessfulCall(C)')" "$(stat "$WORK/door" 'FailedCall(C)')" "$regs"
}
sample_line 0
next=$SAMPLE
while kill -0 "$DOOR_PID" 2>/dev/null; do
	now=$(($(date +%s) - START))
	[ "$now" -le "$DURATION" ] || break # the last calls finishing, not the soak
	if [ "$now" -ge "$next" ]; then
		sample_line "$now"
		next=$((next + SAMPLE))
	fi
	sleep 1 & wait $! # the sampling clock, not a handshake
done
wait "$DOOR_PID" 2>/dev/null || true
sample_line "$(($(date +%s) - START))"

OK=$(stat "$WORK/door" 'SuccessfulCall(C)')
FAILED=$((CALLS - OK)) # calls never finished count too
REG_OK=0 REG_FAILED=0
for i in 1 2 3; do
	REG_OK=$((REG_OK + $(stat "$WORK/register$i" 'SuccessfulCall(C)')))
	REG_FAILED=$((REG_FAILED + $(stat "$WORK/register$i" 'FailedCall(C)')))
done
echo
echo "soak-cluster: switchboard $VERSION, 3 nodes on 127.0.0.1-3, $SOAK_DURATION at $SOAK_RATE door calls/s offered on node 3, $(nproc) CPUs"
echo "load average at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine slows the nodes)"
echo "calls: $CALLS offered, $OK completed, $FAILED failed ($(awk -v f="$FAILED" -v n="$CALLS" 'BEGIN { printf "%.3f", n ? 100 * f / n : 0 }') %), $(stat "$WORK/door" 'Retransmissions(C)') retransmissions"
echo "registrations: $REG_OK completed, $REG_FAILED failed (of $((3 * REGS)) offered)"
if [ -s "$WORK/door/errors.log" ]; then
	echo "first SIPp errors (door):"
	grep -v '^$' "$WORK/door/errors.log" | head -5
fi
awk 'NR == 1 { for (i = 2; i <= 4; i++) first[i] = $i } { for (i = 2; i <= 4; i++) { last[i] = $i; if ($i > max[i]) max[i] = $i } }
	END { for (i = 2; i <= 4; i++) printf "node %d RSS: first %d KiB, last %d KiB, peak %d KiB\n", i - 1, first[i], last[i], max[i] }' "$SAMPLES"
status=0
if awk -v f="$FAILED" -v n="$CALLS" -v m="$MAX_FAILED_PCT" 'BEGIN { exit !(100 * f > m * n) }'; then
	echo "FAIL: more than $MAX_FAILED_PCT % of the calls failed"
	status=1
fi
[ "$REG_FAILED" = 0 ] || { echo "FAIL: $REG_FAILED registrations failed"; status=1; }
[ "$status" = 0 ] && echo "PASS"
[ "${KEEP:-0}" = 1 ] || echo "(set KEEP=1 to keep $WORK)"
exit "$status"
