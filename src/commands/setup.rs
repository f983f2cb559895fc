//! `acronis-cred setup git|docker|kubectl|terraform`: prints the exact
//! configuration that makes each tool use this helper for the profile.
//! Nothing is changed: the output is for the user to apply (or pipe to `sh`).

use crate::app::Context;
use crate::cli::{SetupArgs, SetupTarget};
use crate::error::{Error, Result};
use crate::protocol::kubectl::V1;
use crate::protocol::plain::shell_quote;

use super::token::write_stdout;

pub fn run(ctx: &mut Context<'_>, args: &SetupArgs) -> Result<()> {
    let name = ctx.profile_name()?;
    let profile = ctx.load_profile(&name)?;
    let exe = std::env::current_exe()
        .map_err(|e| Error::unexpected(format!("cannot find this program's own path: {e}")))?;
    let exe = exe.to_string_lossy().into_owned();
    let dc = &profile.datacenter;
    let text = match args.target {
        SetupTarget::Git => {
            let key = format!("credential.{dc}.helper");
            // `!` runs the helper through the shell, so the path is quoted for it.
            let helper = format!("!{} --profile {name} git", shell_quote(&exe));
            format!(
                "# Use acronis-cred for {dc} in git. The empty value first stops other\n\
                 # helpers (a keychain, a store) from also answering for this host.\n\
                 git config --global --replace-all {key} ''\n\
                 git config --global --add {key} {helper}\n",
                key = shell_quote(&key),
                helper = shell_quote(&helper),
            )
        }
        SetupTarget::Docker => {
            let _ = writeln!(
                ctx.ui.stderr,
                "acronis-cred: merge this into ~/.docker/config.json, and put a link named docker-credential-acronis on PATH:\n\
                 acronis-cred:   ln -s {} ~/.local/bin/docker-credential-acronis",
                shell_quote(&exe)
            );
            let map = serde_json::json!({ "credHelpers": { dc.authority(): "acronis" } });
            let mut text = serde_json::to_string_pretty(&map).unwrap_or_default();
            text.push('\n');
            text
        }
        SetupTarget::Kubectl => format!(
            "# A kubeconfig user that gets its token from acronis-cred (profile {name}).\n\
             # Add it under `users:` and name it in a context.\n\
             users:\n\
             - name: acronis-{name}\n  \
               user:\n    \
                 exec:\n      \
                   apiVersion: {V1}\n      \
                   command: {exe}\n      \
                   args: [\"--profile\", \"{name}\", \"kubectl\"]\n      \
                   interactiveMode: Never\n      \
                   provideClusterInfo: false\n",
            exe = serde_json::Value::String(exe.clone()),
        ),
        SetupTarget::Terraform => format!(
            "# Add to the Terraform CLI configuration (~/.terraformrc, or the file in TF_CLI_CONFIG_FILE),\n\
             # and link the helper where Terraform looks for it:\n\
             #   mkdir -p ~/.terraform.d/plugins && ln -s {exe} ~/.terraform.d/plugins/terraform-credentials-acronis\n\
             credentials_helper \"acronis\" {{\n  args = [\"--profile\", \"{name}\"]\n}}\n",
            exe = shell_quote(&exe),
        ),
    };
    write_stdout(ctx, text.as_bytes())
}
