//! Percent-encoding of the parts of a provider URL, one rule for every provider: RFC 3986
//! unreserved characters (`A-Z a-z 0-9 - _ . ~`) stay, every other byte of the UTF-8 text
//! becomes `%XX` (upper-case hex). Behind no feature, so any provider crate can use it.
//!
//! ```
//! use spektate_core::url_encode;
//! assert_eq!(url_encode::segment("Hello World/it's"), "Hello%20World%2Fit%27s");
//! assert_eq!(url_encode::query_value("a&b=c"), "a%26b%3Dc");
//! assert_eq!(url_encode::path("flux/west eu"), "flux/west%20eu");
//! ```

use std::fmt::Write;

/// Whether `b` is an RFC 3986 unreserved character, kept as it is.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// One path segment (organisation, project, repository, id): `/`, `?`, `#`, `%` and every
/// other reserved or non-ASCII character encoded, so the value stays one segment.
pub fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A query value (a filter, a continuation token): the same rule as [`segment`], so `&`,
/// `=`, `+` and `#` cannot end the value or start another parameter.
pub fn query_value(value: &str) -> String {
    segment(value)
}

/// A path of several segments (a git ref prefix such as `tags/flux/`): each `/`-separated
/// segment encoded as by [`segment`], the slashes kept.
pub fn path(value: &str) -> String {
    value.split('/').map(segment).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_characters_stay_and_every_other_byte_is_encoded() {
        assert_eq!(segment("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(segment("Hello World/it's"), "Hello%20World%2Fit%27s");
        assert_eq!(segment("a?b#c%d"), "a%3Fb%23c%25d");
        assert_eq!(segment("é"), "%C3%A9");
        assert_eq!(segment(""), "");
        for b in 0u8..=127 {
            let s = char::from(b).to_string();
            let e = segment(&s);
            if is_unreserved(b) {
                assert_eq!(e, s);
            } else {
                assert_eq!(e, format!("%{b:02X}"), "byte {b}");
            }
        }
    }

    #[test]
    fn query_values_cannot_start_another_parameter() {
        assert_eq!(
            query_value("x&api-version=1 +#"),
            "x%26api-version%3D1%20%2B%23"
        );
        assert_eq!(query_value("tags/flux-"), "tags%2Fflux-");
    }

    #[test]
    fn paths_keep_their_slashes() {
        assert_eq!(path("flux-"), "flux-");
        assert_eq!(path("flux/west eu"), "flux/west%20eu");
        assert_eq!(path("a#b/?"), "a%23b/%3F");
        assert_eq!(path("/x/"), "/x/");
    }
}
