//! URLs from records and providers, with any credentials they carry removed before they are
//! stored, shown or put in an error.

/// `url` without user info: `https://user:secret@host/p` becomes `https://host/p`.
///
/// Only the part between `://` and the host is dropped, so an scp-like clone URL
/// (`git@github.com:o/r`) keeps its SSH user, which carries no secret; written without a
/// scheme, `user:secret@host/p` loses its `user:secret@`.
///
/// ```
/// use spektate_core::model::url::without_credentials;
/// assert_eq!(without_credentials("https://me:pat@dev.azure.com/o/p/_git/r"), "https://dev.azure.com/o/p/_git/r");
/// assert_eq!(without_credentials("git@github.com:o/r.git"), "git@github.com:o/r.git");
/// assert_eq!(without_credentials("ci:pat@git.example.com/o/r"), "git.example.com/o/r");
/// ```
pub fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        let end = url.find(['/', '?', '#']).unwrap_or(url.len());
        return match url[..end].rfind('@') {
            Some(at) if url[..at].contains(':') => url[at + 1..].to_string(),
            _ => url.to_string(),
        };
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://{}{tail}", &authority[at + 1..]),
        None => url.to_string(),
    }
}

/// What of `url` a message or log may show: its scheme, host (and port) and path, and what
/// was left out of it (`user info`, `query`, `fragment`), where a password, a SAS or an API
/// key rides.
///
/// ```
/// use spektate_core::model::url::shown_parts;
/// let (shown, left_out) = shown_parts("https://u:pw@acct.table.core.windows.net/t?sv=1&sig=s#x");
/// assert_eq!(shown, "https://acct.table.core.windows.net/t");
/// assert_eq!(left_out, ["user info", "query", "fragment"]);
/// ```
pub fn shown_parts(url: &str) -> (String, Vec<&'static str>) {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let (before, after) = rest.split_at(end);
    let (authority, path) = before.split_at(before.find('/').unwrap_or(before.len()));
    let host = authority
        .rfind('@')
        .map_or(authority, |at| &authority[at + 1..]);
    let mut left_out = Vec::new();
    if host.len() != authority.len() {
        left_out.push("user info");
    }
    if after.starts_with('?') {
        left_out.push("query");
    }
    if after.contains('#') {
        left_out.push("fragment");
    }
    let shown = match scheme {
        Some(scheme) => format!("{scheme}://{host}{path}"),
        None => format!("{host}{path}"),
    };
    (shown, left_out)
}

/// Whether `url` carries user info (`user@` or `user:secret@`) before its host.
pub fn has_credentials(url: &str) -> bool {
    without_credentials(url).len() != url.len()
}

/// Serializes an optional URL without its credentials (for `serialize_with`).
pub fn serialize_without_credentials<S: serde::Serializer>(
    url: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(u) => serializer.serialize_some(&without_credentials(u)),
        None => serializer.serialize_none(),
    }
}

/// The base URL of an API as an operator gives it, checked: `http` or `https` (the scheme in
/// lower case), a host, no user info, query, fragment or blank; without a trailing `/`.
///
/// The error names `field` and the value, any credentials removed; a URL with user info is
/// told to give the token in `token_in` instead, so a token never rides in a URL that is
/// shown in names, errors or metrics.
///
/// ```
/// use spektate_core::model::url::api_base;
/// assert_eq!(api_base("GitHub API URL", "HTTPS://ghe.example.com/api/v3/", "GITHUB_TOKEN").unwrap(), "https://ghe.example.com/api/v3");
/// let e = api_base("GitHub API URL", "https://me:ghp_x@ghe.example.com", "GITHUB_TOKEN").unwrap_err();
/// assert!(e.to_string().contains("GITHUB_TOKEN") && !e.to_string().contains("ghp_x"));
/// ```
pub fn api_base(field: &str, url: &str, token_in: &str) -> Result<String, crate::Error> {
    let given = url.trim();
    let shown = without_credentials(given);
    let bad = |why: &str| crate::Error::invalid(field, format!("'{shown}' {why}"));
    let u = given.trim_end_matches('/');
    let Some((scheme, rest)) = u.split_once("://") else {
        return Err(bad("is not an http(s) URL"));
    };
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Err(bad("is not an http(s) URL"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad(&format!(
            "holds user info; give the token in {token_in}, not in the URL"
        )));
    }
    if authority.is_empty() || rest.contains(['?', '#']) || rest.contains(char::is_whitespace) {
        return Err(bad(
            "is not an http(s) URL with a host and no query, fragment or blank",
        ));
    }
    Ok(format!("{}://{rest}", scheme.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_dropped_from_every_url_form() {
        let cases = [
            (
                "https://user:s3cret@dev.azure.com/f/h/_git/hld",
                "https://dev.azure.com/f/h/_git/hld",
            ),
            (
                "http://tok@github.example.com/o/r?x=1",
                "http://github.example.com/o/r?x=1",
            ),
            ("https://a:b@c@host.example/o/r", "https://host.example/o/r"),
            ("https://host.example", "https://host.example"),
            ("ssh://git:pw@host/o/r.git", "ssh://host/o/r.git"),
            ("https://host/o/r#me@x", "https://host/o/r#me@x"),
            ("https://host/o/r?mail=a@b", "https://host/o/r?mail=a@b"),
            ("git@github.com:o/r.git", "git@github.com:o/r.git"),
            ("ci:pat@git.example.com/o/r", "git.example.com/o/r"),
            ("ci:pat@git.example.com", "git.example.com"),
            ("", ""),
        ];
        for (given, want) in cases {
            assert_eq!(without_credentials(given), want, "{given}");
        }
        assert!(has_credentials("https://x:y@h/o/r"));
        assert!(!has_credentials("https://h/o/r?u=a@b"));
        assert!(has_credentials("ci:pat@spektate.example.com"));
    }

    #[test]
    fn api_bases_are_checked_without_panic_or_echoed_credentials() {
        for (given, want) in [
            (
                "https://dev.azure.com/fabrikam/",
                "https://dev.azure.com/fabrikam",
            ),
            (
                " HTTP://tfs.corp:8080/tfs/Default ",
                "http://tfs.corp:8080/tfs/Default",
            ),
            ("https://host/a@b", "https://host/a@b"),
        ] {
            assert_eq!(api_base("f", given, "T").unwrap(), want, "{given}");
        }
        // Multi-byte characters where a scheme is looked for, and no host.
        for bad in [
            "",
            "host.example",
            "ftp://x",
            "https://",
            "https:///x",
            "https://a b",
            "https:/\u{e9}x",
            "\u{e9}\u{e9}\u{e9}\u{e9}://x",
            "https://h?x=1",
            "https://h/#top",
        ] {
            let e = api_base("Some URL", bad, "T").unwrap_err().to_string();
            assert!(
                e.contains("Some URL") && e.contains(&format!("'{}'", bad.trim())),
                "{bad}: {e}"
            );
        }
        let e = api_base("Some URL", "https://me:s3cret@host.example/x", "SOME_TOKEN")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            crate::Error::invalid(
                "Some URL",
                "'https://host.example/x' holds user info; give the token in SOME_TOKEN, not in the URL"
            )
            .to_string()
        );
    }
}
