//! Output protocols: pure functions from a token (and, for helper protocols,
//! a parsed request) to the exact bytes a caller expects on stdout, and the
//! parsers for what those callers send.

pub mod docker;
pub mod git;
pub mod kubectl;
pub mod plain;
pub mod terraform;
