//! The server's log: one line per event on stderr, as text or as JSON objects.

use tracing_subscriber::filter::LevelFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `2026-11-26T13:45:00Z  INFO spektate::access: request method=POST ...`
    #[default]
    Text,
    /// One JSON object a line, for a log collector.
    Json,
}

impl LogFormat {
    /// Parses `text` or `json`.
    pub fn parse(word: &str) -> Result<LogFormat, crate::Error> {
        match word.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(crate::Error::invalid(
                "log format",
                format!("'{other}' is not one of text, json"),
            )),
        }
    }
}

/// Writes this process's log events at `info` and above to stderr in `format`. Does nothing
/// when a logger is already installed.
pub fn init_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(LevelFilter::INFO)
        .with_target(true);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
