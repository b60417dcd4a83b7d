//! Shared access signatures signed with the emulator's key, as the Azure portal, `az storage
//! table generate-sas` or an SDK sign them (version 2019-02-02), for Azurite to check.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use spektate_azdo::table::{DEV_ACCOUNT, DEV_KEY};

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const VERSION: &str = "2019-02-02";

fn sign(string_to_sign: &str) -> String {
    let key = STANDARD
        .decode(DEV_KEY)
        .expect("the emulator key is base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(string_to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An account SAS for the table service: `permissions` such as `rwdlacu`, on service,
/// container and object resources, until `expiry`.
pub fn account_sas(permissions: &str, expiry: DateTime<Utc>) -> String {
    let se = time(expiry);
    let to_sign = format!("{DEV_ACCOUNT}\n{permissions}\nt\nsco\n\n{se}\n\n\n{VERSION}\n");
    format!(
        "sv={VERSION}&ss=t&srt=sco&sp={permissions}&se={}&sig={}",
        query_value(&se),
        query_value(&sign(&to_sign))
    )
}

/// A table SAS for `table`: `permissions` from `raud` (query, add, update, delete), until
/// `expiry`.
pub fn table_sas(table: &str, permissions: &str, expiry: DateTime<Utc>) -> String {
    let se = time(expiry);
    let resource = format!("/table/{DEV_ACCOUNT}/{}", table.to_ascii_lowercase());
    let to_sign = format!("{permissions}\n\n{se}\n{resource}\n\n\n\n{VERSION}\n\n\n\n");
    format!(
        "sv={VERSION}&tn={table}&sp={permissions}&se={}&sig={}",
        query_value(&se),
        query_value(&sign(&to_sign))
    )
}
