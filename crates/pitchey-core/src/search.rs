//! Turning hostile search input into safe search terms. Both storage backends build their full-text
//! query syntax only from these terms, so no user character ever reaches a query language raw.

/// Longest search input considered, in characters; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most terms used from one query.
pub const MAX_TERMS: usize = 8;

/// Splits `q` into lower-case words of letters and digits (any script), at most [`MAX_TERMS`] of them.
/// Everything else — quotes, operators, `*`, `(`, `%`, `--`, emoji — separates words and is dropped.
/// A lone ASCII letter or digit is dropped too: as a prefix it matches nearly every pitch ("a" is a prefix
/// of half the catalogue's words), which costs a scan of the whole index and ranks nothing useful. A lone
/// character of another script (a CJK word, say) is kept.
pub fn terms(q: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in q
        .chars()
        .take(MAX_QUERY_CHARS)
        .collect::<String>()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        // Lower-casing can add characters that are not letters: "İ" becomes "i" and a combining dot.
        let w: String = word.to_lowercase().chars().filter(|c| c.is_alphanumeric()).take(64).collect();
        if w.len() == 1 {
            continue; // one byte: a lone ASCII letter or digit
        }
        if !out.contains(&w) {
            out.push(w);
        }
        if out.len() == MAX_TERMS {
            break;
        }
    }
    out
}

/// Escapes `%`, `_` and the escape character itself for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hostile_input_becomes_plain_words() {
        assert_eq!(terms(r#"" * OR NEAR( ' % -- 🎬 Space"#), vec!["or", "near", "space"]);
        assert_eq!(terms("Midnight  midnight HEIST"), vec!["midnight", "heist"]);
        assert!(terms("\"\"**").is_empty());
        assert_eq!(terms(&"ab ".repeat(5000)).len(), 1);
        assert!(terms("a b 1 ?").is_empty());
        assert_eq!(terms("Part 2 of a war é 愛"), vec!["part", "of", "war", "é", "愛"]);
        assert_eq!(terms("İstanbul İ"), vec!["istanbul"], "lower-casing must not bring in a combining mark");
        assert_eq!(like_escape("50%_off\\"), "50\\%\\_off\\\\");
    }

    proptest! {
        #[test]
        fn terms_are_alphanumeric_and_bounded(q in ".{0,400}") {
            let t = terms(&q);
            prop_assert!(t.len() <= MAX_TERMS);
            for w in t {
                prop_assert!(!w.is_empty());
                prop_assert!(w.chars().all(char::is_alphanumeric));
            }
        }
    }
}
