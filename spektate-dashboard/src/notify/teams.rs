//! Microsoft Teams: a message with one Adaptive Card attachment, what a Teams Workflows
//! webhook ("When a Teams webhook request is received") posts to a channel. The card has the
//! title as a bold text block and the facts as a fact set; the characters of Adaptive Card
//! markdown links and emphasis (`[`, `]`, `*`, `_`, `` ` ``, `\`) in every value are escaped with
//! a backslash, so a record cannot add a link.

use serde_json::{Value, json};

use super::message::Message;

/// The Adaptive Card schema version; Teams renders up to 1.5.
const CARD_VERSION: &str = "1.4";

/// Escapes the characters Teams' markdown gives a meaning to.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_[]".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The body posted to a Teams webhook.
pub(crate) fn body(m: &Message, link: Option<&str>) -> Value {
    let facts: Vec<Value> = m
        .facts
        .iter()
        .map(|(label, value)| json!({"title": label, "value": escape(value)}))
        .collect();
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": [
            {"type": "TextBlock", "text": escape(&m.title), "weight": "Bolder", "size": "Medium", "wrap": true},
            {"type": "FactSet", "facts": facts}
        ]
    });
    if let Some(link) = link {
        card["actions"] =
            json!([{"type": "Action.OpenUrl", "title": "Open in Spektate", "url": link}]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card
        }]
    })
}
