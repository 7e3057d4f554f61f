#!/usr/bin/env bash
# bench/cluster/register.sh — registration throughput of one node and of
# a cluster of three (issue 20, point 5): SIPp REGISTERs with digest (bench/sip's
# register.xml: REGISTER, 401, REGISTER with credentials, 200), ACCOUNTS
# distinct accounts at each offered rate of RATES, spread evenly over the
# nodes (with three, every node registers a third and follows the other
# two's bindings through the shared store). For each: achieved
# registrations/s within the offered window (bench/sip/README.md), those
# completed after it, failures, retransmissions and the CPU of all nodes per
# registration. Not in CI: figures on a shared machine are noisy; the load
# average is printed with them. See bench/cluster/README.md.
#
# Knobs (environment): RATES, ACCOUNTS, NODES, SETTLE, GRACE_MS, BASE_PORT,
# WORK, KEEP, GO, BENCH_LOCK, BENCH_LOCK_WAIT.
set -euo pipefail
NAME=register-cluster
RATES=${RATES:-100 200 400} # registrations per second offered, in all, one run each
ACCOUNTS=${ACCOUNTS:-2000}  # distinct accounts registered in each run
NODES=${NODES:-1 3}         # the cluster sizes compared
SETTLE=${SETTLE:-3}          # seconds after the last answer before the nodes' CPU is read
GRACE_MS=${GRACE_MS:-1000}   # the achieved rate counts what completes by the offered duration + this
BASE_PORT=${BASE_PORT:-28000}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIP_PORT=$BASE_PORT ROUTE_PORT=$((BASE_PORT + 1)) REG_PORT=$((BASE_PORT + 10)) MEDIA_PORT=$((BASE_PORT + 100))
set -f
rates=($RATES)
set +f
build_site $((ACCOUNTS * ${#rates[@]}))

RESULTS=$WORK/results.txt
: >"$RESULTS"
for n in $NODES; do
	start_nodes "$n" "$SIP_PORT" "$ROUTE_PORT"
	for k in "${!rates[@]}"; do
		rate=${rates[k]}
		# Node j registers the run's accounts whose index is j modulo n,
		# at rate/n per second (-r rate per n seconds).
		for j in $(seq 1 "$n"); do
			mkdir -p "$WORK/n$n-r$rate-node$j"
			awk -v lo=$((k * ACCOUNTS)) -v hi=$(((k + 1) * ACCOUNTS)) -v n="$n" -v j="$j" \
				'NR == 1 { print; next } { i = NR - 2 } i >= lo && i < hi && i % n == j - 1' "$WORK/users.csv" >"$WORK/n$n-r$rate-node$j/users.csv"
		done
		say "$n node(s): $ACCOUNTS REGISTERs with digest at $rate/s"
		t0=$(ticks)
		spids=()
		for j in $(seq 1 "$n"); do
			d=$WORK/n$n-r$rate-node$j
			m=$(($(wc -l <"$d/users.csv") - 1))
			(cd "$d" && exec timeout -s KILL $((ACCOUNTS / rate + 60)) sipp "127.0.0.$j:$SIP_PORT" -sf "$SIPDIR/register.xml" \
				-inf users.csv -r "$rate" -rp $((n * 1000)) -m "$m" -l 5000 -i 127.0.0.1 -nostdin \
				-p $((REG_PORT + j)) -mp $((MEDIA_PORT + 10 * j)) -timeout $((ACCOUNTS / rate + 50))s \
				-trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 1 >screen.txt 2>&1) &
			spids+=("$!")
		done
		for p in "${spids[@]}"; do wait "$p" || true; done
		# The nodes' work does not end with the last 200: the others
		# still apply the shared bucket's last bindings. Their CPU is read
		# SETTLE seconds later (idle, three nodes use ~0.007 CPU-s/s).
		sleep "$SETTLE" & wait $!
		t1=$(ticks)
		ok=0 failed=0 retrans=0
		for j in $(seq 1 "$n"); do
			d=$WORK/n$n-r$rate-node$j
			ok=$((ok + $(stat "$d" 'SuccessfulCall(C)')))
			retrans=$((retrans + $(stat "$d" 'Retransmissions(C)')))
		done
		failed=$((ACCOUNTS - ok)) # never finished counts too
		# Completed within the window: by the offered duration + GRACE_MS
		# (the date of each REGISTER's 200, ms from its SIPp's start), per
		# offered second; later ones are "late", not in the rate.
		offered_ms=$((ACCOUNTS * 1000 / rate))
		cat "$WORK"/n$n-r$rate-node*/*_rtt.csv 2>/dev/null | awk -F';' -v w=$((offered_ms + GRACE_MS)) \
			'$3 == 1 && $1 ~ /^[0-9.]+$/ { if ($1 <= w) in_window++; else late++ } END { print in_window + 0, late + 0 }' >"$WORK/window"
		read -r in_window late <"$WORK/window"
		awk -v n="$n" -v r="$rate" -v iw="$in_window" -v o="$offered_ms" -v late="$late" -v ok="$ok" -v f="$failed" -v re="$retrans" -v t="$((t1 - t0))" -v hz="$HZ" \
			-v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
			printf "%5d %8d %9.0f %6d %7d %7d %8d %10.0f %6s\n", n, r, (o > 0 ? iw * 1000 / o : 0), late, ok, f, re, ok ? t * 1e6 / hz / ok : 0, load }' >>"$RESULTS"
		tail -1 "$RESULTS" >&2
	done
	stop_nodes
done

echo
echo "register-cluster: switchboard $VERSION, $ACCOUNTS distinct accounts per run, REGISTER + 401 + REGISTER with digest (md5) + 200, $(nproc) CPUs"
echo "achieved/s: registrations completed within the window (the offered $ACCOUNTS / rate seconds + ${GRACE_MS} ms) per offered second; late: completed after it; cpu µs/reg: user+system CPU of ALL nodes per registration, from SIPp's start to ${SETTLE}s after the last answer; load: 1-min load average after the run"
echo "load average at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%5s %8s %9s %6s %7s %7s %8s %10s %6s\n' nodes offered achieved late ok failed retrans cpu_us/reg load
cat "$RESULTS"
[ "${KEEP:-0}" = 1 ] || echo "(set KEEP=1 to keep $WORK)"
