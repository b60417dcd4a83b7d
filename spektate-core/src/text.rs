//! Untrusted text made fit to show: a provider's message, a value a record or an agent sent,
//! cut to a length and kept on one line. Every message, notice and stored value that repeats
//! such words goes through these.

use std::borrow::Cow;

/// `text` cut to at most `max` characters, an ellipsis after a cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// `text` in at most `max` characters, the ellipsis of a cut among them: for a field with a
/// hard limit (a GitHub commit status's description).
pub fn clip_within(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some(_) if max == 0 => String::new(),
        Some(_) => clip(text, max - 1),
        None => text.to_string(),
    }
}

/// `text` with each control character (a line break, an escape) as a space: one line, and
/// nothing a terminal or a log reader acts on.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(text.replace(char::is_control, " "))
    } else {
        Cow::Borrowed(text)
    }
}

/// An untrusted value as a message shows it: [`one_line`], in at most `max` characters
/// ([`clip_within`]).
pub fn shown(text: &str, max: usize) -> String {
    clip_within(&one_line(text), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_at_a_character_and_marks_the_cut() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "abc…");
        assert_eq!(clip("ééééé", 2), "éé…");
        assert_eq!(clip("", 0), "");
        assert_eq!(clip("a", 0), "…");
    }

    #[test]
    fn clip_within_counts_the_ellipsis() {
        assert_eq!(clip_within("abc", 3), "abc");
        assert_eq!(clip_within("abcd", 3), "ab…");
        assert_eq!(clip_within("ééééé", 3).chars().count(), 3);
        assert_eq!(clip_within("ab", 0), "");
    }

    #[test]
    fn one_line_turns_control_characters_into_spaces() {
        assert!(matches!(
            one_line("plain text"),
            Cow::Borrowed("plain text")
        ));
        assert_eq!(one_line("a\nb\r\u{1b}[31mc\u{7f}"), "a b  [31mc ");
    }

    #[test]
    fn shown_is_one_line_then_clipped() {
        assert_eq!(shown("x\ny", 10), "x y");
        assert_eq!(shown("line\nbreak and more", 6), "line …");
    }
}
