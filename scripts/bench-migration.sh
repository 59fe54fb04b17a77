#!/usr/bin/env bash
# A migration of 10,000 images with `cfimg upload --resume`, killed with
# `kill -9` at a random point and resumed: images stored, duplicates, uploads
# sent twice. Then the upload rate reached against the limit in force (the
# global limit and the Batch API with 1, 2 and 4 tokens), with the emulator
# enforcing Cloudflare's windows (`--rate-limit-scale`).
#   SKIP_KILL=1 bash scripts/bench-migration.sh  # the rate part only
#
#   bash scripts/bench-migration.sh            # 3 trials per backend, 10,000 images
#   TRIALS=1 IMAGES=2000 bash scripts/bench-migration.sh
#   CFIMG=target/debug/cfimg bash scripts/bench-migration.sh   # use a binary already built
#
# Needs python3 (to write the images and read the journal and JSON). Works in
# target/bench-migration/ (not /tmp), removed at the end unless KEEP=1.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
IMAGES="${IMAGES:-10000}"
TRIALS="${TRIALS:-3}"
CONCURRENCY="${CONCURRENCY:-8}"
if [ -z "${CFIMG:-}" ]; then
  cargo build --release --quiet -p cfimg
  CFIMG=target/release/cfimg
fi
if [ -z "${EMULATOR:-}" ]; then
  if [ -z "${SKIP_EMULATOR_PROCESS:-}" ]; then
    cargo build --release --quiet -p cloudflare-images-emulator
  fi
  EMULATOR=target/release/cloudflare-images-emulator
fi
work="$root/target/bench-migration"
rm -rf "$work"
mkdir -p "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# IMAGES distinct PNG files (1x1, a different text chunk each) in 100 folders.
python3 - "$work/tree" "$IMAGES" <<'PY'
import os, struct, sys, zlib
root, n = sys.argv[1], int(sys.argv[2])
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
idat = chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00\xff"))
for i in range(n):
    d = os.path.join(root, f"album{i % 100:02d}")
    os.makedirs(d, exist_ok=True)
    text = chunk(b"tEXt", b"Comment\x00" + str(i).encode())
    with open(os.path.join(d, f"photo{i:05d}.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + ihdr + text + idat + chunk(b"IEND", b""))
PY

# The journal's figures: rows done, uploads sent more than once (sends beyond
# the first, over all rows).
journal() {
  python3 - "$1/journal.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=30)
done = c.execute("SELECT count(*) FROM uploads WHERE state = 'done'").fetchone()[0]
resent = c.execute("SELECT coalesce(sum(sends - 1), 0) FROM uploads WHERE sends > 1").fetchone()[0]
print(done, resent)
PY
}

done_rows() {
  [ -f "$1/journal.db" ] || { echo 0; return; }
  python3 - "$1/journal.db" <<'PY' 2>/dev/null || echo 0
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=30)
print(c.execute("SELECT count(*) FROM uploads WHERE state = 'done'").fetchone()[0])
PY
}

# One trial: `run_env` names a function that sets the environment for cfimg.
trial() {
  local label="$1" data="$2" target
  target=$(( IMAGES / 10 + (RANDOM * 32768 + RANDOM) % (IMAGES * 8 / 10) ))
  # shellcheck disable=SC2086
  "$CFIMG" upload "$work/tree" --resume -q -j "$CONCURRENCY" ${UPLOAD_FLAGS:-} > "$work/run1.out" 2>&1 &
  local pid=$!
  pids+=("$pid")
  while [ "$(done_rows "$data")" -lt "$target" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  read -r at_kill _ < <(journal "$data")
  local t0 t1
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$CFIMG" upload "$work/tree" --resume -q -j "$CONCURRENCY" ${UPLOAD_FLAGS:-} --json > "$work/resume.json"
  t1=$(date +%s.%N)
  "$CFIMG" upload "$work/tree" --resume -q --json > "$work/rerun.json"
  "$CFIMG" list --json -q > "$work/list.json"
  read -r done resent < <(journal "$data")
  python3 - "$label" "$IMAGES" "$at_kill" "$done" "$resent" "$t0" "$t1" "$work" <<'PY'
import json, sys
label, n, at_kill, done, resent, t0, t1, work = sys.argv[1:]
resume = json.load(open(f"{work}/resume.json"))
rerun = json.load(open(f"{work}/rerun.json"))
images = json.load(open(f"{work}/list.json"))
ids = [i["id"] for i in images]
names = [i.get("filename") for i in images]
print(f"| {label} | {int(at_kill):,} | {len(resume['uploaded']) - resume['found']:,} "
      f"| {resume['found']} | {len(resume['failed'])} | {len(ids):,} of {int(n):,} "
      f"| {len(ids) - len(set(ids))} | {len(names) - len(set(names))} | {resent} "
      f"| {len(rerun['uploaded'])} ({rerun['already_done']:,} already done) "
      f"| {float(t1) - float(t0):.1f} s |")
PY
}

# The separate emulator process of the second backend: the emulator binary,
# else `cfimg serve` (the same emulator).
if [ -x "$EMULATOR" ]; then
  serve=("$EMULATOR")
else
  echo "(no emulator binary at $EMULATOR: the separate process is \`cfimg serve\`)"
  echo
  serve=("$CFIMG" serve -q)
fi
if [ -n "${SKIP_KILL:-}" ]; then TRIALS=0; else
echo "## kill -9 at a random point of a ${IMAGES}-image migration, then --resume (concurrency $CONCURRENCY)"
echo
echo "| backend | journaled done at kill | resume: uploaded | resume: found already stored (sent twice) | failed | images stored | duplicate ids | duplicate file names | sends beyond the first (journal) | third run uploaded | resume time |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
fi

# 1. The emulator embedded in cfimg (no credentials): the kill takes it down
#    too, mid-write.
for t in $(seq "$TRIALS"); do
  data="$work/embedded-$t"
  mkdir -p "$data"
  (
    unset CLOUDFLARE_API_TOKEN CLOUDFLARE_API_KEY CLOUDFLARE_EMAIL CLOUDFLARE_API_USER_SERVICE_KEY \
      CLOUDFLARE_ACCOUNT_ID CLOUDFLARE_BASE_URL XDG_DATA_HOME
    export CFIMG_DATA_DIR="$data"
    trial "embedded emulator #$t" "$data"
  )
done

# 2. A separate emulator process on a data folder: only cfimg is killed.
for t in $(seq "$TRIALS"); do
    data="$work/process-$t"
    mkdir -p "$data/emu" "$data/cfimg"
    "${serve[@]}" --port 0 --data-dir "$data/emu" > "$work/emu.out" 2>/dev/null &
    emu=$!
    pids+=("$emu")
    for _ in $(seq 100); do [ -s "$work/emu.out" ] && break; sleep 0.1; done
    base_url="$(head -n1 "$work/emu.out" | grep -o 'http://[^ ]*')"
    (
      unset CLOUDFLARE_API_KEY CLOUDFLARE_EMAIL CLOUDFLARE_API_USER_SERVICE_KEY XDG_DATA_HOME
      export CFIMG_DATA_DIR="$data/cfimg" CLOUDFLARE_BASE_URL="$base_url" CLOUDFLARE_API_TOKEN=bench \
        CLOUDFLARE_ACCOUNT_ID=023e105f4ecef8ad9ca31a8372d0c353
      # Not paced to Cloudflare's 1,200 per 5 minutes: this measures the journal.
      UPLOAD_FLAGS=--no-rate-limit
      trial "emulator process #$t" "$data/cfimg"
    )
    kill "$emu" 2>/dev/null || true
    wait "$emu" 2>/dev/null || true
done

# 3. Rate reached against the limit in force, with the emulator enforcing
#    Cloudflare's windows (scaled so a run takes seconds, not hours) and cfimg
#    paced to the same limits (--api-rate, --batch-rate).
echo
echo "## Upload rate against the limit in force (${RATE_IMAGES:-10000} images per run)"
echo
if [ ! -x "$EMULATOR" ] || ! "$EMULATOR" --help 2>&1 | grep -q -- '--rate-limit-scale'; then
  echo "skipped: this emulator has no --rate-limit-scale (scaled Cloudflare rate windows)"
  exit 0
fi
RATE_IMAGES="${RATE_IMAGES:-10000}"
# The global limit, 1,200 per 300 s, scaled by GLOBAL_SCALE (0.02: 1,200 per 6 s,
# 200/s); batch tokens at their real 200 per second (BATCH_SCALE 1).
GLOBAL_SCALE="${GLOBAL_SCALE:-0.02}"
BATCH_SCALE="${BATCH_SCALE:-1}"
rate_run() {
  # label, scale, window requests, window seconds, cfimg flags...
  local label="$1" scale="$2" requests="$3" per="$4"; shift 4
  local data="$work/rate-$RANDOM"
  mkdir -p "$data/emu" "$data/cfimg"
  "$EMULATOR" --port 0 --data-dir "$data/emu" --rate-limit-scale "$scale" > "$work/emu.out" 2>/dev/null &
  local emu=$!
  pids+=("$emu")
  for _ in $(seq 100); do [ -s "$work/emu.out" ] && break; sleep 0.1; done
  local base_url
  base_url="$(head -n1 "$work/emu.out" | grep -o 'http://[^ ]*')"
  local t0 t1
  t0=$(date +%s.%N)
  CFIMG_DATA_DIR="$data/cfimg" CLOUDFLARE_BASE_URL="$base_url" CLOUDFLARE_API_TOKEN=bench \
    CLOUDFLARE_BATCH_URL="${base_url%/client/v4}/batch" \
    CLOUDFLARE_ACCOUNT_ID=023e105f4ecef8ad9ca31a8372d0c353 \
    "$CFIMG" upload "$work/tree" --resume -q --json "$@" > "$work/rate.json" || true
  t1=$(date +%s.%N)
  CFIMG_DATA_DIR="$data/cfimg" CLOUDFLARE_BASE_URL="$base_url" CLOUDFLARE_API_TOKEN=bench \
    CLOUDFLARE_ACCOUNT_ID=023e105f4ecef8ad9ca31a8372d0c353 \
    "$CFIMG" list --json -q > "$work/list.json"
  python3 - "${base_url%/client/v4}/console/stats.json" > "$work/stats.json" <<'PY'
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1]).read().decode())
PY
  kill "$emu" 2>/dev/null || true
  wait "$emu" 2>/dev/null || true
  python3 - "$label" "$requests" "$per" "$t0" "$t1" "$work" <<'PY'
import json, math, sys
label, requests, per, t0, t1, work = sys.argv[1:]
requests, per, secs = int(requests), float(per), float(t1) - float(t0)
r = json.load(open(f"{work}/rate.json"))
stats = json.load(open(f"{work}/stats.json"))
images = json.load(open(f"{work}/list.json"))
names = [i.get("filename") for i in images]
n = len(r["uploaded"])
# The sustained rate, as the limit counts it: the uploads the server stored
# (`uploaded`, its clock, in milliseconds) in the whole windows from the first
# one on (k windows of `per`, the most that fit before the last upload; the
# last, partial window is where the work ran out), per second. A client at the
# allowed rate stores `requests` in each.
def ts(v):
    from datetime import datetime
    return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
times = sorted(ts(i["uploaded"]) for i in images if i.get("uploaded"))
k = int((times[-1] - times[0]) // per) if times else 0
in_windows = sum(1 for t in times if t < times[0] + k * per)
sustained = in_windows / (k * per) if k else float("nan")
# The fastest any client can finish under a sliding window of `requests` per
# `per`: a full window at once, then one more every `per`, so the last window
# opens at per * (ceil(n / requests) - 1).
ideal = per * (math.ceil(n / requests) - 1)
limit = f"{requests:,} per {per:g} s ({requests / per:,.0f}/s)"
# cfimg's own measure of its upload phase (after walking the tree and reading the
# journal): the fraction without the fixed start-up cost.
phase = r["elapsed_ms"] / 1000
fastest = f"{ideal:.1f} s"
fraction = f"{ideal / secs:.3f} ({ideal / phase:.3f} over {phase:.1f} s of uploads)"
steady = f"{in_windows:,} in {k} x {per:g} s: {sustained:,.1f}/s, {sustained / (requests / per):.3f}"
if requests >= n:
    limit, fastest, fraction = "none that binds", "-", f"- ({n / phase:,.0f}/s over {phase:.1f} s of uploads)"
    steady = f"{sustained:,.1f}/s"
print(f"| {label} | {limit} | {steady} | {n:,} in {secs:.1f} s "
      f"| {n / secs:,.1f}/s | {fastest} | {fraction} | {len(r['failed'])} "
      f"| {stats['rate_limited']} | {len(names) - len(set(names))} | {stats['images']:,} |")
PY
}
echo "| mode | limit in force | sustained rate: stored in whole windows from the first upload (server's clock), fraction of the allowed rate | uploaded | rate | fastest the limit allows | fraction of the allowed rate: fastest / time (fastest / upload phase) | failed | 429s answered by the emulator | duplicate file names | images stored |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
find "$work/tree" -name '*.png' | sort | tail -n +$(( RATE_IMAGES + 1 )) | xargs -r rm -f
global_per=$(python3 -c "print(300 * $GLOBAL_SCALE)")
# RATE_MODES picks the rows: global, the token counts, machine.
RATE_MODES="${RATE_MODES:-global 1 2 4 machine}"
[[ " $RATE_MODES " != *" global "* ]] || rate_run "global limit (scale $GLOBAL_SCALE)" "$GLOBAL_SCALE" 1200 "$global_per" \
  --api-rate "1200/${global_per}s" -j 64
batch_per=$(python3 -c "print(1 * $BATCH_SCALE)")
for tokens in 1 2 4; do
  [[ " $RATE_MODES " == *" $tokens "* ]] || continue
  rate_run "batch API, $tokens token(s)" "$BATCH_SCALE" $(( 200 * tokens )) "$batch_per" \
    --batch-api --tokens "$tokens" --batch-rate "200/${batch_per}s"
done
# The machine's own limit: 4 tokens, the emulator's windows and cfimg's pacing so
# wide they never bind (1,000,000 per second per token).
[[ " $RATE_MODES " != *" machine "* ]] || rate_run "machine limit: batch API, 4 tokens, unpaced" 0.000001 800000000 1 \
  --batch-api --tokens 4 --batch-rate "200000000/1s"
