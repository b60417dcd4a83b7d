//! `spektate dashboard`: the page and JSON API over the deployments, refreshed in the background.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::Args;
use spektate::dashboard::{self, Dashboard};
use spektate::{Error, Result};

use crate::providers::ProviderArgs;
use crate::store_args::{Access, StoreArgs};

/// `dashboard` flags.
#[derive(Debug, Args)]
pub struct DashboardCmd {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 4040)]
    pub port: u16,
    /// Address to listen on: 127.0.0.1 for this machine only, 0.0.0.0 (or ::) for every interface.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDRESS", value_parser = parse_bind)]
    pub bind: IpAddr,
    /// Seconds between refreshes of the deployments; also how often the page asks for them.
    #[arg(long, default_value_t = 30, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub refresh: u64,
    /// Seconds a client has to send a request header (after connecting, or between requests on
    /// a kept-alive connection) before the connection is closed.
    #[arg(long, default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub header_timeout: u64,
    /// Seconds a connection may move no bytes, outside a request being handled, before it is closed.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout: u64,
    /// Seconds a request may take (waiting on a slow store, say) before it is answered 503
    /// with Retry-After.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub request_timeout: u64,
    /// Connections open at once; over it, a new client takes the place of the oldest idle one.
    #[arg(long, default_value_t = 1024, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Track the deployments whose record was written in this window: a span (90d, 12h, 2w),
    /// a date (2026-01-31) or `all`. A span moves with the clock; what leaves it is forgotten.
    #[arg(long, default_value = "90d", value_name = "SPAN|DATE|all", value_parser = crate::get::parse_window)]
    pub since: spektate::Window,
    #[command(flatten)]
    pub providers: ProviderArgs,
    #[command(flatten)]
    pub cache: crate::answers_cache::CacheArgs,
}

fn parse_bind(v: &str) -> std::result::Result<IpAddr, String> {
    match v.trim() {
        "localhost" => Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        s => s
            .parse()
            .map_err(|_| format!("'{v}' is not an IP address such as 127.0.0.1, 0.0.0.0 or ::1")),
    }
}

/// Runs `dashboard` until Ctrl-C or SIGTERM.
pub async fn run(cmd: DashboardCmd, store: &StoreArgs) -> Result<()> {
    let builder = cmd
        .providers
        .build()?
        .tracker(store.open(Access::Read)?, store.partition_key.clone())
        .window(cmd.since);
    let tracker = cmd.cache.apply(builder, &cmd.providers).build();
    let every = Duration::from_secs(cmd.refresh);
    let board = Dashboard::new(tracker).refresh_every(every);
    let addr = SocketAddr::new(cmd.bind, cmd.port);
    let mut limits = dashboard::Limits::default();
    limits.header_read_timeout = Duration::from_secs(cmd.header_timeout);
    limits.idle_timeout = Duration::from_secs(cmd.idle_timeout);
    limits.request_timeout = Duration::from_secs(cmd.request_timeout);
    limits.max_connections = usize::try_from(cmd.max_connections).unwrap_or(usize::MAX);
    let server = board.clone().bind(addr).await.map_err(|e| {
        let flag = match &e {
            dashboard::Error::Bind { source, .. }
                if source.kind() == ErrorKind::AddrNotAvailable =>
            {
                "--bind"
            }
            _ => "--port",
        };
        Error::invalid(flag, format!("{e}; choose another {flag}"))
    })?;
    let server = server.limits(limits);
    // Caught from here on: whoever reads the address below may stop the server at once.
    let stop = dashboard::shutdown_signal();
    println!(
        "Spektate dashboard on {} (partition {}, refreshing every {} s). Ctrl-C stops it.",
        server.url(),
        store.partition_key,
        cmd.refresh
    );
    let reporter = tokio::spawn(report_refresh_errors(board));
    let served = server.run(stop).await;
    reporter.abort();
    served.map_err(|e| Error::invalid("dashboard", e))
}

/// Says on stderr when refreshing starts failing, when the background refresh had to be
/// restarted, and when it works again.
async fn report_refresh_errors(board: Dashboard) {
    let mut last: Option<String> = None;
    let mut restarts = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let health = board.health();
        if health.restarts > restarts {
            restarts = health.restarts;
            eprintln!(
                "spektate: warning: the background refresh stopped and was restarted \
                 ({restarts} time(s) so far); /api/health says why"
            );
        }
        let error = health.last_error;
        if error != last {
            match &error {
                Some(e) => eprintln!("spektate: warning: refreshing the deployments failed: {e}"),
                None => eprintln!("spektate: refreshing the deployments works again"),
            }
            last = error;
        }
    }
}
