#!/usr/bin/env bash
# The main job's first run (README): `cargo run --release -p cfimg -- demo` with the
# dependencies already downloaded and an empty target directory. Times the release
# build of cfimg (wall and CPU: user + system of every compiler process, build script
# and C compiler), then the demo itself, and lists the slowest units of the build from
# cargo's timings report. Usage:
#   bash scripts/bench-main-job.sh                 # this checkout, one round
#   ROUNDS=2 bash scripts/bench-main-job.sh        # n clean builds, one after the other
#   TARGET=/some/empty/dir bash scripts/bench-main-job.sh   # elsewhere than target/bench-main-job
#   TOP=30 bash scripts/bench-main-job.sh          # longer list of slow units
# The target directory is removed before each round and at the end unless KEEP=1 (a
# release build of cfimg takes about 1 GB). On a shared machine compare CPU times: other
# work stretches the wall time far more than the CPU time.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${TARGET:-$root/target/bench-main-job}"
rounds="${ROUNDS:-1}"
top="${TOP:-15}"

cargo fetch --quiet
TIMEFORMAT='%R %U %S'
for round in $(seq 1 "$rounds"); do
  rm -rf "$target"
  mkdir -p "$target"
  cat > "$target/rustc-cpu.sh" <<'SH'
#!/bin/sh
# Runs rustc; when it compiles a crate, appends "user system crate" to the log.
crate=-
prev=
for arg in "$@"; do
  [ "$prev" = --crate-name ] && crate=$arg
  prev=$arg
done
[ "$crate" = - ] && exec "$@"
exec /usr/bin/time -a -o "$RUSTC_CPU_LOG" -f "%U %S $crate" "$@"
SH
  chmod +x "$target/rustc-cpu.sh"
  load=$(cut -d' ' -f1 /proc/loadavg)
  # bash's `time` counts every waited-for descendant: cargo, rustc, build scripts, cc.
  times=$( { time (CARGO_TARGET_DIR="$target" RUSTC_WRAPPER="$target/rustc-cpu.sh" \
    RUSTC_CPU_LOG="$target/rustc-cpu.log" cargo build --release --quiet -p cfimg --timings \
    >/dev/null 2>&1); } 2>&1 )
  read -r r u s <<<"$times"
  printf 'round %d  clean release build of cfimg: wall %6.1f s, cpu %6.1f s  (load average %s at start)\n' \
    "$round" "$r" "$(echo "$u + $s" | bc)" "$load"
  times=$( { time (CARGO_TARGET_DIR="$target" cargo run --release --quiet -p cfimg -- demo >/dev/null 2>&1); } 2>&1 )
  read -r r u s <<<"$times"
  printf 'round %d  cfimg demo:                     wall %6.1f s, cpu %6.1f s\n' \
    "$round" "$r" "$(echo "$u + $s" | bc)"
done

# CPU seconds of each crate's rustc run (user + system, its linker included), from the
# wrapper: unlike the report's durations below, these hardly move with the machine's
# load. The total's remainder is build scripts (mostly the C of ring and the bundled
# SQLite) and cargo itself.
python3 - "$target/rustc-cpu.log" "$top" <<'PY'
import collections, sys
cpu = collections.Counter()
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) != 3:
        continue  # a "Command exited with non-zero status" line
    user, system, crate = parts
    cpu[crate] += float(user) + float(system)
print(f"last round, rustc: {sum(cpu.values()):.1f} s of CPU over {len(cpu)} crates; the largest:")
for crate, seconds in cpu.most_common(int(sys.argv[2])):
    print(f"  {crate:40} {seconds:6.1f} s")
PY

# cargo's timings report embeds one JSON record per unit (crate, build script run,
# proc-macro): its start and duration in seconds, and the time to its metadata.
report=$(ls -t "$target"/cargo-timings/cargo-timing-*.html | head -n 1)
python3 - "$report" "$top" <<'PY'
import json, re, sys
html = open(sys.argv[1]).read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
end = max(u["start"] + u["duration"] for u in units)
print(f"last round, cargo --timings: {len(units)} units, {end:.1f} s from the first to the last")
print(f"{'unit':44} {'start':>7} {'duration':>9}")
for u in sorted(units, key=lambda u: -u["duration"])[: int(sys.argv[2])]:
    name = f"{u['name']} {u['version']}" + (f" ({u['target'].strip()})" if u["target"].strip() else "")
    print(f"{name:44} {u['start']:6.1f}s {u['duration']:8.1f}s")
PY
printf 'machine: %s cores, %s\n' "$(nproc)" "$(cargo --version)"
[ -n "${KEEP:-}" ] || rm -rf "$target"
