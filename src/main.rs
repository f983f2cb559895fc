use std::process::ExitCode;

use acronis_cred::alloc::ZeroingAllocator;
use acronis_cred::env::Env;
use acronis_cred::platform::RealPlatform;
use acronis_cred::time::SystemClock;

#[global_allocator]
static ALLOCATOR: ZeroingAllocator = ZeroingAllocator;

fn main() -> ExitCode {
    acronis_cred::hygiene::harden_process();
    let env = Env::from_process();
    acronis_cred::hygiene::apply_test_hooks_at_start(&env);
    let code = run(&env);
    acronis_cred::alloc::scrub_stack();
    acronis_cred::hygiene::apply_test_hooks_at_exit(&env);
    ExitCode::from(code)
}

#[inline(never)]
fn run(env: &Env) -> u8 {
    #[cfg(unix)]
    let (mut stdin, mut stdout, mut stderr) = (
        acronis_cred::stdio::Stdin::new(),
        acronis_cred::stdio::Out::stdout(),
        acronis_cred::stdio::Out::stderr(),
    );
    #[cfg(not(unix))]
    let (mut stdin, mut stdout, mut stderr) =
        (std::io::stdin().lock(), std::io::stdout().lock(), std::io::stderr().lock());
    acronis_cred::run(
        std::env::args_os(),
        env,
        &SystemClock,
        &RealPlatform::from_env(env),
        &mut stdin,
        &mut stdout,
        &mut stderr,
    )
}
