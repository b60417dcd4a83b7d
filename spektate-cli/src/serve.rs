//! `spektate serve`: the dashboard, its read API and a write API pipelines record to with a
//! token, so they need no store credentials.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use spektate::dashboard::tokens::Tokens;
use spektate::dashboard::{
    self, Dashboard, LogFormat, Oidc, OidcRule, OidcRules, Service, ViewerAuth, ViewerRule,
};
use spektate::{Error, Result};

use crate::dashboard::DashboardCmd;
use crate::serve_hooks::HookArgs;
use crate::serve_notify::NotifyArgs;
use crate::store_args::{Access, StoreArgs};

/// `serve` flags: those of `dashboard`, and who may write and read.
#[derive(Debug, Args)]
pub struct ServeCmd {
    #[command(flatten)]
    pub dashboard: DashboardCmd,

    /// The token list pipelines and viewers present (`spektate token create`); re-read within
    /// a second when it changes. Without it every write is refused.
    #[arg(
        long,
        env = "SPEKTATE_TOKENS",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub tokens: Option<PathBuf>,

    /// Let pipelines write with an OIDC ID token of their CI (GitHub Actions, Azure
    /// Pipelines) when its issuer, audience and claims match this rule; repeat for more:
    /// `issuer=URL,audience=AUD,repository=owner/*,partitions=p1;p2` (claims: repository,
    /// repository_owner, repository_id, repository_owner_id, ref, environment, workflow_ref,
    /// job_workflow_ref, event_name, sub, project, claim.NAME; `*` is any run of characters).
    #[arg(long = "oidc-rule", value_name = "RULE")]
    pub oidc_rule: Vec<String>,

    /// OIDC rules from a JSON file, `{"rules": [{"issuer": ..., "audience": ...,
    /// "repository": ..., "partitions": [...]}]}`, the keys of --oidc-rule; read at start.
    #[arg(
        long = "oidc-rules",
        env = "SPEKTATE_OIDC_RULES",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub oidc_rules: Option<PathBuf>,

    /// How viewers sign in: `none`; `token` (Authorization: Bearer, a token with scope
    /// read); `header` (a header set by an authenticating proxy in front, see --auth-header).
    #[arg(long, env = "SPEKTATE_AUTH", value_parser = ["none", "token", "header"], default_value = "none", hide_env_values = true)]
    pub auth: String,

    /// The headers that name the viewer with --auth header; the first one present wins.
    #[arg(
        long = "auth-header",
        value_delimiter = ',',
        default_value = "X-Forwarded-User,X-Forwarded-Email",
        value_name = "NAME"
    )]
    pub auth_header: Vec<String>,

    /// With --auth header: open a partition to the viewers the proxy names, as
    /// `partition=NAME,user=PATTERN` (`*` any run of characters, case ignored); repeat for
    /// more. Without any, every viewer the proxy lets in reads every partition.
    #[arg(long = "viewer-rule", value_name = "RULE", value_parser = |v: &str| ViewerRule::parse(v))]
    pub viewer_rule: Vec<ViewerRule>,

    /// Serve viewers without sign-in on an address other machines can reach (without it,
    /// `--auth none` listens on loopback only).
    #[arg(long)]
    pub insecure_no_auth: bool,

    /// Log lines on stderr as `text` or `json` (one object a line).
    #[arg(long, env = "SPEKTATE_LOG_FORMAT", value_parser = ["text", "json"], default_value = "text", hide_env_values = true)]
    pub log_format: String,

    #[command(flatten)]
    pub notify: NotifyArgs,

    #[command(flatten)]
    pub hooks: HookArgs,

    /// Export each finished deployment once as an OpenTelemetry trace to this OTLP/HTTP
    /// collector (`http://collector:4318`; traces go to `/v1/traces`). Without it,
    /// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the traces URL, as it is), else
    /// OTEL_EXPORTER_OTLP_ENDPOINT (the collector); OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or
    /// OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf, the default, or http/json) and
    /// OTEL_EXPORTER_OTLP_TRACES_HEADERS or OTEL_EXPORTER_OTLP_HEADERS apply.
    #[arg(long = "otlp-endpoint", value_name = "URL")]
    pub otlp_endpoint: Option<String>,

    /// With --otlp-endpoint, also export the server's own work: each refresh as a
    /// `spektate.refresh` span (partition, counts, error), with a child span for each
    /// provider request made during it (method, URL with query values redacted, status,
    /// retries).
    #[arg(
        long = "otlp-self-traces",
        env = "SPEKTATE_OTLP_SELF_TRACES",
        value_parser = clap::builder::BoolishValueParser::new(), hide_env_values = true)]
    pub otlp_self_traces: bool,
}

impl ServeCmd {
    /// The OIDC rules of --oidc-rules and --oidc-rule, or none.
    fn oidc(&self) -> Result<Option<Oidc>> {
        let mut rules = match &self.oidc_rules {
            Some(path) => OidcRules::load(path).map_err(|e| flag("--oidc-rules", e))?,
            None => OidcRules::default(),
        };
        for rule in &self.oidc_rule {
            rules.extend([OidcRule::parse(rule).map_err(|e| flag("--oidc-rule", e))?]);
        }
        if rules.is_empty() {
            return Ok(None);
        }
        Oidc::new(rules)
            .map(Some)
            .map_err(|e| flag("--oidc-rule", e))
    }

    /// How viewers sign in, checked against where the server listens.
    fn viewers(&self) -> Result<ViewerAuth> {
        let auth = match self.auth.as_str() {
            "token" => ViewerAuth::Token,
            "header" => {
                let names = self
                    .auth_header
                    .iter()
                    .map(|n| {
                        n.trim().parse().map_err(|_| {
                            Error::invalid("--auth-header", format!("'{n}' is not a header name"))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                ViewerAuth::Header(names)
            }
            _ => ViewerAuth::None,
        };
        let bind = self.dashboard.bind;
        if !auth.is_on() && !bind.is_loopback() && !self.insecure_no_auth {
            return Err(Error::invalid(
                "--bind",
                format!(
                    "{bind} lets other machines in, and viewers do not sign in: give --auth token \
                     or --auth header (behind an authenticating proxy), or say --insecure-no-auth"
                ),
            ));
        }
        if matches!(auth, ViewerAuth::Token) && self.tokens.is_none() {
            return Err(Error::invalid(
                "--auth",
                "token needs --tokens FILE with read tokens (spektate token create --scope read)",
            ));
        }
        Ok(auth)
    }
}

/// A dashboard error as an error of `name`, without repeating the field.
fn flag(name: &str, e: dashboard::Error) -> Error {
    match e {
        dashboard::Error::Invalid { reason, .. } => Error::invalid(name, reason),
        other => Error::invalid(name, other),
    }
}

/// Runs `serve` until Ctrl-C or SIGTERM; then finishes the requests in flight.
pub async fn run(cmd: ServeCmd, store: &StoreArgs) -> Result<()> {
    let viewers = cmd.viewers()?;
    if !cmd.viewer_rule.is_empty() && !matches!(viewers, ViewerAuth::Header(_)) {
        return Err(Error::invalid(
            "--viewer-rule",
            "applies to viewers named by a proxy's header; give --auth header too",
        ));
    }
    let format =
        LogFormat::parse(&cmd.log_format).map_err(|e| Error::invalid("--log-format", e))?;
    dashboard::init_logging(format);
    let oidc = cmd.oidc()?;
    let notify = cmd.notify.notifications(&cmd.dashboard.providers)?;
    let hooks = cmd.hooks.hooks()?;
    let otlp =
        dashboard::otlp::OtlpSettings::new(cmd.otlp_endpoint.as_deref(), |k| std::env::var(k).ok())
            .map_err(|e| match e {
                dashboard::Error::Invalid { field, reason } => Error::invalid(field, reason),
                other => Error::invalid("--otlp-endpoint", other),
            })?;
    if cmd.otlp_self_traces && otlp.is_none() {
        return Err(Error::invalid(
            "--otlp-self-traces",
            "needs --otlp-endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT): where the traces go",
        ));
    }
    let otlp = otlp.map(|s| s.self_traces(cmd.otlp_self_traces));
    let tokens = match &cmd.tokens {
        Some(path) => Tokens::from_file(path).map_err(|e| Error::invalid("--tokens", e))?,
        None if oidc.is_some() => Tokens::none(),
        None => {
            // Through the log, so a JSON log stays one object a line.
            tracing::warn!("no --tokens and no --oidc-rule: the write API refuses every write");
            Tokens::none()
        }
    };
    let writes = match (&cmd.tokens, &oidc) {
        (Some(_), Some(o)) => format!(
            "with a token from --tokens or an OIDC ID token ({} rules)",
            o.rules().rules.len()
        ),
        (None, Some(o)) => format!("with an OIDC ID token ({} rules)", o.rules().rules.len()),
        (Some(_), None) => "with a token from --tokens".to_string(),
        (None, None) => "refused (no --tokens)".to_string(),
    };
    let d = &cmd.dashboard;
    // One set of providers and one store for every partition: the trackers hold clones of
    // the same Arcs, so the providers' caches (ETags, Argo CD's last answer) are shared.
    let providers = d.providers.build()?;
    let opened = store.open(Access::Write)?;
    let partitions = store.partitions();
    let answers = d.cache.open(&d.providers);
    let tracker = |partition: &str| {
        let builder = providers
            .clone()
            .tracker(opened.clone(), partition)
            .window(d.since);
        match &answers {
            Some(cache) => builder.answers_cache(cache.clone()),
            None => builder,
        }
        .build()
    };
    let trackers: Vec<spektate::Tracker> = partitions.iter().map(|p| tracker(p)).collect();
    let board = Dashboard::new(trackers[0].clone()).refresh_every(Duration::from_secs(d.refresh));
    let mut limits = dashboard::Limits::default();
    limits.header_read_timeout = Duration::from_secs(d.header_timeout);
    limits.idle_timeout = Duration::from_secs(d.idle_timeout);
    limits.request_timeout = Duration::from_secs(d.request_timeout);
    limits.max_connections = usize::try_from(d.max_connections).unwrap_or(usize::MAX);
    let addr = SocketAddr::new(d.bind, d.port);
    let mut service = Service::new(board);
    for partitioned in &trackers[1..] {
        service = service
            .partition(partitioned.clone())
            .map_err(|e| flag("--partition-key", e))?;
    }
    let mut service = service
        .accept_writes(tokens)
        .viewers(viewers)
        .viewer_rules(cmd.viewer_rule.clone())
        .hooks(hooks.clone());
    if let Some(oidc) = oidc {
        service = service.accept_oidc(oidc);
    }
    let notifying = notify.describe();
    service = service.notify(notify);
    let server = service
        .bind(addr)
        .await
        .map_err(|e| {
            let flag = match &e {
                dashboard::Error::Bind { source, .. }
                    if source.kind() == ErrorKind::AddrNotAvailable =>
                {
                    "--bind"
                }
                _ => "--port",
            };
            Error::invalid(flag, format!("{e}; choose another {flag}"))
        })?
        .limits(limits);
    // Caught from here on: whoever reads the address below may stop the server at once.
    let stop = dashboard::shutdown_signal();
    println!(
        "Spektate server on {} ({} {}, viewers: {}, writes: {}{}). Ctrl-C stops it.",
        server.url(),
        if partitions.len() == 1 {
            "partition"
        } else {
            "partitions"
        },
        partitions.join(", "),
        cmd.auth,
        writes,
        HookArgs::describe(&hooks)
    );
    if !notifying.is_empty() {
        println!("Notifications: {notifying}.");
    }
    let _traces = match otlp {
        Some(settings) => {
            // Described without the URL's query: an API key may ride there.
            println!(
                "Traces of finished deployments{} go to {}.",
                if settings.self_traces {
                    " and of the server's refreshes"
                } else {
                    ""
                },
                settings.describe()
            );
            Some(
                dashboard::otlp::start(settings, trackers)
                    .map_err(|e| flag("--otlp-endpoint", e))?,
            )
        }
        None => None,
    };
    let served = server.run(stop).await;
    served.map_err(|e| Error::invalid("serve", e))
}
