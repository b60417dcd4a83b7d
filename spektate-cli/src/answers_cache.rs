//! `--cache` / `--no-cache`: where `get` keeps what providers answered that cannot change,
//! so the next call asks only about what is not final.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use spektate::TrackerBuilder;
use spektate::cache::AnswersCache;
use spektate::cache::sqlite::SqliteAnswers;

use crate::providers::ProviderArgs;

/// The answers cache flags.
#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    /// Keep final runs, authors and merged pull requests in this file, for the next call
    /// (default: $XDG_CACHE_HOME/spektate/answers.sqlite, else ~/.cache/spektate/answers.sqlite;
    /// no default when a provider URL is on this machine, as a local server's answers may not
    /// outlive it).
    #[arg(
        long = "cache",
        env = "SPEKTATE_CACHE",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub cache: Option<PathBuf>,
    /// Ask providers about everything; read and write no cache file (wins over --cache and
    /// SPEKTATE_CACHE).
    #[arg(long = "no-cache")]
    pub no_cache: bool,
}

/// `$XDG_CACHE_HOME/spektate/answers.sqlite`, else `~/.cache/spektate/answers.sqlite`.
fn default_path() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let dir = var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache")))?;
    Some(dir.join("spektate").join("answers.sqlite"))
}

/// Whether `url` names this machine (localhost, 127.0.0.0/8, ::1).
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl CacheArgs {
    /// The cache file to use with `providers`, if any: none when no provider is configured
    /// (nothing would be asked, so nothing kept).
    pub fn path(&self, providers: &ProviderArgs) -> Option<PathBuf> {
        let settings = providers.settings();
        let azure = &settings.azure_devops;
        let asks_anyone = azure.org.is_some()
            || azure.token.is_some()
            || settings.github.is_some()
            || settings.gitlab.is_some();
        if self.no_cache || !asks_anyone {
            return None;
        }
        let given = self.cache.clone().filter(|p| !p.as_os_str().is_empty());
        let local = [
            &providers.azdo_url,
            &providers.github_url,
            &providers.gitlab_url,
        ]
        .into_iter()
        .flatten()
        .any(|u| is_loopback(u));
        given.or_else(|| if local { None } else { default_path() })
    }

    /// The cache, opened; a file that cannot be used is said once on stderr and left as it
    /// is, and providers are asked instead.
    pub fn open(&self, providers: &ProviderArgs) -> Option<Arc<dyn AnswersCache>> {
        let path = self.path(providers)?;
        match SqliteAnswers::open(&path) {
            Ok(cache) => Some(Arc::new(cache)),
            Err(e) => {
                eprintln!("warning: {e}; not used, providers are asked instead");
                None
            }
        }
    }

    /// `builder` with the cache for `providers`, if any.
    pub fn apply(&self, builder: TrackerBuilder, providers: &ProviderArgs) -> TrackerBuilder {
        match self.open(providers) {
            Some(cache) => builder.answers_cache(cache),
            None => builder,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_urls_are_told_from_remote_ones() {
        for u in [
            "http://127.0.0.1:8080/org",
            "http://localhost:3000",
            "https://[::1]:443/api",
            "http://user@127.0.0.2/x",
        ] {
            assert!(is_loopback(u), "{u}");
        }
        for u in [
            "https://dev.azure.com/org",
            "https://api.github.com",
            "https://gitlab.example.com:8443",
            "https://localhost.example.com",
        ] {
            assert!(!is_loopback(u), "{u}");
        }
    }
}
