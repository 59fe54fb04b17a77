//! The commands with modules of their own.

pub mod demo;
pub mod list;
pub mod sign;
pub mod upload;
