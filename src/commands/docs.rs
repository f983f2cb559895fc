//! `acronis-cred completions SHELL` and `acronis-cred man --dir DIR`: both
//! generated from the clap definitions, so they never disagree with `--help`.

use clap::CommandFactory;

use crate::app::Context;
use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::{Error, Result};

use super::token::write_stdout;

pub fn completions(ctx: &mut Context<'_>, args: &CompletionsArgs) -> Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "acronis-cred", &mut out);
    write_stdout(ctx, &out)
}

pub fn man(ctx: &mut Context<'_>, args: &ManArgs) -> Result<()> {
    std::fs::create_dir_all(&args.dir).map_err(|e| Error::io("create directory", &args.dir, e))?;
    let cmd = Cli::command();
    let mut pages = vec![("acronis-cred".to_string(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("acronis-cred-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, page) in pages {
        let mut text = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut text)
            .map_err(|e| Error::unexpected(format!("cannot render the man page {name}: {e}")))?;
        let path = args.dir.join(format!("{name}.1"));
        std::fs::write(&path, text).map_err(|e| Error::io("write", &path, e))?;
        ctx.ui.info(&format!("wrote {}", path.display()));
    }
    Ok(())
}
