//! One module per subcommand. Each takes the [`Context`](crate::app::Context)
//! and its own arguments, and writes its answer to `ctx.ui.stdout`.

pub mod docker;
pub mod docs;
pub mod doctor;
pub mod exec;
pub mod git;
mod helper_io;
pub mod kubectl;
pub mod register;
pub mod remove;
pub mod rotate;
pub mod setup;
pub mod status;
pub mod terraform;
pub mod token;
pub mod url;
