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
}
