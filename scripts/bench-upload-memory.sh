#!/usr/bin/env bash
# Peak memory (max RSS) of uploading a 10 MiB file from disk through the SDK,
# as a ratio against uploading a 1 KiB file in the same run. The emulator runs in
# a separate process, so only the client is measured. Needs /usr/bin/time (GNU).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install -y time" >&2; exit 1; }
cargo build --release --quiet -p cloudflare-images-emulator
cargo build --release --quiet -p cloudflare-images --example upload_file
work="$(mktemp -d)"
trap 'kill "$emu" 2>/dev/null || true; rm -rf "$work"' EXIT
target/release/cloudflare-images-emulator --port 0 > "$work/emu.out" 2>/dev/null &
emu=$!
for _ in $(seq 50); do [ -s "$work/emu.out" ] && break; sleep 0.1; done
base_url="$(head -n1 "$work/emu.out" | grep -o 'http://[^ ]*')"
python3 - "$work" <<'PY'
import os, sys
png = b"\x89PNG\r\n\x1a\n"
for name, size in (("big.png", 10 * 1024 * 1024), ("small.png", 1024)):
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(png + os.urandom(size - len(png)))
PY
peak() {
  CLOUDFLARE_BASE_URL="$base_url" CLOUDFLARE_API_TOKEN=x CLOUDFLARE_ACCOUNT_ID=023e105f4ecef8ad9ca31a8372d0c353 \
    /usr/bin/time -f '%M' -o "$work/rss" target/release/examples/upload_file "$1" >/dev/null
  cat "$work/rss"
}
small=$(peak "$work/small.png"); big=$(peak "$work/big.png")
small2=$(peak "$work/small.png"); big2=$(peak "$work/big.png")
echo "peak RSS, 1 KiB upload:  ${small} KB, ${small2} KB"
echo "peak RSS, 10 MiB upload: ${big} KB, ${big2} KB"
awk -v b="$big" -v s="$small" -v b2="$big2" -v s2="$small2" \
  'BEGIN { printf "ratio 10 MiB / 1 KiB: %.3f and %.3f; extra for 10 MiB: %d KB and %d KB\n", b/s, b2/s2, b-s, b2-s2 }'
