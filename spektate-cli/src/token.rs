//! `spektate token`: create, list and revoke the tokens pipelines write with and viewers
//! read with, in the token file `spektate serve --tokens` reads.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use spektate::dashboard::tokens::{Scope, TokenFile};
use spektate::{Error, Result};

use crate::store_args::StoreArgs;

/// `token` flags.
#[derive(Debug, Args)]
pub struct TokenCmd {
    #[command(subcommand)]
    pub what: TokenWhat,

    /// The token file (created when missing; kept readable by its owner only).
    #[arg(
        long,
        env = "SPEKTATE_TOKENS",
        value_name = "FILE",
        global = true,
        hide_env_values = true
    )]
    pub tokens: Option<PathBuf>,
}

/// Subcommands of `token`.
#[derive(Debug, Subcommand)]
pub enum TokenWhat {
    /// Make a token and print it, once; the file keeps only its SHA-256.
    Create {
        /// Who or what holds it (`ci-frontend`); unique in the file.
        name: String,
        /// A partition it may use; repeat for more (default: --partition-key).
        #[arg(long = "partition", value_name = "PARTITION")]
        partitions: Vec<String>,
        /// What it may do: write (pipelines), read (viewers with --auth token), or both.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "write",
            value_name = "read|write"
        )]
        scope: Vec<String>,
    },
    /// List the tokens: id, name, scopes, partitions and creation time (never the token).
    List,
    /// Revoke a token by id or name; a running server refuses it within a second.
    Revoke {
        /// The token's id (the 8 hex digits after `spk_`) or name.
        id_or_name: String,
    },
}

/// Runs `token`, printing on stdout. A new token is printed before the file keeps its hash:
/// if it cannot be shown, no token exists.
pub fn run(cmd: TokenCmd, store: &StoreArgs) -> Result<()> {
    let path = cmd.tokens.ok_or_else(|| {
        Error::invalid("--tokens", "name the token file (or set SPEKTATE_TOKENS)")
    })?;
    let flag = |e: spektate::dashboard::Error| match e {
        spektate::dashboard::Error::Invalid { field, reason } => {
            let field = match field.as_str() {
                "tokens file" => "--tokens".to_string(),
                "scope" | "partition" => format!("--{field}"),
                _ => field,
            };
            Error::Invalid { field, reason }
        }
        other => Error::invalid("token", other),
    };
    let mut file = TokenFile::load(&path).map_err(flag)?;
    match cmd.what {
        TokenWhat::Create {
            name,
            partitions,
            scope,
        } => {
            let scopes = scope
                .iter()
                .map(|s| Scope::parse(s))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(flag)?;
            let partitions = if partitions.is_empty() {
                vec![store.partition_key.clone()]
            } else {
                partitions
            };
            let token = file.create(&name, &scopes, &partitions).map_err(flag)?;
            let entry = file.tokens.last().expect("the token just created");
            let told = format!(
                "spektate: token {} ({}) may {} partition(s) {}; it is shown only now",
                entry.id,
                entry.name,
                scope_words(&entry.scopes),
                entry.partitions.join(", ")
            );
            crate::stdout::line(token.expose())?;
            file.save(&path).map_err(|e| {
                Error::invalid(
                    "--tokens",
                    format!(
                        "the token printed above is not kept, so it does not work: {}",
                        flag(e)
                    ),
                )
            })?;
            eprintln!("{told}");
            Ok(())
        }
        TokenWhat::List => {
            let mut rows =
                vec![["ID", "NAME", "SCOPES", "PARTITIONS", "CREATED"].map(String::from)];
            for t in &file.tokens {
                rows.push([
                    t.id.clone(),
                    t.name.clone(),
                    scope_words(&t.scopes).replace(" and ", ","),
                    t.partitions.join(","),
                    t.created.format("%Y-%m-%d %H:%M UTC").to_string(),
                ]);
            }
            crate::stdout::line(&aligned(&rows))
        }
        TokenWhat::Revoke { id_or_name } => {
            let gone = file.revoke(&id_or_name).ok_or_else(|| {
                Error::invalid(
                    "token",
                    format!("no token has the id or name '{id_or_name}'; see spektate token list"),
                )
            })?;
            file.save(&path).map_err(flag)?;
            crate::stdout::line(&format!("revoked token {} ({})", gone.id, gone.name))
        }
    }
}

fn scope_words(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Rows in columns two spaces apart, without trailing spaces.
fn aligned(rows: &[[String; 5]]) -> String {
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            line.join("  ").trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
