# bench/cluster/lib.sh — what soak.sh and register.sh share: a site built
# from bench/door-site.pbx.hcl with USERS more app accounts, and N
# `switchboard serve` nodes on 127.0.0.1..N forming one cluster (N=1: a
# single node, no cluster flags). Sourced, not run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIPDIR=$ROOT/bench/sip # the SIPp scenarios of bench/sip
GO=${GO:-go}
SITE_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f # not a secret: a test site
DOMAIN=bench.example
HZ=$(getconf CLK_TCK)

say() { printf '%s\n' "$NAME: $*" >&2; }
die() { say "$*"; exit 1; }

seconds() {
	case $1 in
	*h) echo $(( ${1%h} * 3600 )) ;;
	*m) echo $(( ${1%m} * 60 )) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}

command -v "$GO" >/dev/null || die "no go command (set GO=...)"
command -v sipp >/dev/null || die "sipp is not installed: apt-get install -y sip-tester"
for ip in 127.0.0.2 127.0.0.3; do
	python3 -c "import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('$ip', 0))" 2>/dev/null ||
		die "cannot bind $ip: the nodes need the loopback addresses 127.0.0.1-3"
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
# One bench at a time on the machine: three nodes and SIPp load both
# cores, and would be measured by (and measure) another bench.
# shellcheck source=SCRIPTDIR/../lock.sh
. "$ROOT/bench/lock.sh"
bench_lock "$NAME"
# shellcheck disable=SC2034 # printed by soak.sh and register.sh
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/switchboard-$NAME.XXXXXX")}
mkdir -p "$WORK"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then say "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
bench_traps cleanup

VERSION=$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo '?')

# build_site USERS: builds the site with USERS more app accounts (u1..),
# writes $WORK/accounts.txt (name;password) and the SIPp injection files
# users.csv and ep1..3.csv.
build_site() {
	local users=$1
	say "building switchboard $VERSION and a site of $users users"
	(cd "$ROOT" && "$GO" build -o "$WORK/switchboard" ./cmd/switchboard)
	SB=$WORK/switchboard
	mkdir -p "$WORK/site"
	{
		sed -e "s/@NAME@/cluster/g" -e "s/@DOMAIN@/$DOMAIN/g" "$ROOT/bench/door-site.pbx.hcl"
		awk -v n="$users" -v d="$DOMAIN" 'BEGIN {
			for (i = 1; i <= n; i++)
				printf "user \"u%d\" {\n  first_name = \"User\"\n  last_name  = \"U%d\"\n  email      = \"u%d@%s\"\n  extension  = %d\n  app        = true\n}\n", i, i, i, d, 2000000 + i
		}'
	} >"$WORK/site/site.pbx.hcl"
	export SWITCHBOARD_SITE_KEY=$SITE_KEY
	"$SB" build -o "$WORK/build" "$WORK/site" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; die "build failed"; }
	"$SB" credentials -json "$WORK/site" >"$WORK/credentials.json" 2>>"$WORK/build.log"
	awk -F'"' '/"name":/ { n = $4 } /"password":/ { if (n ~ /^(app|device)\./) print n ";" $4 }' \
		"$WORK/credentials.json" >"$WORK/accounts.txt"
	inject() { awk -F';' -v d="$DOMAIN" '{ print $1 ";[authentication username=" $1 " password=" $2 "];" d }'; }
	{ echo SEQUENTIAL; grep '^app\.u' "$WORK/accounts.txt" | inject || true; } >"$WORK/users.csv"
	for i in 1 2 3; do
		{ echo SEQUENTIAL; grep "^app\.ep$i;" "$WORK/accounts.txt" | inject; } >"$WORK/ep$i.csv"
	done
	DOOR_PASSWORD=$(awk -F';' '$1 == "device.door" { print $2 }' "$WORK/accounts.txt")
	[ -n "$DOOR_PASSWORD" ] || die "credentials -json listed no password for device.door"
}

# start_nodes N SIP_PORT ROUTE_PORT: N serve processes, node i on
# 127.0.0.i:SIP_PORT (UDP), routes on 127.0.0.i:ROUTE_PORT, each with its
# own copy of the build and its own -data; waits until all are ready.
# NODE_PID[i] is node i's process.
NODE_PID=()
start_nodes() {
	local n=$1 sip=$2 route=$3 i peers="" args
	for i in $(seq 1 "$n"); do peers="$peers${peers:+,}127.0.0.$i:$route"; done
	for i in $(seq 1 "$n"); do
		rm -rf "$WORK/node$i"
		mkdir -p "$WORK/node$i"
		cp -r "$WORK/build" "$WORK/node$i/build"
		args=(serve -listen "127.0.0.$i:$sip" -http "" -admin "" -digest md5 -data "$WORK/node$i/data")
		[ "$n" = 1 ] || args+=(-node "node$i" -cluster-listen "127.0.0.$i:$route" -cluster-peer "$peers" -cluster-wait 2m)
		("$SB" "${args[@]}" "$WORK/node$i/build" 2>"$WORK/node$i/serve.log") &
		NODE_PID[i]=$!
		PIDS+=("$!")
	done
	for i in $(seq 1 "$n"); do
		local t
		for t in $(seq 1 1800); do
			grep -q 'switchboard serve: ready' "$WORK/node$i/serve.log" && break
			kill -0 "${NODE_PID[i]}" 2>/dev/null || { tail -20 "$WORK/node$i/serve.log" >&2; die "node $i exited"; }
			sleep 0.1 # polling a log file for its ready line
		done
		grep -q 'switchboard serve: ready' "$WORK/node$i/serve.log" || die "node $i not ready after 3 minutes"
	done
	say "$n node(s) ready: $(grep -h -o 'sip udp [0-9.:]*' "$WORK"/node*/serve.log | tr '\n' ' ')"
}

# stop_nodes: ends the nodes (SIGTERM) and waits for them.
stop_nodes() {
	local i
	for i in "${!NODE_PID[@]}"; do kill "${NODE_PID[i]}" 2>/dev/null || true; done
	for i in "${!NODE_PID[@]}"; do wait "${NODE_PID[i]}" 2>/dev/null || true; done
	NODE_PID=()
}

# ticks: user+system CPU of every node, in clock ticks.
ticks() { local t=0 i; for i in "${!NODE_PID[@]}"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/${NODE_PID[i]}/stat"))); done; echo "$t"; }
# rss I: node I's resident set size, KiB.
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/${NODE_PID[$1]}/status"; }

# stat DIR COLUMN: the last value of a column of a SIPp's statistics.
stat() {
	[ -s "$1/stat.csv" ] || { echo 0; return; }
	awk -F';' -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next } { v = $c } END { print v + 0 }' "$1/stat.csv"
}

# wait_bound IP PORT: until something listens on UDP IP:PORT.
wait_bound() {
	local hex i
	hex=$(printf '%02X%02X%02X%02X:%04X ' $(echo "$1" | awk -F. '{ print $4, $3, $2, $1 }') "$2")
	for i in $(seq 1 200); do
		grep -q "$hex" /proc/net/udp && return 0
		sleep 0.05 # polling /proc for a socket
	done
	die "nothing listens on UDP $1:$2"
}
