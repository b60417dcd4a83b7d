//! `shutdown_signal` catches SIGTERM from the moment it is called: a server that prints its
//! address after calling it, and is sent SIGTERM by whoever read that address before it
//! polled the future, still stops cleanly instead of dying by the signal. Its own test
//! binary, as it signals its own process.

#![cfg(unix)]

use std::time::Duration;

use spektate_dashboard::shutdown_signal;

#[tokio::test]
async fn a_sigterm_sent_before_the_first_poll_completes_the_shutdown_future() {
    let stop = shutdown_signal();
    // Not polled yet, as when a server has printed its address and not started serving.
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success(), "kill -TERM of this test process");
    // Were the signal not caught, this process would have died by it before here.
    tokio::time::timeout(Duration::from_secs(5), stop)
        .await
        .expect("the SIGTERM sent before the first poll completes the shutdown future");
}
