//! One line of output that says so when it cannot be written (a full disk, a closed pipe),
//! instead of the panic of `println!`: what was to be shown (a token, a record's key) is
//! reported as not shown.

use std::io::Write;

use spektate::{Error, Result};

/// Writes `text` and a newline to standard output, flushed.
pub fn line(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| Error::invalid("stdout", format!("could not be written: {e}")))
}
