//! Checking a JSON body's shape in one pass, without building it: every byte is validated as JSON, and the
//! values at a few JSON pointers must be of a given kind. Parsing a 120 KB marketplace page into a
//! `serde_json::Value` costs the load tool about as much CPU as the server spends producing it uncached;
//! walking it with `IgnoredAny` for everything off the wanted paths costs a fraction, and the verdict is
//! the same.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// How [`check`]'s error begins when the body is not JSON at all (the rest says why).
pub const NOT_JSON: &str = "body is not JSON";

/// What the value at a pointer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The boolean `true`.
    True,
    /// An array.
    Array,
    /// A number.
    Number,
}

/// Is `body` JSON whose value at each pointer of `wants` (such as `/data/pitches`; object keys only) is of
/// the wanted kind? The error names the first pointer that is not, in the words of `crate::http`'s checks.
pub fn check(body: &[u8], wants: &[(&str, Want)]) -> Result<(), String> {
    let root = Node::of(wants);
    let mut found = vec![false; wants.len()];
    let mut de = serde_json::Deserializer::from_slice(body);
    Walk { node: &root, found: &mut found }.deserialize(&mut de).map_err(|e| format!("{NOT_JSON}: {e}"))?;
    de.end().map_err(|e| format!("{NOT_JSON}: {e}"))?;
    match wants.iter().zip(&found).find(|(_, ok)| !**ok) {
        None => Ok(()),
        Some(((pointer, want), _)) => Err(match want {
            Want::True if *pointer == "/success" => "success is not true".to_owned(),
            Want::True => format!("{pointer} is not true"),
            Want::Array => format!("{pointer} is not an array"),
            Want::Number => format!("{pointer} is not a number"),
        }),
    }
}

/// The pointers as a tree of keys: `want` is set on the node a pointer ends at.
#[derive(Default)]
struct Node<'a> {
    want: Option<(usize, Want)>,
    kids: Vec<(&'a str, Node<'a>)>,
}

impl<'a> Node<'a> {
    fn of(wants: &[(&'a str, Want)]) -> Node<'a> {
        let mut root = Node::default();
        for (i, (pointer, want)) in wants.iter().enumerate() {
            let mut node = &mut root;
            for key in pointer.split('/').skip(1) {
                let at = match node.kids.iter().position(|(k, _)| *k == key) {
                    Some(at) => at,
                    None => {
                        node.kids.push((key, Node::default()));
                        node.kids.len() - 1
                    }
                };
                node = &mut node.kids[at].1;
            }
            node.want = Some((i, *want));
        }
        root
    }
}

/// Walks one value: records whether it is what its node wants, and descends into the wanted keys of an
/// object; everything else is read as `IgnoredAny` (validated, not kept).
struct Walk<'n, 'f> {
    node: &'n Node<'n>,
    found: &'f mut [bool],
}

impl Walk<'_, '_> {
    fn saw(&mut self, kind: Want) {
        if let Some((i, want)) = self.node.want {
            self.found[i] = want == kind;
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(mut self, v: bool) -> Result<(), E> {
        if v {
            self.saw(Want::True);
        }
        Ok(())
    }

    fn visit_i64<E: de::Error>(mut self, _: i64) -> Result<(), E> {
        self.saw(Want::Number);
        Ok(())
    }

    fn visit_u64<E: de::Error>(mut self, _: u64) -> Result<(), E> {
        self.saw(Want::Number);
        Ok(())
    }

    fn visit_f64<E: de::Error>(mut self, _: f64) -> Result<(), E> {
        self.saw(Want::Number);
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.saw(Want::Array);
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Walk { node, found } = self;
        while let Some(kid) = map.next_key_seed(Key(node))? {
            match kid {
                Some(kid) => map.next_value_seed(Walk { node: kid, found: &mut *found })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// An object key: the child node it leads to, if any (compared without allocating).
struct Key<'n>(&'n Node<'n>);

impl<'de, 'n> DeserializeSeed<'de> for Key<'n> {
    type Value = Option<&'n Node<'n>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'n> Visitor<'de> for Key<'n> {
    type Value = Option<&'n Node<'n>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.kids.iter().find(|(k, _)| *k == v).map(|(_, n)| n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &[u8] =
        br#"{"data":{"pitches":[{"id":1,"t":"a\"b"}],"total":1,"id":7},"items":[],"success":true,"total":3}"#;

    #[test]
    fn wanted_paths_are_checked_and_the_rest_validated() {
        assert_eq!(check(PAGE, &[("/success", Want::True), ("/items", Want::Array), ("/total", Want::Number)]), Ok(()));
        assert_eq!(check(PAGE, &[("/data/pitches", Want::Array), ("/data/id", Want::Number)]), Ok(()));
        assert_eq!(check(PAGE, &[("/data/items", Want::Array)]), Err("/data/items is not an array".into()));
        assert_eq!(check(PAGE, &[("/data/total", Want::Array)]), Err("/data/total is not an array".into()));
        assert_eq!(check(PAGE, &[("/items", Want::Number)]), Err("/items is not a number".into()));
        let refused = br#"{"success":false,"items":[]}"#;
        assert_eq!(check(refused, &[("/success", Want::True)]), Err("success is not true".into()));
        // The same answers as parsing the whole document, on bodies that are not JSON at all.
        for broken in [&br#"{"success":true,"items":[}"#[..], br#"{"success":true} x"#, b"", br#"{"a":"\q"}"#] {
            assert!(check(broken, &[("/success", Want::True)]).is_err_and(|e| e.starts_with("body is not JSON")));
            assert!(serde_json::from_slice::<serde_json::Value>(broken).is_err());
        }
    }

    #[test]
    fn escaped_keys_match_like_their_text() {
        let body = br#"{"succ\u0065ss":true}"#;
        assert_eq!(check(body, &[("/success", Want::True)]), Ok(()));
    }
}
