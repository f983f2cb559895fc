use std::process::ExitCode;

use acronis_cred::env::Env;
use acronis_cred::platform::RealPlatform;
use acronis_cred::time::SystemClock;

fn main() -> ExitCode {
    acronis_cred::hygiene::harden_process();
    let env = Env::from_process();
    let code = acronis_cred::run(
        std::env::args_os(),
        &env,
        &SystemClock,
        &RealPlatform::from_env(&env),
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(code)
}
