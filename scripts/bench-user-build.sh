#!/usr/bin/env bash
# Build cost for a user: times the clean debug build of two scratch applications,
# each with a fresh target directory, on this machine:
#   sdk-app         depends on this SDK by path (default features), builds a Client
#   cloudflare-app  depends on `cloudflare = "0.14"` from crates.io, builds its Client
# and prints both times and their ratio. Dependencies are fetched before timing, so
# only compilation is measured. Usage:
#   bash scripts/bench-user-build.sh              # this checkout vs cloudflare 0.14
#   SDK=/path/to/other/checkout bash scripts/bench-user-build.sh   # another SDK tree
#   OLD_SDK=/path/to/older/checkout bash scripts/bench-user-build.sh   # adds a third app
# Set BASELINE=skip to time the SDK application only, ROUNDS=n to build each n times
# (alternating, so a change in the machine's load hits every app). Wall time and CPU
# time (user + system, all compiler processes) are printed with the load average at
# the start of each build: other work on a shared machine stretches wall time much
# more than CPU time, so compare CPU times when the load is not near zero.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
sdk="${SDK:-$root}"
base="$root/target/bench-user-build"
rm -rf "$base" && mkdir -p "$base"

make_app() { # name, dependency line, main.rs body
  local app="$base/$1"
  mkdir -p "$app/src"
  cat > "$app/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
$2
TOML
  printf '%s\n' "$3" > "$app/src/main.rs"
}

make_app sdk-app "cloudflare-images = { path = \"$sdk\" }" '
fn main() {
    let client = cloudflare_images::Client::builder()
        .api_token("token")
        .account_id("023e105f4ecef8ad9ca31a8372d0c353")
        .build()
        .expect("client");
    println!("{}", client.base_url());
}'
# The SDK's own lock file, so the app builds the versions the SDK is tested with.
[ -f "$sdk/Cargo.lock" ] && cp "$sdk/Cargo.lock" "$base/sdk-app/Cargo.lock"

make_app cloudflare-app 'cloudflare = "0.14"' '
use cloudflare::framework::{auth::Credentials, client::{async_api::Client, ClientConfig}, Environment};
fn main() {
    let client = Client::new(
        Credentials::UserAuthToken { token: "token".into() },
        ClientConfig::default(),
        Environment::Production,
    );
    println!("{}", client.is_ok());
}'

apps=(sdk-app)
[ "${BASELINE:-}" = skip ] || apps+=(cloudflare-app)
if [ -n "${OLD_SDK:-}" ]; then
  make_app old-sdk-app "cloudflare-images = { path = \"$OLD_SDK\" }" "$(cat "$base/sdk-app/src/main.rs")"
  [ -f "$OLD_SDK/Cargo.lock" ] && cp "$OLD_SDK/Cargo.lock" "$base/old-sdk-app/Cargo.lock"
  apps+=(old-sdk-app)
fi

declare -A wall cpu
for app in "${apps[@]}"; do
  (cd "$base/$app" && cargo fetch --quiet) || {
    echo "could not fetch the dependencies of $app" >&2
    exit 1
  }
done
rounds="${ROUNDS:-1}"
TIMEFORMAT='%R %U %S'
for round in $(seq 1 "$rounds"); do
  for app in "${apps[@]}"; do
    dir="$base/$app"
    rm -rf "$dir/target"
    load=$(cut -d' ' -f1 /proc/loadavg)
    # bash's `time` counts every waited-for descendant: cargo, rustc, build scripts, cc.
    # CARGO_INCREMENTAL=0: the SDK is a path dependency here, which cargo compiles
    # incrementally in a debug build (4 s more for the SDK on this machine); from
    # crates.io, as users get it, it is compiled without, like every other
    # dependency of both apps.
    times=$( { time (cd "$dir" && CARGO_INCREMENTAL=0 CARGO_TARGET_DIR="$dir/target" cargo build --quiet 2>/dev/null) ; } 2>&1 )
    read -r r u s <<<"$times"
    c=$(echo "$u + $s" | bc)
    wall[$app]=$(echo "${wall[$app]:-0} + $r" | bc)
    cpu[$app]=$(echo "${cpu[$app]:-0} + $c" | bc)
    crates=$(cd "$dir" && cargo tree -e normal,build --prefix none --format '{p}' | sort -u | wc -l)
    printf 'round %d  %-15s clean debug build: wall %6.1f s, cpu %6.1f s  (%d crates, load average %s at start)\n' \
      "$round" "$app" "$r" "$c" "$crates" "$load"
  done
done
for app in "${apps[@]}"; do
  [ "$app" = cloudflare-app ] && continue
  if [ -n "${wall[cloudflare-app]:-}" ]; then
    printf 'ratio %s / cloudflare-app (totals of %d round(s)): wall %.2f, cpu %.2f\n' "$app" "$rounds" \
      "$(echo "${wall[$app]} / ${wall[cloudflare-app]}" | bc -l)" \
      "$(echo "${cpu[$app]} / ${cpu[cloudflare-app]}" | bc -l)"
  fi
done
printf 'machine: %s cores, %s\n' "$(nproc)" "$(cargo --version)"
