//! The words of the library's enums, as their JSON documents spell them (`inProgress`,
//! `manualHldEdit`, `azure-devops`): serde's names are the one list every binding, stub and
//! type declaration follows.

use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserializer, Serialize};
use spektate::{DeploymentKind, Error, Result, Status};

/// The JSON word of an enum value (`Status::InProgress` → `inProgress`); empty for a value
/// that does not serialize as a string, which no enum of the library does.
pub fn word<E: Serialize>(value: &E) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The value an enum's JSON word names, exactly as serde spells it.
pub fn from_word<E: DeserializeOwned>(word: &str) -> Option<E> {
    serde_json::from_value(serde_json::Value::String(word.to_string())).ok()
}

/// Every word of an enum, in declaration order: the names its derived `Deserialize` knows,
/// read from serde itself (aliases left out), so the list cannot fall behind the enum.
///
/// ```
/// use spektate::Status;
/// use spektate_bindings_common::words::words;
/// assert_eq!(words::<Status>(), ["complete", "inProgress", "failed", "canceled", "incomplete"]);
/// ```
pub fn words<E: DeserializeOwned + Serialize>() -> Vec<&'static str> {
    let mut names = VariantNames(None);
    // It always fails: it stops the enum's deserializer once the names are known.
    let _ = E::deserialize(&mut names);
    names
        .0
        .unwrap_or_default()
        .iter()
        .copied()
        .filter(|w| from_word::<E>(w).is_some_and(|v| word(&v) == *w))
        .collect()
}

/// A deserializer that only records the variant names an enum's `Deserialize` offers.
struct VariantNames(Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for &mut VariantNames {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> std::result::Result<V::Value, Self::Error> {
        Err(de::Error::custom("not an enum"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        self.0 = Some(variants);
        Err(de::Error::custom("variant names read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

/// A `ConfigError` for `field`: `word` is none of the enum's words, which it lists.
fn not_one_of<E: DeserializeOwned + Serialize>(field: &str, word: &str) -> Error {
    Error::invalid(
        field,
        format!("'{word}' is not one of {}", words::<E>().join(", ")),
    )
}

/// A deployment status from any spelling `spektate get --status` accepts (`inProgress`,
/// `in-progress`, `succeeded` for `complete`), or a `ConfigError` listing the JSON words.
pub fn status(word: &str) -> Result<Status> {
    Status::parse(word).map_err(|_| not_one_of::<Status>("status", word))
}

/// A deployment kind from any spelling `spektate get --kind` accepts (`manualHldEdit`,
/// `manual-hld-edit`), or a `ConfigError` listing the JSON words.
pub fn kind(word: &str) -> Result<DeploymentKind> {
    DeploymentKind::parse(word).map_err(|_| not_one_of::<DeploymentKind>("kind", word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spektate::{RepoHost, RunStatus, StepState};

    #[test]
    fn the_words_are_serde_names_and_turn_back_into_their_values() {
        assert_eq!(words::<DeploymentKind>(), ["deployment", "manualHldEdit"]);
        assert_eq!(words::<RepoHost>(), ["azure-devops", "github", "gitlab"]);
        assert_eq!(words::<RunStatus>(), ["queued", "inProgress", "completed"]);
        for w in words::<StepState>() {
            assert_eq!(word(&from_word::<StepState>(w).unwrap()), w);
        }
        assert_eq!(word(&StepState::Expired), "expired");
        assert_eq!(
            from_word::<Status>("in-progress"),
            None,
            "exact serde names only"
        );
    }

    #[test]
    fn a_non_enum_has_no_words_and_a_non_string_no_word() {
        assert!(words::<String>().is_empty());
        assert_eq!(word(&3), "");
    }

    #[test]
    fn filter_words_accept_the_json_and_the_command_line_spellings() {
        for (w, s) in [
            ("inProgress", Status::InProgress),
            ("in-progress", Status::InProgress),
            ("complete", Status::Complete),
            ("succeeded", Status::Complete),
            ("canceled", Status::Canceled),
        ] {
            assert_eq!(status(w).unwrap(), s, "{w}");
        }
        assert_eq!(
            kind("manualHldEdit").unwrap(),
            DeploymentKind::ManualHldEdit
        );
        assert_eq!(
            kind("manual-hld-edit").unwrap(),
            DeploymentKind::ManualHldEdit
        );
        assert_eq!(kind("deployment").unwrap(), DeploymentKind::Deployment);
    }

    #[test]
    fn a_wrong_word_is_a_config_error_listing_the_json_words() {
        let e = status("bogus").unwrap_err();
        assert_eq!(e.kind(), "ConfigError");
        assert_eq!(
            e.to_string(),
            "invalid status: 'bogus' is not one of complete, inProgress, failed, canceled, incomplete"
        );
        assert_eq!(
            kind("image").unwrap_err().to_string(),
            "invalid kind: 'image' is not one of deployment, manualHldEdit"
        );
    }
}
