#!/usr/bin/env bash
# Peak memory (max RSS) of streaming a whole v2 listing through the SDK
# (`V2Images`, 1,000 per page, prefetch on), 100,000 images against 10,000 in the
# same run. The emulator runs in a separate process on a seeded data folder, so
# only the client is measured. Needs /usr/bin/time (GNU).
#
#   bash scripts/bench-list-memory.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install -y time" >&2; exit 1; }
cargo build --release --quiet -p cloudflare-images-emulator
# A bench target's binary has a hashed name: take its path from cargo's JSON messages.
bench="$(cargo bench --quiet -p cloudflare-images --bench bench_list_memory --no-run --message-format=json \
  | grep '"name":"bench_list_memory"' | grep -o '"executable":"[^"]*"' | tail -n1 | cut -d'"' -f4)"
[ -x "$bench" ] || { echo "bench_list_memory was not built" >&2; exit 1; }
work="$root/target/bench-list-memory"
rm -rf "$work" && mkdir -p "$work"
emu=
trap '[ -n "$emu" ] && kill "$emu" 2>/dev/null; rm -rf "$work"' EXIT
peak() {
  local n="$1"
  [ -d "$work/$n" ] || "$bench" seed "$work/$n" "$n" >/dev/null
  target/release/cloudflare-images-emulator --port 0 --data-dir "$work/$n" > "$work/emu.out" 2>/dev/null &
  emu=$!
  for _ in $(seq 100); do [ -s "$work/emu.out" ] && break; sleep 0.1; done
  local base_url
  base_url="$(head -n1 "$work/emu.out" | grep -o 'http://[^ ]*')"
  CLOUDFLARE_BASE_URL="$base_url" CLOUDFLARE_API_TOKEN=x CLOUDFLARE_ACCOUNT_ID=023e105f4ecef8ad9ca31a8372d0c353 \
    /usr/bin/time -f '%M' -o "$work/rss" "$bench" list > "$work/list.out"
  kill "$emu" 2>/dev/null || true
  wait "$emu" 2>/dev/null || true
  emu=
  grep -q "listed $n images" "$work/list.out" || { cat "$work/list.out" >&2; exit 1; }
  cat "$work/rss"
}
small=$(peak 10000); big=$(peak 100000)
small2=$(peak 10000); big2=$(peak 100000)
echo "peak RSS, listing 10,000 images:  ${small} KB, ${small2} KB"
echo "peak RSS, listing 100,000 images: ${big} KB, ${big2} KB"
awk -v b="$big" -v s="$small" -v b2="$big2" -v s2="$small2" \
  'BEGIN { printf "ratio 100,000 / 10,000: %.3f and %.3f\n", b/s, b2/s2 }'
