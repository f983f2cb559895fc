//! Reading what a calling tool sends on stdin, bounded and zeroed after use
//! (git sends the password it used along with `erase`).

use std::io::Read;

use zeroize::Zeroizing;

use crate::app::Context;

/// Reads stdin to its end; `None` if it is longer than `max`.
pub fn read_stdin(ctx: &mut Context<'_>, max: usize) -> std::io::Result<Option<Zeroizing<Vec<u8>>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(1024));
    Read::take(&mut ctx.ui.stdin, max as u64 + 1).read_to_end(&mut buf)?;
    Ok((buf.len() <= max).then_some(buf))
}
