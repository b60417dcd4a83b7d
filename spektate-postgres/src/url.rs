//! A `postgres://` (or `postgresql://`) URL: the settings tokio-postgres connects with, the
//! TLS settings libpq reads from it (`sslmode`, `sslrootcert`), and the URL as messages show
//! it, without its password.

use std::str::FromStr;
use std::time::Duration;

use crate::tls::{Roots, SslMode};

/// What the store connects with.
pub(crate) struct ConnectionUrl {
    /// The settings tokio-postgres connects with (without the TLS parameters).
    pub config: tokio_postgres::Config,
    /// The URL's `sslmode` (`prefer` when absent).
    pub ssl_mode: SslMode,
    /// The URL's `sslrootcert`.
    pub root_cert: Option<Roots>,
    /// Whether the URL sets `keepalives_idle`: `config` cannot tell a value the URL gives
    /// from the driver's default.
    pub sets_keepalives_idle: bool,
}

/// The wait for a connection to the server when the URL sets no `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The name the store's connections give the server (`pg_stat_activity`) unless the URL
/// sets `application_name`.
pub const APPLICATION_NAME: &str = "spektate";

/// Whether `spec` names a PostgreSQL store.
pub fn is_postgres(spec: &str) -> bool {
    let lower = spec.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// The URL without its secrets: the password of the user info and any query parameter about
/// a password are left out. Where the URL is too odd to tell its parts apart, less is shown.
pub fn redact(url: &str) -> String {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return "postgres://***".to_string();
    };
    // The last '@' ends the user info even when an unencoded password holds '/' or '?'.
    let (user, after) = match rest.rfind('@') {
        Some(i) => {
            let user = rest[..i].split(':').next().unwrap_or_default();
            // After a '?' with a parameter in it, the '@' is in the query.
            let in_query = rest[..i]
                .split_once('?')
                .is_some_and(|(_, q)| q.contains(['=', '&']));
            if in_query || user.contains(['/', '?', '&', '=', '#']) {
                // The '@' may be inside a query parameter's value (`password=p@ss`): what
                // follows it may be the rest of a password.
                return format!("{scheme}://***");
            }
            (Some(user), &rest[i + 1..])
        }
        None => (None, rest),
    };
    let after = after.split('#').next().unwrap_or_default();
    let (location, query) = after.split_once('?').unwrap_or((after, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            // As the driver reads it: `p%61ssword` is `password`.
            let key = percent_decode(p.split('=').next().unwrap_or_default());
            !key.to_ascii_lowercase().contains("pass")
        })
        .collect();
    let mut shown = format!("{scheme}://");
    if let Some(user) = user {
        shown.push_str(user);
        shown.push('@');
    }
    shown.push_str(location);
    if !kept.is_empty() {
        shown.push('?');
        shown.push_str(&kept.join("&"));
    }
    shown
}

/// Parses a connection URL. Errors say what is wrong without quoting the URL (the caller
/// names the store by [`redact`]).
pub(crate) fn parse(url: &str) -> Result<ConnectionUrl, String> {
    let url = url.trim();
    if !is_postgres(url) {
        return Err("is not a postgres:// or postgresql:// URL".to_string());
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut ssl_mode = SslMode::Prefer;
    let mut root_cert = None;
    let mut sets_keepalives_idle = false;
    let mut kept = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        match key {
            "sslmode" => {
                let value = percent_decode(value);
                ssl_mode = SslMode::parse(&value).ok_or_else(|| {
                    format!(
                        "sslmode '{value}' is not one of disable, allow, prefer, require, \
                         verify-ca, verify-full"
                    )
                })?;
            }
            "sslrootcert" => {
                let value = percent_decode(value);
                root_cert = Some(match value.as_str() {
                    "" => return Err("sslrootcert is empty; give a PEM file or 'system'".into()),
                    "system" => Roots::System,
                    path => Roots::File(path.into()),
                });
            }
            _ => {
                // The driver decodes keys too (`keepalives%5Fidle`).
                sets_keepalives_idle |= percent_decode(key) == "keepalives_idle";
                kept.push(param);
            }
        }
    }
    let rebuilt = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config =
        tokio_postgres::Config::from_str(&rebuilt).map_err(|e| crate::errors::pg(&e))?;
    if config.get_application_name().is_none() {
        config.application_name(APPLICATION_NAME);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    config.ssl_mode(ssl_mode.wire());
    Ok(ConnectionUrl {
        config,
        ssl_mode,
        root_cert,
        sets_keepalives_idle,
    })
}

/// Decodes `%XX` escapes (a path or mode in a URL); anything malformed is kept as written.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_shown() {
        let cases = [
            (
                "postgres://app:hunter2@db.example.com:5432/spektate",
                "postgres://app@db.example.com:5432/spektate",
            ),
            (
                "postgresql://app:hunter2@db/spektate?sslmode=verify-full&password=hunter2",
                "postgresql://app@db/spektate?sslmode=verify-full",
            ),
            (
                "postgres://db/spektate?user=app&password=hunter2&sslpassword=hunter2",
                "postgres://db/spektate?user=app",
            ),
            // Unencoded '/', '?' and '@' in a password.
            ("postgres://app:hun/ter2@db/s", "postgres://app@db/s"),
            ("postgres://app:hu?nter2@db/s", "postgres://app@db/s"),
            ("postgres://app:h@nter2@db/s", "postgres://app@db/s"),
            (
                "postgres://db/s?password=hunter2&application_name=a@b",
                "postgres://***",
            ),
            // An unencoded '@' in a password given as a parameter, after a port or user info.
            (
                "postgres://db/s?user=app&password=hun@ter2",
                "postgres://***",
            ),
            (
                "postgres://db.example.com:5432/s?password=hun@ter2",
                "postgres://***",
            ),
            ("postgres://u:p@db/s?password=hun@ter2", "postgres://***"),
            (
                "postgres://h1:5432,h2:5433/s",
                "postgres://h1:5432,h2:5433/s",
            ),
            ("nonsense hunter2", "postgres://***"),
            // Keys the driver decodes.
            (
                "postgres://u@h/db?p%61ssword=hunter2&sslmode=require",
                "postgres://u@h/db?sslmode=require",
            ),
            (
                "postgres://u@h/db?%70%41%53%53word=hunter2&ssl%70assword=hunter2",
                "postgres://u@h/db",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(redact(url), shown, "{url}");
            assert!(!redact(url).contains("hunter2") && !redact(url).contains("ter2"));
        }
        let c = parse("postgres://u@h/db?p%61ssword=hunter2").unwrap();
        assert_eq!(
            c.config.get_password(),
            Some(&b"hunter2"[..]),
            "the driver decodes keys"
        );
    }

    #[test]
    fn tls_parameters_are_read_and_the_rest_goes_to_the_driver() {
        let c = parse(
            "postgres://app:pw@db:6543/spektate?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(c.ssl_mode, SslMode::VerifyFull);
        assert_eq!(c.root_cert, Some(Roots::File("/etc/ca.pem".into())));
        assert_eq!(c.config.get_ports(), &[6543]);
        assert_eq!(c.config.get_dbname(), Some("spektate"));
        assert_eq!(
            c.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        assert_eq!(c.config.get_application_name(), Some(APPLICATION_NAME));
        assert_eq!(
            c.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        let d = parse("postgresql://app@db/spektate?sslrootcert=system").unwrap();
        assert_eq!(
            (d.ssl_mode, d.root_cert),
            (SslMode::Prefer, Some(Roots::System))
        );
        assert_eq!(
            d.config.get_connect_timeout(),
            Some(&DEFAULT_CONNECT_TIMEOUT)
        );
    }

    #[test]
    fn bad_parameters_are_named_without_the_url() {
        let e = parse("postgres://app:hunter2@db/s?sslmode=verify")
            .err()
            .unwrap();
        assert!(
            e.contains("sslmode 'verify'") && e.contains("verify-full"),
            "{e}"
        );
        let e = parse("postgres://app:hunter2@db/s?colour=blue")
            .err()
            .unwrap();
        assert!(e.contains("colour") && !e.contains("hunter2"), "{e}");
        let e = parse("postgres://app:hunter2@db:port/s").err().unwrap();
        assert!(e.contains("port") && !e.contains("hunter2"), "{e}");
        let e = parse("postgres://db/s?sslrootcert=").err().unwrap();
        assert!(e.contains("sslrootcert is empty"), "{e}");
        assert!(parse("mysql://db/s").is_err());
    }
}
