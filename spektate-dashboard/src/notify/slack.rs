//! Slack incoming webhooks: `text` (the notification's fallback and push text) and Block
//! Kit `blocks`, a section with the title and fields with the facts. `&`, `<` and `>` of
//! every value are escaped as Slack asks, so a record cannot add a link or a mention.

use serde_json::{Value, json};

use super::message::Message;

/// Slack allows at most ten fields per section.
const MAX_FIELDS: usize = 10;

/// Escapes the three characters Slack's mrkdwn gives a meaning to.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The body posted to a Slack webhook.
pub(crate) fn body(m: &Message, link: Option<&str>) -> Value {
    let fields: Vec<Value> = m
        .facts
        .iter()
        .take(MAX_FIELDS)
        .map(|(label, value)| json!({"type": "mrkdwn", "text": format!("*{label}*\n{}", escape(value))}))
        .collect();
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*{}*", escape(&m.title))}}),
        json!({"type": "section", "fields": fields}),
    ];
    if let Some(link) = link {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": format!("<{}|Open in Spektate>", escape(link))}]
        }));
    }
    json!({"text": escape(&m.title), "blocks": blocks})
}
