//! `serve` flags of the GitOps agents' hooks: Flux v2's notification-controller and Argo CD
//! Notifications. Secrets come from a file or the environment, never from a flag's value,
//! and are never printed.

use std::path::{Path, PathBuf};

use clap::Args;
use spektate::dashboard::{FluxHook, Hooks};
use spektate::http::Secret;
use spektate::{Error, Result};

/// Flags of the hooks.
#[derive(Debug, Args, Default)]
pub struct HookArgs {
    /// Take Flux v2 events at /api/flux/<cluster>: the file holds the `token` of the
    /// generic-hmac Provider's Secret, which signs each event (X-Signature). The secret can
    /// also be given in SPEKTATE_FLUX_SECRET.
    #[arg(
        long = "flux-secret-file",
        env = "SPEKTATE_FLUX_SECRET_FILE",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub flux_secret_file: Option<PathBuf>,

    /// Take Flux events without a signature too (a `generic` Provider). Anyone who reaches
    /// the server can then report what a cluster runs. With a secret, a signature that is
    /// present and wrong is still refused; without one, signatures are not checked.
    #[arg(long = "flux-allow-unsigned")]
    pub flux_allow_unsigned: bool,

    /// Take Argo CD Notifications at /api/argocd: the file holds the bearer token the
    /// webhook service sends. The token can also be given in SPEKTATE_ARGOCD_HOOK_TOKEN.
    #[arg(
        long = "argocd-hook-token-file",
        env = "SPEKTATE_ARGOCD_HOOK_TOKEN_FILE",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub argocd_hook_token_file: Option<PathBuf>,
}

/// A secret from `file`, else the variable `var`; errors name the flag or variable, never
/// the value.
fn secret(file: Option<&Path>, flag: &str, var: &str) -> Result<Option<Secret>> {
    let (value, source) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::invalid(flag, format!("cannot read {}: {e}", path.display()))
            })?;
            (text, flag)
        }
        None => match std::env::var(var) {
            Ok(v) => (v, var),
            Err(_) => return Ok(None),
        },
    };
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(source, "is empty; the secret is required"));
    }
    Ok(Some(Secret::new(value)))
}

impl HookArgs {
    /// The hooks these flags turn on.
    pub fn hooks(&self) -> Result<Hooks> {
        let flux_secret = secret(
            self.flux_secret_file.as_deref(),
            "--flux-secret-file",
            "SPEKTATE_FLUX_SECRET",
        )?;
        let flux = (flux_secret.is_some() || self.flux_allow_unsigned).then_some(FluxHook {
            secret: flux_secret,
            allow_unsigned: self.flux_allow_unsigned,
        });
        let argocd_token = secret(
            self.argocd_hook_token_file.as_deref(),
            "--argocd-hook-token-file",
            "SPEKTATE_ARGOCD_HOOK_TOKEN",
        )?;
        Ok(Hooks { flux, argocd_token })
    }

    /// What the start-up line says of the hooks, or nothing when none is on.
    pub fn describe(hooks: &Hooks) -> String {
        let mut on = Vec::new();
        if let Some(f) = &hooks.flux {
            on.push(match (&f.secret, f.allow_unsigned) {
                (Some(_), false) => "Flux (signed) at /api/flux/<cluster>",
                (Some(_), true) => "Flux (signed or unsigned) at /api/flux/<cluster>",
                (None, _) => "Flux (unsigned) at /api/flux/<cluster>",
            });
        }
        if hooks.argocd_token.is_some() {
            on.push("Argo CD Notifications at /api/argocd");
        }
        if on.is_empty() {
            String::new()
        } else {
            format!(", hooks: {}", on.join(", "))
        }
    }
}
