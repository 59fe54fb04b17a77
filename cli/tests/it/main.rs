//! cfimg's integration tests, one binary: every command run as a process
//! (`commands`), migrations with `--resume` and `--shard` (`migrate`), and
//! `sync` and bulk `delete` (`sync_delete`), `export` / `import` (`export`).
//! Golden files are in `cli/tests/golden`.

mod commands;
mod common;
mod export;
mod migrate;
mod sync_delete;
