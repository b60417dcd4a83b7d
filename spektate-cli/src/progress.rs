//! A spinner on stderr for work that takes more than a moment, only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use tokio::task::JoinHandle;

/// A running spinner; stops and clears its line when dropped.
pub struct Progress {
    task: Option<JoinHandle<()>>,
}

impl Progress {
    /// Shows `message` with a spinner after 300 ms, if stderr is a terminal.
    pub fn start(message: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Progress { task: None };
        }
        let message = message.to_string();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
            for i in 0.. {
                eprint!("\r{} {message}", frames[i % frames.len()]);
                let _ = std::io::stderr().flush();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Progress { task: Some(task) }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}
