//! The `X-Signature` of Flux's `generic-hmac` Provider: `<hash>=<hex HMAC of the body>`,
//! made with the Provider Secret's `token` (notification-controller's `forwarder.go`:
//! `sha256=` and `fmt.Sprintf("%x", hmac.New(sha256.New, key).Sum(body))`). Checked in
//! constant time; the expected value is never shown.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};

/// Why a signature was refused; never holds the expected value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bad {
    /// Not `<hash>=<hex>`.
    Malformed,
    /// A hash function other than sha224, sha256, sha384 or sha512.
    Unsupported(String),
    /// The HMAC does not match the body.
    Mismatch,
}

impl std::fmt::Display for Bad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bad::Malformed => f.write_str("X-Signature is not <hash>=<hex HMAC of the body>"),
            Bad::Unsupported(h) => write!(
                f,
                "X-Signature's hash '{h}' is not one of sha224, sha256, sha384, sha512"
            ),
            Bad::Mismatch => {
                f.write_str("X-Signature does not match the body and the configured secret")
            }
        }
    }
}

fn check<M: Mac + KeyInit>(key: &[u8], body: &[u8], sum: &[u8]) -> Result<(), Bad> {
    let mut mac = <M as KeyInit>::new_from_slice(key).map_err(|_| Bad::Mismatch)?;
    mac.update(body);
    mac.verify_slice(sum).map_err(|_| Bad::Mismatch)
}

/// Checks `header` (the `X-Signature` value) against `body` and `key`.
pub(crate) fn verify(header: &str, body: &[u8], key: &[u8]) -> Result<(), Bad> {
    let (hash, hex) = header.trim().split_once('=').ok_or(Bad::Malformed)?;
    let sum = decode_hex(hex).ok_or(Bad::Malformed)?;
    match hash.to_ascii_lowercase().as_str() {
        "sha224" => check::<Hmac<sha2::Sha224>>(key, body, &sum),
        "sha256" => check::<Hmac<sha2::Sha256>>(key, body, &sum),
        "sha384" => check::<Hmac<sha2::Sha384>>(key, body, &sum),
        "sha512" => check::<Hmac<sha2::Sha512>>(key, body, &sum),
        other => Err(Bad::Unsupported(
            other
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(16)
                .collect(),
        )),
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let hex = hex.trim().as_bytes();
    if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > 256 {
        return None;
    }
    hex.chunks(2)
        .map(|pair| {
            let digit = |b: u8| (b as char).to_digit(16);
            Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
}

/// The `X-Signature` Flux would send for `body` with `key` (sha256).
#[cfg(test)]
fn sign(body: &[u8], key: &[u8]) -> String {
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(body);
    let sum = mac.finalize().into_bytes();
    let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_independent_vector_verifies() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let expected = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(sign(b"what do ya want for nothing?", b"Jefe"), expected);
        assert_eq!(
            verify(expected, b"what do ya want for nothing?", b"Jefe"),
            Ok(())
        );
        assert_eq!(
            verify(expected, b"what do ya want for nothing!", b"Jefe"),
            Err(Bad::Mismatch)
        );
        // RFC 4231 test case 2 with SHA-512, as a Provider would sign if Flux moved to it.
        let sha512 = "sha512=164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";
        assert_eq!(
            verify(sha512, b"what do ya want for nothing?", b"Jefe"),
            Ok(())
        );
        assert_eq!(verify("sha256", b"x", b"Jefe"), Err(Bad::Malformed));
        assert_eq!(verify("sha256=zz", b"x", b"Jefe"), Err(Bad::Malformed));
        assert_eq!(
            verify("md5=00", b"x", b"Jefe"),
            Err(Bad::Unsupported("md5".into()))
        );
    }
}
