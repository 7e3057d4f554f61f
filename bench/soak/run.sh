#!/usr/bin/env bash
# bench/soak/run.sh — the soak of `make soak`: `switchboard serve` carries
# door calls from SIPp at half the clean maximum rate for SOAK_DURATION while
# bench/soak/noise sends it malformed SIP, junk RTP and half-open TCP
# connections; the server's memory and file descriptors are sampled from
# /proc throughout. See bench/soak/README.md.
#
# Knobs (environment): SOAK_DURATION, CALL_RATE, HOLD_MS, SAMPLE, WARMUP, MAX_FAILED_PCT,
# MAX_GROWTH, RISING, NOISE_SIP_RATE, NOISE_RTP_RATE, NOISE_HALF_OPEN, SERVER_CPU,
# LOAD_CPU, BASE_PORT, WORK, KEEP, GO.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIPDIR=$ROOT/bench/sip # the SIPp scenarios of the benchmark
GO=${GO:-go}
SOAK_DURATION=${SOAK_DURATION:-30m}  # how long calls are offered (s, m or h suffix)
CALL_RATE=${CALL_RATE:-100}          # door calls offered per second: half of ~200/s, bench/sip's sustained clean rate here (README)
HOLD_MS=${HOLD_MS:-300}              # how long the door holds each answered call
SAMPLE=${SAMPLE:-10}                 # seconds between samples of the server
WARMUP=${WARMUP:-30}                 # seconds of samples left out of the growth check (calls ramping up)
MAX_FAILED_PCT=${MAX_FAILED_PCT:-0.1} # fail when more calls than this per cent failed
MAX_GROWTH=${MAX_GROWTH:-1.5}        # fail when last-quarter mean PSS or fds > MAX_GROWTH × first-quarter mean
RISING=${RISING:-0.02}               # ... and the last quarter's second half is above its first half by this fraction
NOISE_SIP_RATE=${NOISE_SIP_RATE:-50} # malformed SIP datagrams per second
NOISE_RTP_RATE=${NOISE_RTP_RATE:-200} # junk RTP datagrams per second
NOISE_HALF_OPEN=${NOISE_HALF_OPEN:-50} # half-open TCP connections held
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BASE_PORT=${BASE_PORT:-26000}        # UDP/TCP ports BASE_PORT..BASE_PORT+199
KEEP=${KEEP:-0}
SITE_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f # not a secret: a test site
DOMAIN=bench.example
PCAP=/usr/share/sip-tester/dtmf_2833_pound.pcap

SB_PORT=$BASE_PORT
DOOR_PORT=$((BASE_PORT + 11))
EP_PORT=$((BASE_PORT + 20))          # +1, +2, +3
MEDIA_PORT=$((BASE_PORT + 100))      # SIPp media: +10, +20, +30, +40

say() { printf '%s\n' "soak: $*" >&2; }
die() { say "$*"; exit 1; }

seconds() {
	case $1 in
	*h) echo $(( ${1%h} * 3600 )) ;;
	*m) echo $(( ${1%m} * 60 )) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}
DURATION=$(seconds "$SOAK_DURATION")
[ "$DURATION" -ge $((WARMUP + 4 * SAMPLE)) ] || die "SOAK_DURATION=$SOAK_DURATION is shorter than the warm-up ($WARMUP s) and four samples of $SAMPLE s"

command -v "$GO" >/dev/null || die "no go command (set GO=...)"
command -v sipp >/dev/null || die "sipp is not installed: apt-get install -y sip-tester"
command -v taskset >/dev/null || die "taskset is not installed: apt-get install -y util-linux"
[ "$(nproc)" -ge 2 ] || die "needs two CPUs: the server on one, the load on the other"
DTMF=1
if [ "$(id -u)" != 0 ] || [ ! -r "$PCAP" ]; then
	say "WARNING: not root or no $PCAP: the answering endpoint sends NO DTMF"
	DTMF=0
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
# One bench at a time on the machine: another pins its server to the same
# core (bench/lock.sh).
# shellcheck source=SCRIPTDIR/../lock.sh
. "$ROOT/bench/lock.sh"
bench_lock soak
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/switchboard-soak.XXXXXX")}
mkdir -p "$WORK"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "$KEEP" = 1 ]; then say "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
bench_traps cleanup

VERSION=$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo '?')
say "building switchboard $VERSION and the noise generator"
(cd "$ROOT" && "$GO" build -o "$WORK/switchboard" ./cmd/switchboard && "$GO" build -o "$WORK/noise" ./bench/soak/noise)
SB=$WORK/switchboard

# The benchmark's site without its thousands of users: one door station
# whose button rings residence R1 (three app accounts at once).
mkdir -p "$WORK/site"
sed -e "s/@NAME@/soak/g" -e "s/@DOMAIN@/$DOMAIN/g" "$ROOT/bench/door-site.pbx.hcl" >"$WORK/site/site.pbx.hcl"
export SWITCHBOARD_SITE_KEY=$SITE_KEY
"$SB" build -o "$WORK/build" "$WORK/site" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; die "build failed"; }
"$SB" credentials -json "$WORK/site" >"$WORK/credentials.json"
awk -F'"' '/"name":/ { n = $4 } /"password":/ { if (n ~ /^(app|device)\./) print n ";" $4 }' \
	"$WORK/credentials.json" >"$WORK/accounts.txt"
inject() { awk -F';' -v d="$DOMAIN" '{ print $1 ";[authentication username=" $1 " password=" $2 "];" d }'; }
for i in 1 2 3; do
	{ echo SEQUENTIAL; grep "^app\.ep$i;" "$WORK/accounts.txt" | inject; } >"$WORK/ep$i.csv"
done
DOOR_PASSWORD=$(awk -F';' '$1 == "device.door" { print $2 }' "$WORK/accounts.txt")
[ -n "$DOOR_PASSWORD" ] || die "credentials -json listed no password for device.door"

wait_bound() { # PORT: until something listens on UDP PORT
	local hex i
	hex=$(printf ':%04X ' "$1")
	for i in $(seq 1 200); do
		grep -q "$hex" /proc/net/udp && return 0
		sleep 0.05
	done
	die "nothing listens on UDP port $1"
}

say "serve on 127.0.0.1:$SB_PORT (UDP and TCP), pinned to CPU $SERVER_CPU"
(exec taskset -c "$SERVER_CPU" "$SB" serve -listen "127.0.0.1:$SB_PORT" -tcp "127.0.0.1:$SB_PORT" -http "" \
	-digest md5 "$WORK/build" 2>"$WORK/switchboard.log") &
SB_PID=$!
PIDS+=("$SB_PID")
for i in $(seq 1 600); do
	grep -q 'switchboard serve: ready' "$WORK/switchboard.log" && break
	kill -0 "$SB_PID" 2>/dev/null || { cat "$WORK/switchboard.log" >&2; die "serve exited"; }
	sleep 0.1
done
grep -q 'switchboard serve: ready' "$WORK/switchboard.log" || die "serve not ready after 60s"

# The three endpoints of R1 register, then answer (ep1, with "#" as RFC
# 2833) or ring until cancelled (ep2, ep3), as bench/sip's do.
for i in 1 2 3; do
	mkdir -p "$WORK/ep$i-register"
	(cd "$WORK/ep$i-register" && timeout 30 sipp "127.0.0.1:$SB_PORT" -sf "$SIPDIR/register.xml" -inf "$WORK/ep$i.csv" -m 1 \
		-i 127.0.0.1 -nostdin -p $((EP_PORT + i)) -mp $((MEDIA_PORT + 10 * i)) -timeout 20s >screen.txt 2>&1) ||
		die "app.ep$i did not register (see $WORK/ep$i-register; KEEP=1 keeps it)"
done
scen=$SIPDIR/endpoint_answer.xml
if [ "$DTMF" = 0 ]; then
	sed '/<nop>/,/<\/nop>/d' "$scen" >"$WORK/endpoint_answer_nodtmf.xml"
	scen=$WORK/endpoint_answer_nodtmf.xml
fi
for i in 1 2 3; do
	[ "$i" = 1 ] || scen=$SIPDIR/endpoint_ring.xml
	mkdir -p "$WORK/ep$i"
	(cd "$WORK/ep$i" && exec taskset -c "$LOAD_CPU" sipp "127.0.0.1:$SB_PORT" -sf "$scen" -i 127.0.0.1 -nostdin \
		-p $((EP_PORT + i)) -mp $((MEDIA_PORT + 10 * i)) >screen.txt 2>&1) &
	PIDS+=("$!")
done
for i in 1 2 3; do wait_bound $((EP_PORT + i)); done

say "noise: $NOISE_SIP_RATE malformed SIP/s, $NOISE_RTP_RATE junk RTP/s, $NOISE_HALF_OPEN half-open TCP connections"
(exec taskset -c "$LOAD_CPU" "$WORK/noise" -sip "127.0.0.1:$SB_PORT" -tcp "127.0.0.1:$SB_PORT" -pid "$SB_PID" \
	-sip-rate "$NOISE_SIP_RATE" -rtp-rate "$NOISE_RTP_RATE" -half-open "$NOISE_HALF_OPEN" \
	-duration "${DURATION}s" >"$WORK/noise.txt" 2>&1) &
NOISE_PID=$!
PIDS+=("$NOISE_PID")

CALLS=$((CALL_RATE * DURATION))
say "$CALLS door calls at $CALL_RATE/s for $SOAK_DURATION (fork to 3, one answers, 2 cancelled, DTMF, BYE after ${HOLD_MS}ms)"
mkdir -p "$WORK/door"
(cd "$WORK/door" && exec timeout -s KILL $((DURATION + 60)) taskset -c "$LOAD_CPU" sipp "127.0.0.1:$SB_PORT" \
	-sf "$SIPDIR/door.xml" -s R1 -au device.door -ap "$DOOR_PASSWORD" -auth_uri "R1@127.0.0.1:$SB_PORT" \
	-d "$HOLD_MS" -r "$CALL_RATE" -m "$CALLS" -l 5000 -i 127.0.0.1 -nostdin -timeout "$((DURATION + 40))s" \
	-p "$DOOR_PORT" -mp $((MEDIA_PORT + 40)) -default_behaviors all,-abortunexp \
	-trace_stat -stf stat.csv -fd "$SAMPLE" -trace_err -error_file errors.log >screen.txt 2>&1) &
DOOR_PID=$!
PIDS+=("$DOOR_PID")

# stat COLUMN: the last value of a column of SIPp's statistics.
stat() {
	[ -s "$WORK/door/stat.csv" ] || { echo 0; return; }
	awk -F';' -v col="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next } { v = $c } END { print v + 0 }' "$WORK/door/stat.csv"
}
sample() { # the server's RSS and PSS (KiB), file descriptors and threads
	local rss pss fds thr
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SB_PID/status")
	pss=$(awk '/^Pss:/ { print $2 }' "/proc/$SB_PID/smaps_rollup")
	fds=$(find "/proc/$SB_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
	thr=$(awk '/^Threads:/ { print $2 }' "/proc/$SB_PID/status")
	echo "$rss $pss $fds $thr"
}

SAMPLES=$WORK/samples.txt
: >"$SAMPLES"
printf '%8s %10s %10s %7s %8s %10s %8s\n' elapsed_s rss_kib pss_kib fds threads calls_ok failed
START=$(date +%s)
while kill -0 "$DOOR_PID" 2>/dev/null; do
	kill -0 "$SB_PID" 2>/dev/null || die "serve exited during the soak: $(tail -5 "$WORK/switchboard.log")"
	now=$(($(date +%s) - START))
	[ "$now" -le "$DURATION" ] || break # the last calls finishing, not the soak
	read -r rss pss fds thr < <(sample)
	ok=$(stat 'SuccessfulCall(C)') failed=$(stat 'FailedCall(C)')
	echo "$now $rss $pss $fds $thr $ok $failed" >>"$SAMPLES"
	printf '%8s %10s %10s %7s %8s %10s %8s\n' "$now" "$rss" "$pss" "$fds" "$thr" "$ok" "$failed"
	sleep "$SAMPLE" & wait $! # the sampling period, not a handshake
done
wait "$DOOR_PID" 2>/dev/null || true
kill -0 "$SB_PID" 2>/dev/null || die "serve exited during the soak: $(tail -5 "$WORK/switchboard.log")"
wait "$NOISE_PID" 2>/dev/null || true

OK=$(stat 'SuccessfulCall(C)')
FAILED=$((CALLS - OK)) # calls never finished count too
read -r rss pss fds thr < <(sample)
echo
echo "soak: switchboard $VERSION, $SOAK_DURATION at $CALL_RATE calls/s offered, $(nproc) CPUs, DTMF $([ "$DTMF" = 1 ] && echo on || echo OFF)"
echo "load average at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine slows the server)"
echo "calls: $CALLS offered, $OK completed, $FAILED failed ($(awk -v f="$FAILED" -v n="$CALLS" 'BEGIN { printf "%.3f", n ? 100 * f / n : 0 }') %), $(stat 'Retransmissions(C)') retransmissions"
cat "$WORK/noise.txt"
echo "server at the end: RSS $rss KiB, PSS $pss KiB, $fds fds, $thr threads; log $(wc -c <"$WORK/switchboard.log") bytes"
# Quarter means of PSS and fds over the samples after the warm-up. Growth
# is a last quarter above MAX_GROWTH times the first that is still rising:
# its second half above its first by more than RISING. A step up that then
# holds level (a burst, the collector's heap target) is reported, not
# failed.
verdict=$(awk -v g="$MAX_GROWTH" -v w="$WARMUP" -v r="$RISING" '$1 >= w { n++; pss[n] = $3; fd[n] = $4 } END {
	q = int(n / 4); if (q < 2) { print "too few samples"; exit }
	for (i = 1; i <= q; i++) { p1 += pss[i]; f1 += fd[i] }
	h = int(q / 2)
	for (i = n - q + 1; i <= n; i++) {
		p4 += pss[i]; f4 += fd[i]
		if (i <= n - q + h) { pa += pss[i]; fa += fd[i] } else { pb += pss[i]; fb += fd[i] }
	}
	p1 /= q; p4 /= q; f1 /= q; f4 /= q; pa /= h; fa /= h; pb /= q - h; fb /= q - h
	printf "PSS first quarter %.0f KiB, last %.0f KiB (%.2fx, within it %.0f then %.0f); fds first quarter %.0f, last %.0f (%.2fx, within it %.0f then %.0f)", p1, p4, p4 / p1, pa, pb, f1, f4, f4 / f1, fa, fb
	if (p4 > g * p1 && pb > (1 + r) * pa) printf "; MEMORY GREW"
	else if (p4 > g * p1) printf "; memory stepped up, then held level"
	if (f4 > g * f1 && fb > (1 + r) * fa) printf "; FDS GREW"
	else if (f4 > g * f1) printf "; fds stepped up, then held level"
	print "" }' "$SAMPLES")
echo "$verdict"
status=0
if awk -v f="$FAILED" -v n="$CALLS" -v m="$MAX_FAILED_PCT" 'BEGIN { exit !(100 * f > m * n) }'; then
	echo "FAIL: more than $MAX_FAILED_PCT % of the calls failed"
	status=1
fi
case $verdict in *GREW* | "too few"*)
	echo "FAIL: $verdict (limit ${MAX_GROWTH}x)"
	status=1
	;;
esac
[ "$status" = 0 ] && echo "PASS"
[ "$KEEP" = 1 ] || echo "(set KEEP=1 to keep $WORK)"
exit "$status"
