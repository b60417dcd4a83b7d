//! Requests sent straight to the Table service, signed as another client would sign them:
//! rows written the way other tools write them, and rows read back as they are stored.

use chrono::Utc;
use serde_json::Value;
use spektate_azdo::table::signing::{authorization, canonical_resource, http_date};
use spektate_azdo::table::{DEV_ACCOUNT, DEV_KEY};
use spektate_core::http::{Auth, HttpClient, Method, Request, Response};

use super::azurite::Azurite;

/// Sends a signed request straight to the Table service, as another client would; the
/// answer's JSON without OData metadata.
pub async fn raw(
    az: &Azurite,
    method: Method,
    path: &str,
    query: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let resp = raw_answer(
        az,
        method,
        path,
        query,
        body,
        "application/json;odata=nometadata",
    )
    .await;
    let v = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    (resp.status, v)
}

/// [`raw`] asking for the OData metadata `accept` names, with the whole answer.
pub async fn raw_answer(
    az: &Azurite,
    method: Method,
    path: &str,
    query: &str,
    body: Option<&Value>,
    accept: &str,
) -> Response {
    let http = HttpClient::new("raw table client", Auth::None).unwrap();
    let key = base64_decode(DEV_KEY);
    let date = http_date(Utc::now());
    let content_type = if body.is_some() {
        "application/json"
    } else {
        ""
    };
    let resource = canonical_resource(DEV_ACCOUNT, &format!("/{DEV_ACCOUNT}{path}"));
    let auth = authorization(
        DEV_ACCOUNT,
        &key,
        method.as_str(),
        content_type,
        &date,
        &resource,
    );
    let url = if query.is_empty() {
        format!("{}{path}", az.endpoint())
    } else {
        format!("{}{path}?{query}", az.endpoint())
    };
    let mut req = Request::new(method, url, "raw", path)
        .header("x-ms-date", &date)
        .header("x-ms-version", "2019-02-02")
        .header("accept", accept)
        .header("authorization", &auth)
        .pass(&[400, 404, 409, 412]);
    if let Some(b) = body {
        req = req.json(b);
    }
    http.send(req).await.expect("raw request")
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
