#!/usr/bin/env bash
# bench/sip/run.sh — the SIP benchmark of `make bench-sip`: switchboard
# `serve`, Kamailio with rtpengine relaying the media (the like-for-like
# anchor) and Kamailio alone (a proxy, for reference) under the same SIPp
# load, side by side, on loopback.
# See bench/sip/README.md for the method and how to read the output.
#
# Knobs (environment): ACCOUNTS, REG_RATE, CALL_RATES, CALL_CLIMB,
# CALL_MAX, LOAD_LIMIT, CALL_SECONDS, HOLD_MS, SETTLE, SERVER_CPU, LOAD_CPU, BASE_PORT, WORK, KEEP, GO,
# SERVERS, MEMORY, PROFILE, OVERLOAD, OVERLOAD_RATE, CONTENTION_RATE,
# BURNERS, BASELINE, SERVE_FLAGS, BASELINE_FLAGS, SERVE_ENV, BASELINE_ENV,
# BASELINE_FIRST, SERVER_RT, LOAD_RT, GRACE_MS, BENCH_LOCK, BENCH_LOCK_WAIT.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/sip
GO=${GO:-go}
ACCOUNTS=${ACCOUNTS:-30000}          # distinct accounts registered in workload (a)
REG_RATE=${REG_RATE:-5000}           # REGISTER transactions (with digest) offered per second
CALL_RATES=${CALL_RATES:-"100 200 300 400 500"} # door calls offered per second, one run each (a ladder)
CALL_CLIMB=${CALL_CLIMB:-200}        # then, while a server's highest run is clean, one more this much higher (0: no climb) ...
CALL_MAX=${CALL_MAX:-3000}           # ... up to this rate ...
LOAD_LIMIT=${LOAD_LIMIT:-90}         # ... while SIPp used less than this % of its core (beyond, SIPp is measured, not the server)
CALL_SECONDS=${CALL_SECONDS:-8}      # length of each call run
HOLD_MS=${HOLD_MS:-300}              # how long the door holds each answered call
SETTLE=${SETTLE:-10}                 # seconds for finished transactions to be forgotten
SERVER_CPU=${SERVER_CPU:-0}          # the core the server under test is pinned to
LOAD_CPU=${LOAD_CPU:-1}              # the core every SIPp is pinned to
BASE_PORT=${BASE_PORT:-25000}        # UDP ports BASE_PORT..BASE_PORT+4999 are used (rtpengine's from +1000)
KEEP=${KEEP:-0}                      # 1: keep the work directory
SERVERS=${SERVERS:-"kamailio kamailio-rtpengine switchboard"} # which servers to measure
MEMORY=${MEMORY:-1}                  # 0: skip the memory figures (and their waits for Go's collector)
PROFILE=${PROFILE:-}                 # host:port: CPU-profile each switchboard workload (SWITCHBOARD_PPROF)
OVERLOAD=${OVERLOAD:-1}              # 0: no overload and contention rows
OVERLOAD_RATE=${OVERLOAD_RATE:-}     # offered rate of the overload row (default: twice the server's clean maximum)
CONTENTION_RATE=${CONTENTION_RATE:-} # offered rate of the contention row (default: the server's clean maximum)
BURNERS=${BURNERS:-1}                # CPU-burning processes beside the server in the contention row
BASELINE=${BASELINE:-}               # a git ref: measure switchboard as built from it too, side by side ("before")
SERVE_FLAGS=${SERVE_FLAGS:-}         # more flags for the working tree's serve (e.g. -max-call-setups 0)
BASELINE_FLAGS=${BASELINE_FLAGS:-}   # more flags for BASELINE's serve
SERVE_ENV=${SERVE_ENV:-}             # NAME=VALUE words in the working tree's serve's environment (e.g. GOGC=50)
BASELINE_ENV=${BASELINE_ENV:-}       # ... and in BASELINE's
BASELINE_FIRST=${BASELINE_FIRST:-0}  # 1: measure BASELINE before the working tree (alternate runs to see the order's effect)
GRACE_MS=${GRACE_MS:-1000}           # the achieved rate counts what completes by the offered duration (+ HOLD_MS) + this
SERVER_RT=${SERVER_RT:-0}            # 1: servers (and burners) run SCHED_RR, above the machine's other load
LOAD_RT=${LOAD_RT:-0}                # 1: SIPp runs SCHED_RR too (a busy machine otherwise starves the load, not the server)
SITE_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f # not a secret: a benchmark site
DOMAIN=bench.example
PCAP=/usr/share/sip-tester/dtmf_2833_pound.pcap

SB_PORT=$BASE_PORT
KAM_PORT=$((BASE_PORT + 1))
BASE_SB_PORT=$((BASE_PORT + 2))
KAMRTP_PORT=$((BASE_PORT + 3))       # Kamailio of the anchor
RTPENGINE_NG=$((BASE_PORT + 4))      # rtpengine's control (ng, UDP) ...
RTPENGINE_CLI=$((BASE_PORT + 5))     # ... and its CLI (TCP: statistics)
RTP_MIN=$((BASE_PORT + 1000))        # rtpengine's media ports
RTP_MAX=$((BASE_PORT + 4999))
REG_PORT=$((BASE_PORT + 10))
DOOR_PORT=$((BASE_PORT + 11))
EP_PORT=$((BASE_PORT + 20))          # +1, +2, +3
MEDIA_PORT=$((BASE_PORT + 100))      # SIPp media: +0, +10, ..., +40

say() { printf '%s\n' "bench-sip: $*" >&2; }
die() { say "$*"; exit 1; }

# --- preflight ---------------------------------------------------------------

command -v "$GO" >/dev/null || die "no go command (set GO=...)"
command -v sipp >/dev/null || die "sipp is not installed: apt-get install -y sip-tester"
command -v taskset >/dev/null || die "taskset is not installed: apt-get install -y util-linux"
if ! command -v kamailio >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		say "installing kamailio (apt-get install -y kamailio)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y kamailio >/dev/null
	else
		die "kamailio is not installed: apt-get install -y kamailio (as root)"
	fi
fi
KAMAILIO=$(command -v kamailio)
# The anchor's media relay: Debian's rtpengine-daemon (userspace forwarding,
# no kernel module). Kamailio's rtpengine module is in the kamailio package.
case " $SERVERS " in *" kamailio-rtpengine "*)
	if ! command -v rtpengine >/dev/null; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
			say "installing rtpengine (apt-get install -y rtpengine-daemon)"
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rtpengine-daemon >/dev/null
		else
			die "rtpengine is not installed: apt-get install -y rtpengine-daemon (as root)"
		fi
	fi ;;
esac
[ "$(nproc)" -ge 2 ] || die "needs two CPUs: the server on one, SIPp on the other"
DTMF=1
if [ "$(id -u)" != 0 ] || [ ! -r "$PCAP" ]; then
	# SIPp plays pcaps through a raw socket.
	say "WARNING: not root or no $PCAP: the answering endpoint sends NO DTMF"
	DTMF=0
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
# How a server (and the contention row's burners) is started: pinned to
# the server's core; with SERVER_RT=1 also real-time round-robin, so that
# the machine's other processes (a shared machine) cannot take the core
# from it: on a busy machine the scheduler otherwise splits the core by
# runnable thread, which favours Kamailio's five processes over Go's one.
# The kernel still keeps 5 % of the core for everything else
# (kernel.sched_rt_runtime_us).
PIN=(taskset -c "$SERVER_CPU")
if [ "$SERVER_RT" = 1 ]; then
	chrt -r 10 true 2>/dev/null || die "SERVER_RT=1: cannot use real-time scheduling (chrt -r, as root)"
	PIN=(chrt -r 10 taskset -c "$SERVER_CPU")
fi
# How SIPp is started: pinned to the load core; with LOAD_RT=1 also
# real-time (a lower priority than the servers'; SIPp paces itself, so it
# never takes the whole core).
LOAD=(taskset -c "$LOAD_CPU")
if [ "$LOAD_RT" = 1 ]; then
	chrt -r 5 true 2>/dev/null || die "LOAD_RT=1: cannot use real-time scheduling (chrt -r, as root)"
	LOAD=(chrt -r 5 taskset -c "$LOAD_CPU")
fi

# One bench at a time on the machine: another one pins its server to the
# same core and both measure each other (bench/lock.sh).
# shellcheck source=SCRIPTDIR/../lock.sh
. "$ROOT/bench/lock.sh"
bench_lock bench-sip

WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/switchboard-bench-sip.XXXXXX")}
mkdir -p "$WORK"
PIDS=()
BURNER=()
cleanup() {
	# SIPp and its timeout, a process group of their own: SIPp finishes
	# its calls on SIGTERM, and the servers are going.
	[ -z "${SIPP:-}" ] || kill -KILL -- "-$SIPP" 2>/dev/null || kill -KILL "$SIPP" 2>/dev/null || true
	for p in "${BURNER[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "$KEEP" = 1 ]; then say "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
bench_traps cleanup
START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the switchboard binary and the benchmark site -------------------------------

say "building switchboard"
(cd "$ROOT" && "$GO" build -o "$WORK/switchboard" ./cmd/switchboard)
SB=$WORK/switchboard
if [ -n "$BASELINE" ]; then
	# The same server as of BASELINE, built from its tree, measured as
	# "baseline" beside the working tree's.
	say "building switchboard as of $BASELINE"
	mkdir -p "$WORK/baseline-src"
	git -C "$ROOT" archive "$BASELINE" | tar -x -C "$WORK/baseline-src"
	(cd "$WORK/baseline-src" && "$GO" build -o "$WORK/baseline" ./cmd/switchboard)
	case " $SERVERS " in *" switchboard "*) SERVERS="$SERVERS baseline" ;; esac
fi

# One door station whose button rings residence R1 (three app accounts,
# rung at once), and ACCOUNTS more users with an app account each (named:
# a warning for each nameless user made the build take minutes).
say "generating a site of $ACCOUNTS users"
mkdir -p "$WORK/site"
{
	sed -e "s/@NAME@/bench/g" -e "s/@DOMAIN@/$DOMAIN/g" "$ROOT/bench/door-site.pbx.hcl"
	awk -v n="$ACCOUNTS" -v d="$DOMAIN" 'BEGIN {
		for (i = 1; i <= n; i++)
			printf "user \"u%d\" {\n  first_name = \"User\"\n  last_name  = \"U%d\"\n  email      = \"u%d@%s\"\n  extension  = %d\n  app        = true\n}\n", i, i, i, d, 2000000 + i
	}'
} >"$WORK/site/site.pbx.hcl"
export SWITCHBOARD_SITE_KEY=$SITE_KEY
"$SB" build -o "$WORK/build" "$WORK/site" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; die "build failed"; }
"$SB" credentials -json "$WORK/site" >"$WORK/credentials.json"

# name;password for every SIP account, from the indented JSON list.
awk -F'"' '/"name":/ { n = $4 } /"password":/ { if (n ~ /^(app|device)\./) print n ";" $4 }' \
	"$WORK/credentials.json" >"$WORK/accounts.txt"
[ "$(grep -c '^app\.u' "$WORK/accounts.txt")" = "$ACCOUNTS" ] || die "credentials -json did not list $ACCOUNTS user accounts"
# SIPp injection files: user;[authentication ...];domain (a SIPp keyword
# cannot hold another, but an injected field can hold one).
inject() { awk -F';' -v d="$DOMAIN" '{ print $1 ";[authentication username=" $1 " password=" $2 "];" d }'; }
{ echo SEQUENTIAL; grep '^app\.u' "$WORK/accounts.txt" | inject; } >"$WORK/users.csv"
for i in 1 2 3; do
	{ echo SEQUENTIAL; grep "^app\.ep$i;" "$WORK/accounts.txt" | inject; } >"$WORK/ep$i.csv"
done
DOOR_PASSWORD=$(awk -F';' '$1 == "device.door" { print $2 }' "$WORK/accounts.txt")
# Kamailio reads the same passwords from a db_text table for htable.
mkdir -p "$WORK/kamailio/db"
{
	echo "key_name(str) key_type(int) value_type(int) key_value(str) expires(int)"
	awk -F';' '{ print $1 ":0:0:" $2 ":0" }' "$WORK/accounts.txt"
} >"$WORK/kamailio/db/htable"
cp "$HERE/kamailio.cfg" "$WORK/kamailio/"

# --- measuring -----------------------------------------------------------------

# pids NAME: the server's processes (Kamailio's workers are children), and
# those of its media relay (the anchor's rtpengine, in NAME.pids).
pids() {
	local main
	main=$(cat "$WORK/$1.pid")
	echo "$main" $(pgrep -P "$main" || true) $(cat "$WORK/$1.pids" 2>/dev/null || true)
}
# ticks NAME: user+system CPU of the server, in clock ticks.
ticks() { local t=0 p; for p in $(pids "$1"); do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done; echo "$t"; }
# pss NAME: proportional set size of the server, in KiB.
pss() { local k=0 p; for p in $(pids "$1"); do k=$((k + $(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup"))); done; echo "$k"; }
# rss NAME: resident set size of the server, in KiB (shared pages counted
# in every process: Kamailio's shared memory once per worker).
rss() { local k=0 p; for p in $(pids "$1"); do k=$((k + $(awk '/^Rss:/ { print $2 }' "/proc/$p/smaps_rollup"))); done; echo "$k"; }
# sample_start NAME: sample the server's PSS and RSS every 50 ms until
# sample_stop, which prints the highest of each ("PSS RSS", KiB).
SAMPLER=
sample_start() {
	: >"$WORK/sampling"
	(pk=0 rk=0
	while [ -e "$WORK/sampling" ]; do
		p=$(pss "$1") r=$(rss "$1")
		[ "$p" -gt "$pk" ] && pk=$p
		[ "$r" -gt "$rk" ] && rk=$r
		echo "$pk $rk" >"$WORK/sampled"
		sleep 0.05
	done) &
	SAMPLER=$!
	PIDS+=("$SAMPLER")
	taskset -pc "$LOAD_CPU" "$SAMPLER" >/dev/null # not on the server's core
}
sample_stop() {
	rm -f "$WORK/sampling"
	wait "$SAMPLER" 2>/dev/null || true
	cat "$WORK/sampled"
}
HZ=$(getconf CLK_TCK)
# us_per TICKS OPS: CPU microseconds per operation.
us_per() { awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { printf "%.0f", n ? t * 1e6 / hz / n : 0 }'; }

# sipp_run NAME LIMIT ARGS...: run one SIPp on the load core, in its own
# directory, with statistics, for at most LIMIT seconds (calls not finished
# by then count as failed); its exit status is in $WORK/NAME/status.
# In the background, waited for: bash runs a Ctrl-C's trap only once a
# foreground command ends, and only if that died of it (SIPp catches
# SIGINT and finishes its calls), but interrupts the wait builtin at once;
# cleanup then ends SIPp and its timeout (SIPP).
SIPP=
sipp_run() {
	local name=$1 limit=$2 st=0
	shift 2
	mkdir -p "$WORK/$name"
	(cd "$WORK/$name" && exec timeout -s KILL $((limit + 15)) "${LOAD[@]}" sipp "$@" -i 127.0.0.1 -nostdin -timeout "${limit}s" \
		-trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 1 \
		-trace_err -error_file errors.log >screen.txt 2>&1) &
	SIPP=$!
	wait "$SIPP" || st=$?
	SIPP=
	echo "$st" >"$WORK/$name/status"
}
# stat NAME COLUMN: the last value of a column of SIPp's statistics.
stat() {
	awk -F';' -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next } { v = $c } END { print v + 0 }' "$WORK/$1/stat.csv"
}
# completions NAME RTD: when each operation completed, ms from SIPp's
# start (the date of its response time RTD: door.xml's 2 is the BYE's 200,
# the end of a call; register.xml's 1 the REGISTER's 200), one a line.
completions() {
	cat "$WORK/$1"/*_rtt.csv 2>/dev/null | awk -F';' -v r="$2" '$3 == r && $1 ~ /^[0-9.]+$/ { print $1 }'
}
# achieved NAME RTD OFFERED_MS TAIL_MS: the achieved rate within the
# offered window — operations completed by OFFERED_MS (how long SIPp
# offered them) + TAIL_MS (what one takes when served at once: the call's
# hold) + GRACE_MS, per second of OFFERED_MS. A clean run reads its
# offered rate; a straggler completed after the window (a message lost
# and retransmitted 30 s later) does not stretch the run's time and read
# as a collapse of the rate: it is counted by late.
achieved() {
	completions "$1" "$2" | awk -v o="$3" -v w=$(($3 + $4 + GRACE_MS)) '$1 <= w { n++ } END { printf "%.0f", (o > 0 ? n * 1000 / o : 0) }'
}
# late NAME RTD OFFERED_MS TAIL_MS: operations completed after that window.
late() {
	completions "$1" "$2" | awk -v w=$(($3 + $4 + GRACE_MS)) '$1 > w { n++ } END { print n + 0 }'
}
# slow NAME: calls whose 200 came more than a second after their first
# INVITE (SIPp's response time 1).
slow() {
	cat "$WORK/$1"/*_rtt.csv 2>/dev/null | awk -F';' '$3 == 1 && $2 ~ /^[0-9.]+$/ && $2 + 0 > 1000 { n++ } END { print n + 0 }'
}
# refused NAME: the door's calls the server refused with 503 (counted as
# failures), from SIPp's final screen: the two 503 receives of door.xml.
refused() { awk '/ 503 <-+ / { n += $3 } END { print n + 0 }' "$WORK/$1/screen.txt"; }
# rcvbuf_errors: datagrams the kernel dropped for a full receive buffer,
# on every UDP socket of the machine (SIPp's too; /proc/net/snmp).
rcvbuf_errors() { awk '/^Udp:/ { if (h) { print $6; exit } h = 1 }' /proc/net/snmp; }
# drops PORT: datagrams dropped on the UDP socket bound to 127.0.0.1:PORT
# (/proc/net/udp's drops column): the server's own share of the above.
drops() {
	awk -v p="$(printf '0100007F:%04X' "$1")" '$2 == p { d += $NF } END { print d + 0 }' /proc/net/udp
}

# p99 NAME: the 99th percentile of response time 1 (first request to its
# 200), ms (SIPp's resolution).
p99() {
	cat "$WORK/$1"/*_rtt.csv 2>/dev/null | awk -F';' '$3 == 1 && $2 ~ /^[0-9.]+$/ { print $2 }' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } i = int(NR * 0.99 + 0.999); if (i < 1) i = 1; print v[i] }'
}

# profile_start NAME RUN SECONDS: with PROFILE set, a CPU profile of the
# switchboard server for SECONDS, into $WORK/RUN.pprof, and what it
# allocated meanwhile (the allocs profile's difference over the same
# SECONDS), into $WORK/RUN-allocs.pprof; profile_wait waits for both.
PROF_PID=()
profile_start() {
	PROF_PID=()
	[ -n "$PROFILE" ] && { [ "$1" = switchboard ] || [ "$1" = baseline ]; } || return 0
	curl -s -o "$WORK/$2.pprof" "http://$PROFILE/debug/pprof/profile?seconds=$3" &
	PROF_PID+=($!)
	curl -s -o "$WORK/$2-allocs.pprof" "http://$PROFILE/debug/pprof/allocs?seconds=$3" &
	PROF_PID+=($!)
}
profile_wait() { local p; for p in "${PROF_PID[@]}"; do wait "$p" || true; done; }

# Results, one line each: server workload key value.
RESULTS=$WORK/results.txt
: >"$RESULTS"
record() { echo "$1 $2 $3 $4" >>"$RESULTS"; }
# get SERVER WORKLOAD KEY: a recorded figure.
get() { awk -v s="$1" -v w="$2" -v k="$3" '$1 == s && $2 == w && $3 == k { print $4 }' "$RESULTS"; }

# start_endpoints NAME PORT: the three endpoints of R1 register from
# their own ports, then answer (ep1, with "#" as RFC 2833) or ring until
# cancelled (ep2, ep3) as SIPp servers on those ports.
start_endpoints() {
	local name=$1 port=$2 i scen
	for i in 1 2 3; do
		sipp_run "$name-ep$i-register" 20 "127.0.0.1:$port" -sf "$HERE/register.xml" -inf "$WORK/ep$i.csv" -m 1 \
			-p $((EP_PORT + i)) -mp $((MEDIA_PORT + 10 * i))
		[ "$(cat "$WORK/$name-ep$i-register/status")" = 0 ] || die "$name: app.ep$i did not register: $(cat "$WORK/$name-ep$i-register/errors.log" 2>/dev/null)"
	done
	scen=$HERE/endpoint_answer.xml
	if [ "$DTMF" = 0 ]; then
		sed '/<nop>/,/<\/nop>/d' "$scen" >"$WORK/endpoint_answer_nodtmf.xml"
		scen=$WORK/endpoint_answer_nodtmf.xml
	fi
	for i in 1 2 3; do
		[ "$i" = 1 ] || scen=$HERE/endpoint_ring.xml
		mkdir -p "$WORK/$name-ep$i"
		(cd "$WORK/$name-ep$i" && exec "${LOAD[@]}" sipp "127.0.0.1:$port" -sf "$scen" -i 127.0.0.1 -nostdin \
			-p $((EP_PORT + i)) -mp $((MEDIA_PORT + 10 * i)) -trace_err -error_file errors.log >screen.txt 2>&1) &
		echo $! >"$WORK/$name-ep$i.pid"
		PIDS+=("$(cat "$WORK/$name-ep$i.pid")")
	done
	for i in 1 2 3; do wait_bound $((EP_PORT + i)); done
}
stop_endpoints() {
	local i
	for i in 1 2 3; do kill "$(cat "$WORK/$1-ep$i.pid")" 2>/dev/null || true; done
	for i in 1 2 3; do wait "$(cat "$WORK/$1-ep$i.pid")" 2>/dev/null || true; done
}
# wait_bound PORT: until something listens on UDP PORT.
wait_bound() {
	local hex i
	hex=$(printf ':%04X ' "$1")
	for i in $(seq 1 200); do
		grep -q "$hex" /proc/net/udp && return 0
		sleep 0.05
	done
	die "nothing listens on UDP port $1"
}

# workload_register NAME PORT: (a) ACCOUNTS registrations with digest.
workload_register() {
	local name=$1 port=$2 t0 t1 fail
	say "$name: (a) $ACCOUNTS REGISTERs with digest at $REG_RATE/s"
	profile_start "$name" "$name-register" $((ACCOUNTS / REG_RATE + 1))
	t0=$(ticks "$name")
	sipp_run "$name-register" $((ACCOUNTS / REG_RATE + 30)) "127.0.0.1:$port" -sf "$HERE/register.xml" -inf "$WORK/users.csv" \
		-r "$REG_RATE" -m "$ACCOUNTS" -l 5000 -p "$REG_PORT" -mp "$MEDIA_PORT"
	t1=$(ticks "$name")
	# With PROFILE, what the live heap held at the burst's last collection.
	if [ -n "$PROFILE" ] && { [ "$name" = switchboard ] || [ "$name" = baseline ]; }; then
		curl -s -o "$WORK/$name-burst-heap.pprof" "http://$PROFILE/debug/pprof/heap" || true
	fi
	profile_wait
	fail=$(stat "$name-register" 'FailedCall(C)')
	record "$name" register cpu_us "$(us_per $((t1 - t0)) "$ACCOUNTS")"
	record "$name" register rate "$(achieved "$name-register" 1 $((ACCOUNTS * 1000 / REG_RATE)) 0)"
	record "$name" register late "$(late "$name-register" 1 $((ACCOUNTS * 1000 / REG_RATE)) 0)"
	record "$name" register ok "$(stat "$name-register" 'SuccessfulCall(C)')"
	record "$name" register failed "$fail"
	record "$name" register retrans "$(stat "$name-register" 'Retransmissions(C)')"
	record "$name" register p99_ms "$(p99 "$name-register")"
}

# workload_calls NAME PORT RATE [KEY]: (b) door calls forked to three
# endpoints, recorded under KEY (default calls@RATE).
workload_calls() {
	local name=$1 port=$2 rate=$3 key=${4:-calls@$3} n t0 t1 l0 l1 w0 w1 run e0 d0
	n=$((rate * CALL_SECONDS))
	run=$name-$key
	say "$name: (b) $n door calls at $rate/s: fork to 3, one answers, 2 cancelled, DTMF, BYE ($key)"
	profile_start "$name" "$run" $((CALL_SECONDS + 1))
	e0=$(rcvbuf_errors)
	d0=$(drops "$port")
	t0=$(ticks "$name")
	l0=$(load_ticks "$name")
	w0=$(date +%s%N)
	sipp_run "$run" $((CALL_SECONDS + 20)) "127.0.0.1:$port" -sf "$HERE/door.xml" -s R1 -au device.door -ap "$DOOR_PASSWORD" \
		-auth_uri "R1@127.0.0.1:$port" -d "$HOLD_MS" -r "$rate" -m "$n" -l 5000 \
		-p "$DOOR_PORT" -mp $((MEDIA_PORT + 40)) -default_behaviors all,-abortunexp
	t1=$(ticks "$name")
	l1=$(load_ticks "$name")
	w1=$(date +%s%N)
	# With PROFILE, what the live heap holds as the last call ends (finished transactions still kept).
	if [ -n "$PROFILE" ] && { [ "$name" = switchboard ] || [ "$name" = baseline ]; }; then
		curl -s -o "$WORK/$run-heap.pprof" "http://$PROFILE/debug/pprof/heap?gc=1" || true
	fi
	profile_wait
	record "$name" "$key" offered "$rate"
	record "$name" "$key" cpu_us "$(us_per $((t1 - t0)) "$n")"
	record "$name" "$key" rate "$(achieved "$run" 2 $((CALL_SECONDS * 1000)) "$HOLD_MS")"
	record "$name" "$key" late "$(late "$run" 2 $((CALL_SECONDS * 1000)) "$HOLD_MS")"
	record "$name" "$key" ok "$(stat "$run" 'SuccessfulCall(C)')"
	record "$name" "$key" failed "$(( n - $(stat "$run" 'SuccessfulCall(C)') ))"
	record "$name" "$key" retrans "$(stat "$run" 'Retransmissions(C)')"
	record "$name" "$key" p99_ms "$(p99 "$run")"
	record "$name" "$key" slow "$(slow "$run")"
	record "$name" "$key" refused "$(refused "$run")"
	record "$name" "$key" rcvbuf "$(( $(rcvbuf_errors) - e0 ))"
	record "$name" "$key" drops "$(( $(drops "$port") - d0 ))"
	record "$name" "$key" core_pct "$(share $((t1 - t0)) $((w1 - w0)))"
	record "$name" "$key" load_pct "$(share $((l1 - l0)) $((w1 - w0)))"
	record "$name" "$key" load "$(cut -d' ' -f1 /proc/loadavg)"
}

# load_ticks NAME: user+system CPU, in clock ticks, of the SIPp load of
# server NAME: its three endpoints, and the door's SIPp runs that have
# ended (the script waits for each, so its time is in the script's
# children's, /proc/$$/stat's cutime and cstime; the little else the
# script waits for meanwhile, an awk or two, counts too).
load_ticks() {
	local t i
	t=$(awk '{ print $16 + $17 }' "/proc/$$/stat")
	for i in 1 2 3; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$(cat "$WORK/$1-ep$i.pid")/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
# share TICKS NS: TICKS of CPU time over NS nanoseconds, as % of one core.
share() { awk -v t="$1" -v ns="$2" -v hz="$HZ" 'BEGIN { printf "%.0f", (ns > 0 ? t / hz * 1e11 / ns : 0) }'; }

# clean NAME WORKLOAD: whether a call run was clean: no failure, no call
# slower than a second, none completed after the window.
clean() {
	[ "$(get "$1" "$2" failed)" = 0 ] && [ "$(get "$1" "$2" slow)" = 0 ] && [ "$(get "$1" "$2" late)" = 0 ]
}

# clean_max NAME: the highest achieved rate (in the window) of NAME's
# clean call runs (no failure, no call slower than a second, none
# completed after the window); 0 when none was clean.
clean_max() {
	awk -v s="$1" '$1 == s && $2 ~ /^calls@/ { v[$2, $3] = $4; w[$2] = 1 }
		END { m = 0; for (k in w) if (v[k, "failed"] == 0 && v[k, "slow"] == 0 && v[k, "late"] == 0 && v[k, "rate"] > m) m = v[k, "rate"]; print m + 0 }' "$RESULTS"
}

# workload_overload NAME PORT: the overload row (twice the clean maximum
# offered) and the contention row (the clean maximum offered while a
# process that only burns CPU shares the server's core).
workload_overload() {
	local name=$1 port=$2 max rate
	[ "$OVERLOAD" = 1 ] || return 0
	max=$(clean_max "$name")
	if [ "$max" = 0 ]; then
		max=$(set -- $CALL_RATES; echo "$1")
		say "$name: no clean call run; overload rows from the lowest rate, $max/s"
	fi
	record "$name" overload clean_max "$max"
	rate=${OVERLOAD_RATE:-$((2 * max))}
	workload_calls "$name" "$port" "$rate" overload
	rate=${CONTENTION_RATE:-$max}
	say "$name: $BURNERS CPU burner(s) pinned to CPU $SERVER_CPU beside the server"
	local i
	for i in $(seq 1 "$BURNERS"); do
		"${PIN[@]}" sh -c 'while :; do :; done' &
		BURNER+=($!)
	done
	workload_calls "$name" "$port" "$rate" contention
	for i in "${BURNER[@]}"; do kill "$i" 2>/dev/null || true; done
	for i in "${BURNER[@]}"; do wait "$i" 2>/dev/null || true; done
	BURNER=()
	record "$name" contention clean_max "$max"
}

# --- the servers -------------------------------------------------------------

# start_switchboard NAME BINARY PORT [FLAGS...]: serve (switchboard, or
# baseline: the same as of BASELINE) on PORT.
start_switchboard() {
	local name=$1 bin=$2 port=$3
	shift 3
	say "$name: serve pinned to CPU $SERVER_CPU"
	(export GODEBUG=gctrace=1
	if [ -n "$PROFILE" ]; then export SWITCHBOARD_PPROF=$PROFILE; fi
	# shellcheck disable=SC2086 # a list of NAME=VALUE words
	case $name in
		switchboard) [ -z "$SERVE_ENV" ] || export $SERVE_ENV ;;
		baseline) [ -z "$BASELINE_ENV" ] || export $BASELINE_ENV ;;
	esac
	# Each its own -data: a server must not start with the bindings the
	# one before it stored.
	exec "${PIN[@]}" "$bin" serve -listen "127.0.0.1:$port" -http "" -admin "" \
		-digest md5 -data "$WORK/$name-data" "$@" "$WORK/build" 2>"$WORK/$name.log") &
	echo $! >"$WORK/$name.pid"
	PIDS+=("$(cat "$WORK/$name.pid")")
	local i
	for i in $(seq 1 600); do
		grep -q 'switchboard serve: ready' "$WORK/$name.log" && return 0
		kill -0 "$(cat "$WORK/$name.pid")" 2>/dev/null || { cat "$WORK/$name.log" >&2; die "serve exited"; }
		sleep 0.1
	done
	die "serve not ready after 60s"
}
# gcs: how many garbage collections the Go server SBNAME has logged (gctrace).
SBNAME=switchboard
gcs() { grep -c '^gc ' "$WORK/$SBNAME.log" || true; }
# live_mb: the live heap after the last garbage collection, MB.
live_mb() { grep '^gc ' "$WORK/$SBNAME.log" | tail -1 | sed -E 's/.* [0-9]+->[0-9]+->([0-9]+) MB.*/\1/'; }
# wait_gc N: until more than N collections were logged (Go forces one
# two minutes after the last at the latest).
wait_gc() {
	local i
	for i in $(seq 1 1500); do
		[ "$(gcs)" -gt "$1" ] && return 0
		sleep 0.1
	done
	die "no garbage collection within 150s"
}

# rtpengine_total KEY: a figure of rtpengine's "list totals" (its CLI), of
# the sessions that ended, e.g. "Total relayed packets".
rtpengine_total() {
	local line
	exec 3<>"/dev/tcp/127.0.0.1/$RTPENGINE_CLI"
	echo "list totals" >&3
	line=$(grep -E "^ *$1 +:" <&3 | head -1)
	exec 3<&-
	echo "${line##*:}"
}

# start_rtpengine NAME: the anchor's media relay, pinned to the server's
# core, counted as part of server NAME; userspace forwarding (--table=-1),
# sessions forgotten as soon as they are deleted (--delete-delay=0: the
# default keeps each call's ports 30 s, more than the range holds).
start_rtpengine() {
	say "$1: rtpengine $(rtpengine --version 2>&1 | awk '{ print $2 }'), userspace, pinned to CPU $SERVER_CPU"
	(exec "${PIN[@]}" rtpengine --config-file=none --foreground --log-stderr -L 4 --table=-1 \
		--interface=127.0.0.1 --listen-ng="127.0.0.1:$RTPENGINE_NG" --listen-cli="127.0.0.1:$RTPENGINE_CLI" \
		--port-min="$RTP_MIN" --port-max="$RTP_MAX" --delete-delay=0 >"$WORK/rtpengine.log" 2>&1) &
	echo $! >"$WORK/$1.pids"
	PIDS+=("$(cat "$WORK/$1.pids")")
	wait_bound "$RTPENGINE_NG"
}

# bench_kamailio NAME PORT [rtpengine]: Kamailio as a proxy on PORT, or
# with "rtpengine" the anchor: Kamailio with its media through rtpengine.
bench_kamailio() {
	local name=$1 port=$2 media=${3:-} defs=()
	if [ "$media" = rtpengine ]; then
		start_rtpengine "$name"
		defs=(-A WITH_RTPENGINE -A "RTPENGINE_SOCK=\"udp:127.0.0.1:$RTPENGINE_NG\"")
	fi
	say "$name: $KAMAILIO -x fm -X fm, pinned to CPU $SERVER_CPU"
	(cd "$WORK/kamailio" && exec "${PIN[@]}" "$KAMAILIO" -f kamailio.cfg -DD -E \
		-l "udp:127.0.0.1:$port" -m 512 -M 16 -x fm -X fm "${defs[@]}" \
		-A "DBURL=\"text://$WORK/kamailio/db\"" >"$WORK/$name.log" 2>&1) &
	echo $! >"$WORK/$name.pid"
	PIDS+=("$(cat "$WORK/$name.pid")")
	wait_bound "$port"
	local p0 p1 p2 r0 peak
	start_endpoints "$name" "$port"
	p0=$(pss "$name")
	r0=$(rss "$name")
	sample_start "$name"
	workload_register "$name" "$port"
	peak=$(sample_stop)
	p1=$(pss "$name")
	if [ "$MEMORY" = 1 ]; then
		sleep 6 # tm's wt_timer: finished transactions are kept 5s
		p2=$(pss "$name")
		record "$name" memory pss_peak_b "$(( (p1 - p0) * 1024 / ACCOUNTS ))"
		record "$name" memory pss_steady_b "$(( (p2 - p0) * 1024 / ACCOUNTS ))"
		record "$name" memory pss_max_b "$(( (${peak% *} - p0) * 1024 / ACCOUNTS ))"
		record "$name" memory rss_max_b "$(( (${peak#* } - r0) * 1024 / ACCOUNTS ))"
		record "$name" memory rss_steady_b "$(( ($(rss "$name") - r0) * 1024 / ACCOUNTS ))"
	fi
	if [ "$media" = rtpengine ]; then
		call_ladder "$name" "$port" calls_relayed
	else
		call_ladder "$name" "$port" workload_calls
	fi
	workload_overload "$name" "$port"
	stop_endpoints "$name"
	kill "$(cat "$WORK/$name.pid")"
	wait "$(cat "$WORK/$name.pid")" 2>/dev/null || true
	if [ "$media" = rtpengine ]; then
		kill "$(cat "$WORK/$name.pids")"
		wait "$(cat "$WORK/$name.pids")" 2>/dev/null || true
	fi
}

# calls_relayed NAME PORT RATE: workload_calls, and what rtpengine
# relayed per completed call: the answering endpoint's RTP (the pcap's
# 10 packets) if the media went through it.
calls_relayed() {
	local relayed
	relayed=$(rtpengine_total "Total relayed packets")
	workload_calls "$1" "$2" "$3"
	record "$1" "calls@$3" rtp_per_call "$(awk -v a="$relayed" \
		-v b="$(rtpengine_total "Total relayed packets")" -v n="$(get "$1" "calls@$3" ok)" \
		'BEGIN { if (n > 0) printf "%.1f", (b - a) / n; else print "-" }')"
}

# call_ladder NAME PORT RUN: the call runs of server NAME (RUN NAME PORT
# RATE runs one): every rate of CALL_RATES, then, while the highest run
# so far was clean, one CALL_CLIMB higher, up to CALL_MAX: a ladder that
# stopped while the server was still clean would make its "clean
# maximum" the ladder's top, and the overload row twice that, not twice
# what the server carries. The climb stops too when SIPp used LOAD_LIMIT
# % of its core or more: beyond, the rate SIPp manages is measured, not
# the server.
call_ladder() {
	local name=$1 port=$2 run=$3 r top=0
	for r in $CALL_RATES; do
		"$run" "$name" "$port" "$r"
		[ "$r" -le "$top" ] || top=$r
	done
	[ "$CALL_CLIMB" -gt 0 ] && [ "$top" -gt 0 ] || return 0
	while clean "$name" "calls@$top" && [ $((top + CALL_CLIMB)) -le "$CALL_MAX" ]; do
		if [ "$(get "$name" "calls@$top" load_pct)" -ge "$LOAD_LIMIT" ]; then
			say "$name: SIPp used $(get "$name" "calls@$top" load_pct)% of its core at $top/s: not climbing further (LOAD_LIMIT=$LOAD_LIMIT)"
			return 0
		fi
		top=$((top + CALL_CLIMB))
		"$run" "$name" "$port" "$top"
	done
}

# bench_switchboard NAME PORT: switchboard (or baseline) on PORT.
bench_switchboard() {
	local name=$1 port=$2 p0 p1 l0 r0 peak
	SBNAME=$name
	# serve collects and hands back its start-up garbage as it starts (a
	# forced collection in gctrace), well before the endpoints have
	# registered, so the baseline needs no wait.
	start_endpoints "$name" "$port"
	l0=$(live_mb)
	p0=$(pss "$name")
	r0=$(rss "$name")
	sample_start "$name"
	workload_register "$name" "$port"
	peak=$(sample_stop)
	p1=$(pss "$name")
	if [ "$MEMORY" = 1 ]; then
		measure_switchboard_memory
	fi
	call_ladder "$name" "$port" workload_calls
	workload_overload "$name" "$port"
	stop_endpoints "$name"
	kill -TERM "$(cat "$WORK/$name.pid")"
	wait "$(cat "$WORK/$name.pid")" 2>/dev/null || true
}

# measure_switchboard_memory: after the registrations; reads
# bench_switchboard's p0, p1, l0, r0 and peak.
measure_switchboard_memory() {
	local n p2 l2
	# Finished transactions are kept 5 s (serve sets sipgo's Timer J, as
	# Kamailio's wt_timer); wait, then for the next collection.
	say "switchboard: $SETTLE s for finished transactions to expire, then the next collection"
	sleep "$SETTLE"
	n=$(gcs)
	wait_gc "$n"
	sleep 1
	p2=$(pss "$SBNAME")
	l2=$(live_mb)
	record "$SBNAME" memory pss_peak_b "$(( (p1 - p0) * 1024 / ACCOUNTS ))"
	record "$SBNAME" memory pss_steady_b "$(( (p2 - p0) * 1024 / ACCOUNTS ))"
	record "$SBNAME" memory heap_live_b "$(( (l2 - l0) * 1024 * 1024 / ACCOUNTS ))"
	record "$SBNAME" memory pss_max_b "$(( (${peak% *} - p0) * 1024 / ACCOUNTS ))"
	record "$SBNAME" memory rss_max_b "$(( (${peak#* } - r0) * 1024 / ACCOUNTS ))"
	record "$SBNAME" memory rss_steady_b "$(( ($(rss "$SBNAME") - r0) * 1024 / ACCOUNTS ))"
	# With PROFILE, what the live heap holds then (inuse_space).
	[ -z "$PROFILE" ] || curl -s -o "$WORK/$SBNAME-heap.pprof" "http://$PROFILE/debug/pprof/heap" || true
}

# switchboard starts first and idles while Kamailio runs on the same core
# (an idle Go server costs nothing); after the baseline with
# BASELINE_FIRST=1, since both serve the profiler on PROFILE.
start_sb() {
	# shellcheck disable=SC2086 # SERVE_FLAGS is a list of words
	case " $SERVERS " in *" switchboard "*) start_switchboard switchboard "$SB" "$SB_PORT" $SERVE_FLAGS ;; esac
}
[ "$BASELINE_FIRST" = 1 ] || start_sb
case " $SERVERS " in *" kamailio "*) bench_kamailio kamailio "$KAM_PORT" ;; esac
case " $SERVERS " in *" kamailio-rtpengine "*) bench_kamailio kamailio-rtpengine "$KAMRTP_PORT" rtpengine ;; esac
bench_baseline() {
	case " $SERVERS " in *" baseline "*)
		# shellcheck disable=SC2086 # BASELINE_FLAGS is a list of words
		start_switchboard baseline "$WORK/baseline" "$BASE_SB_PORT" $BASELINE_FLAGS
		bench_switchboard baseline "$BASE_SB_PORT" ;;
	esac
}
[ "$BASELINE_FIRST" != 1 ] || { bench_baseline; start_sb; }
case " $SERVERS " in *" switchboard "*) bench_switchboard switchboard "$SB_PORT" ;; esac
[ "$BASELINE_FIRST" = 1 ] || bench_baseline

# --- report --------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2fx", a / b; else print "-" }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.0f%%", 100 * a / b; else print "-" }'; }
# The reference of the ratio column: the anchor when it was measured.
REF=kamailio
case " $SERVERS " in *" kamailio-rtpengine "*) REF=kamailio-rtpengine ;; esac
# row LABEL SWITCHBOARD BASELINE ANCHOR KAMAILIO RATIO: the baseline
# column only when BASELINE is set.
row() {
	if [ -n "$BASELINE" ]; then
		printf '  %-52s %11s %11s %11s %11s %8s\n' "$1" "$2" "$3" "$4" "$5" "$6"
	else
		printf '  %-52s %13s %13s %13s %9s\n' "$1" "$2" "$4" "$5" "$6"
	fi
}
# line LABEL WORKLOAD KEY: one figure of every server, and the ratio of
# switchboard's to the reference's for CPU and p99.
line() {
	local a
	a=$(get switchboard "$2" "$3")
	row "$1" "$a" "$(get baseline "$2" "$3")" "$(get kamailio-rtpengine "$2" "$3")" "$(get kamailio "$2" "$3")" \
		"$(case $3 in cpu_us | p99_ms) ratio "$a" "$(get "$REF" "$2" "$3")" ;; esac)"
}
# each FUNCTION: FUNCTION SERVER of every server, one column each.
each() {
	local s out=()
	for s in switchboard baseline kamailio-rtpengine kamailio; do
		case " $SERVERS " in *" $s "*) out+=("$("$1" "$s")") ;; *) out+=("") ;; esac
	done
	printf '%s\n' "${out[@]}"
}
burst_ratio() { ratio "$(get "$1" memory pss_max_b)" "$(get "$1" memory pss_steady_b)"; }
echo
echo "SIP benchmark: switchboard $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo '?')${BASELINE:+ and as of $BASELINE (before)} vs $("$KAMAILIO" -v | head -1)$(command -v rtpengine >/dev/null && echo " and rtpengine $(rtpengine --version 2>&1 | awk '{ print $2 }')")"
echo "load average at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)); server on CPU $SERVER_CPU$([ "$SERVER_RT" = 1 ] && echo " (SCHED_RR)"), SIPp on CPU $LOAD_CPU; loopback UDP; DTMF $([ "$DTMF" = 1 ] && echo on || echo OFF)"
echo
row "" switchboard before kam+rtpengine kamailio "sb/$([ "$REF" = kamailio ] && echo kam || echo anchor)"
for key in "register cpu_us CPU-µs per registration (401+200)" "register rate achieved rate in the window (/s)" "register late completed after the window" "register failed failures" \
	"register retrans retransmissions" "register p99_ms p99 response time (ms)"; do
	set -- $key
	w=$1 k=$2
	shift 2
	line "(a) $*" "$w" "$k"
done
line "memory per registration, PSS peak (B)" memory pss_peak_b
line "  PSS highest during the burst (B)" memory pss_max_b
line "  PSS steady (B)" memory pss_steady_b
mapfile -t col < <(each burst_ratio)
row "  burst: PSS highest / steady" "${col[@]}" ""
line "  RSS highest during the burst (B)" memory rss_max_b
line "  RSS steady (B)" memory rss_steady_b
line "  Go live heap (B)" memory heap_live_b
CALL_KEYS=("cpu_us CPU-µs per call" "rate achieved rate in the window (/s)" "failed failures" "refused of which refused with 503" "slow calls slower than 1 s"
	"late calls completed after the window"
	"retrans retransmissions" "p99_ms p99 INVITE→200 (ms)" "drops datagrams the server's socket dropped" "rcvbuf RcvbufErrors, all sockets"
	"rtp_per_call RTP packets rtpengine relayed per call" "core_pct server's CPU, % of its core" "load_pct SIPp's CPU, % of its core"
	"load load average (1 min) after the run")
# Every rate some server ran (the ladder climbs each server's own way).
for r in $(awk '$2 ~ /^calls@/ { sub(/^calls@/, "", $2); print $2 }' "$RESULTS" | sort -n -u); do
	for key in "${CALL_KEYS[@]}"; do
		set -- $key
		k=$1
		shift
		line "(b) @$r/s $*" "calls@$r" "$k"
	done
done
mapfile -t col < <(each clean_max)
row "clean maximum (/s): highest clean achieved rate" "${col[@]}" ""
if [ "$OVERLOAD" = 1 ]; then
	for w in overload contention; do
		case $w in
			overload) what="(c) overload: 2× the clean maximum offered" ;;
			contention) what="(d) contention: $BURNERS CPU burner(s) on its core" ;;
		esac
		line "$what (/s)" "$w" offered
		for key in "${CALL_KEYS[@]}"; do
			set -- $key
			k=$1
			shift
			line "    $*" "$w" "$k"
		done
		goodput() { pct "$(get "$1" "$w" rate)" "$(get "$1" overload clean_max)"; }
		mapfile -t col < <(each goodput)
		row "    goodput, % of the clean maximum" "${col[@]}" ""
	done
fi
echo
echo "(a) $ACCOUNTS distinct accounts at $REG_RATE/s offered. (b) door → 3 endpoints, one answers, two get CANCEL/487, \"#\" as RFC 2833, BYE after ${HOLD_MS}ms; $CALL_SECONDS s per rate."
echo "(c) and (d) as (b), each server at its own clean maximum (a run with no failure, no call slower than 1 s and none completed after the window), twice it for (c)."
echo "Achieved rate: completed within the window (the offered $CALL_SECONDS s + the ${HOLD_MS} ms hold + ${GRACE_MS} ms; registrations: their offered time + ${GRACE_MS} ms) per offered second; later ones are \"completed after the window\"."
echo "RcvbufErrors count every UDP socket of the machine (SIPp's too); the server's own drops are its socket's (/proc/net/udp)."
echo "kam+rtpengine: Kamailio with the media through rtpengine (userspace), both counted; kamailio: the proxy alone (no media)."
echo "switchboard is a B2BUA that relays the RTP. Ratio: switchboard / $REF. Total $(( $(date +%s) - START ))s. Raw results: $RESULTS"
[ "$KEEP" = 1 ] || echo "(set KEEP=1 to keep $WORK)"
