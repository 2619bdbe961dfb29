//! Full-text search that works for Korean.
//!
//! SQLite's unicode61 tokenizer splits on spaces, so `엄마가` is one token and a search for
//! `엄마` would miss it; trigram indexes cannot find two-syllable words at all, and two
//! syllables is the most common Korean word length. So for runs of Hangul (and other CJK
//! scripts, which have the same problem) we index overlapping bigrams: `엄마가` → `엄마 마가`.
//! A query is split the same way and searched as a phrase, so `엄마` finds `엄마가 전화했어`
//! and `전화했` finds it too. Other scripts keep whole words, matched by prefix.

/// True for scripts written without spaces between the parts of a word.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0xAC00..=0xD7A3   // Hangul syllables
        | 0x1100..=0x11FF // Hangul jamo
        | 0x3130..=0x318F // Hangul compatibility jamo
        | 0x3040..=0x30FF // Hiragana, Katakana
        | 0x4E00..=0x9FFF // CJK unified ideographs
    )
}

/// Splits text into index terms: words, with CJK runs as overlapping bigrams.
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut run: Vec<char> = Vec::new();
        let mut other = String::new();
        let flush_run = |run: &mut Vec<char>, out: &mut Vec<String>| {
            match run.len() {
                0 => {}
                1 => out.push(run.iter().collect()),
                _ => out.extend(run.windows(2).map(|w| w.iter().collect())),
            }
            run.clear();
        };
        for c in word.chars() {
            if is_cjk(c) {
                if !other.is_empty() {
                    out.push(std::mem::take(&mut other).to_lowercase());
                }
                run.push(c);
            } else {
                flush_run(&mut run, &mut out);
                other.push(c);
            }
        }
        flush_run(&mut run, &mut out);
        if !other.is_empty() {
            out.push(other.to_lowercase());
        }
    }
    out
}

/// What goes in the index column for a message body.
pub fn index_text(body: &str) -> String {
    terms(body).join(" ")
}

/// An FTS5 MATCH expression for a user's query, or None if it has nothing to search for.
/// Every term is quoted (no FTS syntax from the user reaches SQLite); a single-syllable CJK
/// query or the last Latin word matches as a prefix.
pub fn match_query(query: &str) -> Option<String> {
    let mut parts = Vec::new();
    for word in query.split_whitespace() {
        let t = terms(word);
        if t.is_empty() {
            continue;
        }
        let quoted: Vec<String> = t
            .iter()
            .map(|x| format!("\"{}\"", x.replace('"', "")))
            .collect();
        let single = t.len() == 1;
        let phrase = if single {
            format!("{}*", quoted[0])
        } else {
            // CJK bigrams must be adjacent: a phrase.
            format!("\"{}\"", t.join(" ").replace('"', ""))
        };
        parts.push(phrase);
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join(" AND "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hangul_becomes_bigrams() {
        assert_eq!(
            terms("엄마가 전화했어"),
            vec!["엄마", "마가", "전화", "화했", "했어"]
        );
        assert_eq!(terms("Hello, 엄마!"), vec!["hello", "엄마"]);
        assert_eq!(terms("밥"), vec!["밥"]);
    }

    #[test]
    fn queries_are_quoted() {
        assert_eq!(match_query("엄마").unwrap(), "\"엄마\"*");
        assert_eq!(match_query("전화했").unwrap(), "\"전화 화했\"");
        assert_eq!(match_query("  "), None);
        assert_eq!(
            match_query("a\"b OR c").unwrap(),
            "\"a b\" AND \"or\"* AND \"c\"*"
        );
    }
}
