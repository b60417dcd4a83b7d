//! A test process killed before it drops its server leaves no server behind: the watchdog
//! stops the server and removes its folder.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use spektate_postgres::testkit::TestServer;

/// Not a check of its own: the process the next test starts (this binary, `--ignored
/// --exact hold_a_server_until_killed`) and kills while it holds a server. Ignored so a
/// plain test run does not sit here for ten minutes; it runs every time the next test runs.
#[test]
#[ignore = "started and killed by a_killed_test_process_leaves_no_server_running"]
fn hold_a_server_until_killed() {
    let server = TestServer::start();
    println!("server {} {}", server.port(), server.dir().display());
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn a_killed_test_process_leaves_no_server_running() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "hold_a_server_until_killed",
            "--nocapture",
        ])
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut port_and_dir = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("server ") {
            let (port, dir) = rest.split_once(' ').unwrap();
            port_and_dir = Some((port.parse::<u16>().unwrap(), PathBuf::from(dir)));
            break;
        }
    }
    let (port, dir) = port_and_dir.expect("the child printed its server");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "the server runs"
    );

    // The test process and its whole process group die at once, with no chance to drop.
    let killed = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() || dir.exists() {
        assert!(
            Instant::now() < deadline,
            "the server on port {port} still runs, or {} is still there",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
