//! The keys of the join's lookup tables (run ids, commits, pull-request ids, repository
//! keys), kept inline when short: comparing a stored key with a probe then reads no memory
//! beyond the table's own slot, which matters when the tables outgrow the CPU caches.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// The longest key kept inline: a 40-character commit SHA with room to spare.
const INLINE: usize = 46;

/// A lookup key: a string, stored inline up to 46 bytes. It hashes and compares as its
/// text, so a table keyed by `Key` is queried with a `&str`.
#[derive(Clone)]
pub struct Key(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl Key {
    /// The key's text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // SAFETY: the first `len` bytes are always the whole bytes of a `&str`, copied
            // in by `From<&str>` and never changed after, so they are valid UTF-8.
            Repr::Inline { len, bytes } => unsafe {
                std::str::from_utf8_unchecked(&bytes[..*len as usize])
            },
            Repr::Heap(s) => s,
        }
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Key(Repr::Inline {
                len: s.len() as u8,
                bytes,
            })
        } else {
            Key(Repr::Heap(s.into()))
        }
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        if s.len() <= INLINE {
            Key::from(s.as_str())
        } else {
            Key(Repr::Heap(s.into_boxed_str()))
        }
    }
}

impl From<&String> for Key {
    fn from(s: &String) -> Self {
        Key::from(s.as_str())
    }
}

impl Deref for Key {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Key {}

impl PartialEq<str> for Key {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Key {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn short_and_long_keys_are_found_by_their_text() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let long = "x".repeat(INLINE + 1);
        let mut map: HashMap<Key, u32> = HashMap::new();
        map.insert("42".into(), 1);
        map.insert(sha.into(), 2);
        map.insert(long.clone().into(), 3);
        map.insert(String::new().into(), 4);
        assert_eq!(map.get("42"), Some(&1));
        assert_eq!(map.get(sha), Some(&2));
        assert_eq!(map.get(long.as_str()), Some(&3));
        assert_eq!(map.get(""), Some(&4));
        assert_eq!(map.get("4"), None);
        assert!(matches!(Key::from(sha).0, Repr::Inline { .. }));
        assert!(matches!(Key::from(long.as_str()).0, Repr::Heap(_)));
    }

    #[test]
    fn keys_keep_multibyte_text_and_order_as_text() {
        let k = Key::from("ünïcode-ключ");
        assert_eq!(k.as_str(), "ünïcode-ключ");
        assert_eq!(format!("{k}|{k:?}"), "ünïcode-ключ|\"ünïcode-ключ\"");
        let mut keys: Vec<Key> = ["b", "a"].into_iter().map(Key::from).collect();
        keys.sort();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(Key::from("job:9"), "job:9");
    }
}
