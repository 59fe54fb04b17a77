#!/usr/bin/env bash
# What the optimisation level of the bundled SQLite costs: compiles the amalgamation
# that libsqlite3-sys bundles (from cargo's registry, with the defines its build script
# passes) at each of -O3, -O2 and -O1, printing the compile's CPU time, then runs the
# emulator's per-upload statements (the images table of emulator/src/store.rs; a
# transaction with a lookup and an insert, then point reads and listing pages) against
# each build, in a file database with synchronous=OFF so that only SQLite's own CPU
# time is measured, not the fsyncs that dominate a real upload. Usage:
#   bash scripts/bench-sqlite-opt.sh            # 20,000 uploads
#   N=100000 bash scripts/bench-sqlite-opt.sh
# Needs gcc. Works in target/bench-sqlite-opt/, removed at the end unless KEEP=1.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
n="${N:-20000}"
version=$(cargo tree -p cloudflare-images-emulator -e normal -i libsqlite3-sys --prefix none --depth 0 |
  head -n 1 | sed -E 's/^libsqlite3-sys v([^ ]+).*/\1/')
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/libsqlite3-sys-"$version"/sqlite3 | head -n 1)
work="$root/target/bench-sqlite-opt"
rm -rf "$work" && mkdir -p "$work"

# The defines of libsqlite3-sys's build script for a `bundled` build on Linux.
defines="-DSQLITE_CORE -DSQLITE_DEFAULT_FOREIGN_KEYS=1 -DSQLITE_ENABLE_API_ARMOR
  -DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_ENABLE_FTS3
  -DSQLITE_ENABLE_FTS3_PARENTHESIS -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_JSON1
  -DSQLITE_ENABLE_LOAD_EXTENSION=1 -DSQLITE_ENABLE_MEMORY_MANAGEMENT -DSQLITE_ENABLE_RTREE
  -DSQLITE_ENABLE_STAT4 -DSQLITE_SOUNDEX -DSQLITE_THREADSAFE=1 -DSQLITE_USE_URI
  -DHAVE_USLEEP=1 -DHAVE_ISNAN -D_POSIX_THREAD_SAFE_FUNCTIONS -DHAVE_LOCALTIME_R"

cat > "$work/bench.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "sqlite3.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}
static void check(int rc, sqlite3 *db) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
    exit(1);
  }
}
static sqlite3_stmt *prep(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s;
  check(sqlite3_prepare_v2(db, sql, -1, &s, 0), db);
  return s;
}

int main(int argc, char **argv) {
  int n = atoi(argv[2]);
  sqlite3 *db;
  check(sqlite3_open(argv[1], &db), db);
  check(sqlite3_exec(db,
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
    "CREATE TABLE images (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
    " custom_id INTEGER NOT NULL, filename TEXT, uploaded TEXT NOT NULL,"
    " require_signed_urls INTEGER NOT NULL, meta TEXT NOT NULL, creator TEXT,"
    " draft INTEGER NOT NULL, upload_expiry TEXT, content_type TEXT, blob_hash TEXT);"
    "CREATE INDEX images_creator ON images (creator, seq);"
    "CREATE INDEX images_draft ON images (draft);"
    "CREATE INDEX images_blob ON images (blob_hash);", 0, 0, 0), db);
  sqlite3_stmt *begin = prep(db, "BEGIN IMMEDIATE"), *commit = prep(db, "COMMIT");
  sqlite3_stmt *exists = prep(db, "SELECT COUNT(*) FROM images WHERE id = ?1");
  sqlite3_stmt *insert = prep(db,
    "INSERT INTO images (id, custom_id, filename, uploaded, require_signed_urls, meta,"
    " creator, draft, upload_expiry, content_type, blob_hash)"
    " VALUES (?1, 0, ?2, '2026-12-07T17:00:00Z', 0, '{\"key\":\"value\"}', NULL, 0, NULL,"
    " 'image/png', ?3)");
  sqlite3_stmt *get = prep(db, "SELECT * FROM images WHERE id = ?1");
  sqlite3_stmt *page = prep(db,
    "SELECT * FROM images WHERE draft = 0 ORDER BY seq LIMIT 100 OFFSET ?1");
  char id[64], name[64], hash[80];

  double t0 = now();
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof id, "%08x-0000-4000-8000-%012d", i * 2654435761u, i);
    snprintf(name, sizeof name, "picture-%d.png", i);
    snprintf(hash, sizeof hash, "%064x", i * 40503u);
    check(sqlite3_step(begin), db); sqlite3_reset(begin);
    sqlite3_bind_text(exists, 1, id, -1, SQLITE_STATIC);
    check(sqlite3_step(exists), db); sqlite3_reset(exists);
    sqlite3_bind_text(insert, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 3, hash, -1, SQLITE_STATIC);
    check(sqlite3_step(insert), db); sqlite3_reset(insert);
    check(sqlite3_step(commit), db); sqlite3_reset(commit);
  }
  double t1 = now();
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof id, "%08x-0000-4000-8000-%012d", i * 2654435761u, i);
    sqlite3_bind_text(get, 1, id, -1, SQLITE_STATIC);
    check(sqlite3_step(get), db); sqlite3_reset(get);
  }
  double t2 = now();
  int pages = 0;
  for (int off = 0; off < n && pages < 200; off += 100, pages++) {
    sqlite3_bind_int(page, 1, off);
    while (sqlite3_step(page) == SQLITE_ROW) {}
    sqlite3_reset(page);
  }
  double t3 = now();
  printf("upload transaction %6.1f us, point read %5.1f us, listing page of 100 %6.1f us\n",
         (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6, (t3 - t2) / pages * 1e6);
  return 0;
}
C

TIMEFORMAT='%U %S'
for o in 3 2 1; do
  # shellcheck disable=SC2086 # the defines are separate words on purpose
  times=$( { time gcc -O$o $defines -fPIC -c "$src/sqlite3.c" -o "$work/sqlite3-O$o.o"; } 2>&1 )
  read -r u s <<<"$times"
  gcc -O2 -I"$src" "$work/bench.c" "$work/sqlite3-O$o.o" -lpthread -lm -ldl -o "$work/bench-O$o"
  printf -- '-O%s: compile cpu %5.1f s, size %s bytes\n' "$o" "$(echo "$u + $s" | bc)" \
    "$(stat -c %s "$work/sqlite3-O$o.o")"
done
for round in 1 2; do
  for o in 3 2 1; do
    rm -f "$work"/db*
    printf -- 'round %d -O%s: %s\n' "$round" "$o" "$("$work/bench-O$o" "$work/db" "$n")"
  done
done
[ -n "${KEEP:-}" ] || rm -rf "$work"
