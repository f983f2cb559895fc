//! One module per subcommand. Each takes the [`Context`](crate::app::Context)
//! and its own arguments, and writes its answer to `ctx.ui.stdout`.

pub mod register;
pub mod remove;
pub mod status;
pub mod token;
pub mod url;
