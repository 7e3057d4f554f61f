# bench/lock.sh — the machine-wide lock of the benchmarks. Sourced, not
# run: bench_lock WHO before the first build or measurement.
#
# Two benchmarks at once pin their servers to the same core (and with
# SERVER_RT=1 run them real-time there) and measure each other: identical
# builds read p99 7.5 s against 2.7 s (issue 19). So every bench that pins
# a process to a core, runs one real-time or loads the machine for its
# figures holds one lock file, BENCH_LOCK (/tmp/switchboard-bench.lock),
# for as long as it runs, and the next one waits for it, at most
# BENCH_LOCK_WAIT seconds (3600), then fails saying who holds it.
#
# The lock is flock(2) on file descriptor 9 of the script: the kernel
# releases it when the last process holding that descriptor exits, so a
# Ctrl-C or a kill releases it too, and a server the script left running
# (still pinned to the core) keeps it held until it dies. A bench run by
# another bench (bench/overload/run.sh runs bench/sip/run.sh) inherits
# descriptor 9 and with it the lock, without waiting for itself.

BENCH_LOCK=${BENCH_LOCK:-/tmp/switchboard-bench.lock}
BENCH_LOCK_WAIT=${BENCH_LOCK_WAIT:-3600}

# bench_lock WHO: take the lock (WHO names the bench in messages and in
# the lock file, for the next one waiting); exits the script if it cannot.
bench_lock() {
	local who=$1 holder
	command -v flock >/dev/null || { printf '%s\n' "$who: flock is not installed: apt-get install -y util-linux" >&2; exit 1; }
	# Inherited from a bench that already holds it: flock on the same
	# open file succeeds at once.
	if [ "$(readlink "/proc/$$/fd/9" 2>/dev/null)" = "$(readlink -f "$BENCH_LOCK")" ] && flock -n 9; then
		return 0
	fi
	# Read-write to note the holder in it; read-only if another user
	# created it (flock needs no write access).
	{ exec 9<>"$BENCH_LOCK"; } 2>/dev/null || { exec 9<"$BENCH_LOCK"; } 2>/dev/null ||
		{ printf '%s\n' "$who: cannot open the bench lock $BENCH_LOCK (BENCH_LOCK=path to use another)" >&2; exit 1; }
	if ! flock -n 9; then
		holder=$(head -c 200 "$BENCH_LOCK" 2>/dev/null | head -1)
		printf '%s\n' "$who: waiting for another bench run (${holder:-pid unknown}) to finish… (lock $BENCH_LOCK, at most ${BENCH_LOCK_WAIT}s)" >&2
		if ! flock -w "$BENCH_LOCK_WAIT" 9; then
			holder=$(head -c 200 "$BENCH_LOCK" 2>/dev/null | head -1)
			printf '%s\n' "$who: another bench run (${holder:-pid unknown}) still holds $BENCH_LOCK after ${BENCH_LOCK_WAIT}s; not measuring beside it (BENCH_LOCK_WAIT=SECONDS waits longer)" >&2
			exit 1
		fi
	fi
	# Who holds it now, for the next one's message (best effort: the file
	# may belong to another user).
	{ printf 'pid %s: %s, since %s\n' "$$" "$who" "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" >"$BENCH_LOCK"; } 2>/dev/null || true
}

# bench_traps CLEANUP: run the function CLEANUP when the script exits, and
# make Ctrl-C or a kill end the script (CLEANUP, then the lock is
# released): without a trap bash goes on with the next command when the
# one it waited for did not itself die of the signal (SIPp catches
# SIGINT).
bench_traps() {
	# shellcheck disable=SC2064 # the name is meant to be expanded now
	trap "$1" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
}
