//! Shared Key authorization of the Table service.
//!
//! `StringToSign = VERB \n Content-MD5 \n Content-Type \n Date \n CanonicalizedResource`,
//! where Date is the `x-ms-date` header and the canonicalized resource is `/{account}`
//! followed by the encoded request path (for a path-style endpoint such as Azurite's, the
//! path itself starts with the account, so the account appears twice).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `x-ms-date` value for `at`: an RFC 1123 date in GMT.
pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The canonicalized resource of a request to `path` (already percent-encoded, without
/// the query) of `account`.
pub fn canonical_resource(account: &str, path: &str) -> String {
    format!("/{account}{path}")
}

/// The `Authorization` header value: `SharedKey {account}:{base64 HMAC-SHA256}`.
pub fn authorization(
    account: &str,
    key: &[u8],
    verb: &str,
    content_type: &str,
    date: &str,
    resource: &str,
) -> String {
    let string_to_sign = format!("{verb}\n\n{content_type}\n{date}\n{resource}");
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    format!(
        "SharedKey {account}:{}",
        STANDARD.encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dates_are_rfc_1123_gmt() {
        let at = Utc.with_ymd_and_hms(2024, 3, 7, 9, 5, 1).unwrap();
        assert_eq!(http_date(at), "Thu, 07 Mar 2024 09:05:01 GMT");
    }

    #[test]
    fn path_style_resources_name_the_account_twice() {
        assert_eq!(
            canonical_resource("devstoreaccount1", "/devstoreaccount1/Tables"),
            "/devstoreaccount1/devstoreaccount1/Tables"
        );
        assert_eq!(
            canonical_resource("spektate", "/deployments()"),
            "/spektate/deployments()"
        );
    }

    #[test]
    fn signature_matches_an_independent_hmac_sha256() {
        // Computed independently (Python hmac): base64(HMAC-SHA256(key, string-to-sign))
        // with the key "secret".
        let auth = authorization(
            "acct",
            b"secret",
            "GET",
            "",
            "Thu, 07 Mar 2024 09:05:01 GMT",
            "/acct/Tables",
        );
        assert_eq!(
            auth,
            "SharedKey acct:mH8fDSgFmV19L8VDPvg77ikPpLFIte2ie84fkIkxiNE="
        );
    }
}
