//! Output protocols: pure functions from a token (and, for helper protocols,
//! a parsed request) to the exact bytes a caller expects on stdout.

pub mod plain;
