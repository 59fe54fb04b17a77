//! cfimg's integration tests, one binary: every command run as a process
//! (`commands`), migrations with `--resume` and `--shard` (`migrate`), and
//! `sync` and bulk `delete` (`sync_delete`), `export` / `import` (`export`),
//! `variants apply`, `keys rotate` and `doctor` against an emulator, and `url`.
//! Golden files are in `cli/tests/golden`.

mod commands;
mod common;
mod doctor;
mod export;
mod key_rotation;
mod migrate;
mod sync_delete;
mod url;
mod variants_apply;
