//! `scripts/install.sh` run with a `curl` that records its arguments and fails: the
//! protocols each download may use, redirects included.

use std::path::Path;
use std::process::Command;

use crate::release::repo;

/// The arguments of each `curl` install.sh ran, given `env`, up to the first (failing).
fn curl_calls(dir: &Path, env: &[(&str, &str)]) -> Vec<Vec<String>> {
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("curl.log");
    let _ = std::fs::remove_file(&log);
    let curl = bin.join("curl");
    std::fs::write(
        &curl,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" >>\"$CURL_LOG\"\necho --- >>\"$CURL_LOG\"\nexit 7\n",
    )
    .unwrap();
    std::fs::set_permissions(&curl, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .arg(repo().join("scripts/install.sh"))
        .arg("--to")
        .arg(dir.join("installed"))
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir)
        .env("CURL_LOG", &log)
        .env("SPEKTATE_TARGET", "x86_64-unknown-linux-gnu")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "installed with a curl that fails: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    text.split_terminator("---\n")
        .map(|call| call.lines().map(str::to_string).collect())
        .collect()
}

/// A run of install.sh: its environment, the protocols each download may use, and the URL
/// the first one asks for.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

/// The value given to `flag` in one call's arguments.
fn value<'a>(call: &'a [String], flag: &str) -> Option<&'a str> {
    call.iter()
        .position(|a| a == flag)
        .and_then(|i| call.get(i + 1))
        .map(String::as_str)
}

#[test]
fn install_sh_downloads_over_https_only_unless_the_mirror_is_http() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [Case; 4] = [
        (
            &[],
            "=https",
            "https://github.com/spektate/spektate-rs/releases/latest",
        ),
        (
            &[("SPEKTATE_VERSION", "1.2.3")],
            "=https",
            "https://github.com/spektate/spektate-rs/releases/download/v1.2.3/",
        ),
        (
            &[
                ("SPEKTATE_VERSION", "1.2.3"),
                (
                    "SPEKTATE_RELEASES_URL",
                    "https://mirror.example.com/releases",
                ),
            ],
            "=https",
            "https://mirror.example.com/releases/download/v1.2.3/",
        ),
        // A local mirror given as http:// is used as given.
        (
            &[
                ("SPEKTATE_VERSION", "1.2.3"),
                ("SPEKTATE_RELEASES_URL", "http://127.0.0.1:9/releases"),
            ],
            "=https,http",
            "http://127.0.0.1:9/releases/download/v1.2.3/",
        ),
    ];
    for (env, protocols, url) in cases {
        let calls = curl_calls(dir.path(), env);
        assert_eq!(calls.len(), 1, "{env:?}: {calls:?}");
        let call = &calls[0];
        assert!(
            call.last().unwrap().starts_with(url),
            "{env:?}: curl {call:?}"
        );
        assert!(call.iter().any(|a| a == "--location"), "{call:?}");
        for flag in ["--proto", "--proto-redir"] {
            assert_eq!(
                value(call, flag),
                Some(protocols),
                "{env:?}: curl {flag} in {call:?}"
            );
        }
    }
}
