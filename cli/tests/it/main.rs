//! cfimg's integration tests, one binary: every command run as a process
//! (`commands`), migrations with `--resume` and `--shard` (`migrate`), and
//! `sync` and bulk `delete` (`sync_delete`).
//! Golden files are in `cli/tests/golden`.

mod commands;
mod common;
mod migrate;
mod sync_delete;
