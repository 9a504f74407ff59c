//! A YAML tree with its keys in the order they were added, and a block-style writer.
//!
//! Kubernetes reads manifests with a YAML 1.1 parser (go-yaml), where `yes`, `on`, `y` and
//! `1.0` are not strings, while YAML 1.2 tools read them as written. So a string is written
//! plain only when every YAML version reads it back as the same string, and double-quoted
//! otherwise, with every character a YAML parser refuses or alters escaped. This module
//! writes YAML; it does not read it (the settings module reads `.warp/config.yaml` with
//! saphyr).

use std::fmt::Write;

/// A YAML value: what a Kubernetes object is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Yaml {
    Str(String),
    Int(i64),
    Bool(bool),
    Seq(Vec<Yaml>),
    /// Entries in the order they are written.
    Map(Vec<(String, Yaml)>),
}

/// A mapping from `(key, value)` pairs, in their order.
pub fn map<const N: usize>(entries: [(&str, Yaml); N]) -> Yaml {
    Yaml::Map(entries.into_iter().map(|(key, value)| (key.to_owned(), value)).collect())
}

impl Yaml {
    /// Add an entry at the end of a mapping; anything else is left as it is.
    pub fn push(&mut self, key: &str, value: Yaml) {
        if let Yaml::Map(entries) = self {
            entries.push((key.to_owned(), value));
        }
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl From<&str> for Yaml {
    fn from(text: &str) -> Yaml {
        Yaml::Str(text.to_owned())
    }
}

impl From<String> for Yaml {
    fn from(text: String) -> Yaml {
        Yaml::Str(text)
    }
}

impl From<bool> for Yaml {
    fn from(value: bool) -> Yaml {
        Yaml::Bool(value)
    }
}

impl From<i64> for Yaml {
    fn from(value: i64) -> Yaml {
        Yaml::Int(value)
    }
}

impl From<u16> for Yaml {
    fn from(value: u16) -> Yaml {
        Yaml::Int(value.into())
    }
}

impl From<u32> for Yaml {
    fn from(value: u32) -> Yaml {
        Yaml::Int(value.into())
    }
}

impl<T: Into<Yaml>> From<Vec<T>> for Yaml {
    fn from(items: Vec<T>) -> Yaml {
        Yaml::Seq(items.into_iter().map(Into::into).collect())
    }
}

/// Documents as one multi-document stream, each opened by `---`.
pub fn documents(docs: &[Yaml]) -> String {
    let mut out = String::new();
    for doc in docs {
        out.push_str("---\n");
        match doc {
            Yaml::Map(entries) if !entries.is_empty() => write_map(&mut out, entries, 0, false),
            Yaml::Seq(items) if !items.is_empty() => write_seq(&mut out, items, 0),
            scalar => {
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
    }
    out
}

/// A mapping's entries at `indent`; `first_placed`: the first key goes where the writer
/// already is (after a sequence's `- `).
fn write_map(out: &mut String, entries: &[(String, Yaml)], indent: usize, mut first_placed: bool) {
    for (key, value) in entries {
        if !first_placed {
            out.push_str(&" ".repeat(indent));
        }
        first_placed = false;
        out.push_str(&scalar(key));
        out.push(':');
        match value {
            Yaml::Map(inner) if !inner.is_empty() => {
                out.push('\n');
                write_map(out, inner, indent + 2, false);
            }
            // A sequence under a key starts at the key's own column, as kubectl writes it.
            Yaml::Seq(items) if !items.is_empty() => {
                out.push('\n');
                write_seq(out, items, indent);
            }
            other => end_line(out, other),
        }
    }
}

fn write_seq(out: &mut String, items: &[Yaml], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Yaml::Map(entries) if !entries.is_empty() => {
                out.push(' ');
                write_map(out, entries, indent + 2, true);
            }
            Yaml::Seq(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, indent + 2);
            }
            other => end_line(out, other),
        }
    }
}

/// A scalar or an empty collection after a key's `:` or a sequence's `-`, ending the line.
fn end_line(out: &mut String, value: &Yaml) {
    out.push(' ');
    out.push_str(&inline(value));
    out.push('\n');
}

/// A scalar or an empty collection, on one line.
fn inline(value: &Yaml) -> String {
    match value {
        Yaml::Str(text) => scalar(text),
        Yaml::Int(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Seq(_) => "[]".to_owned(),
        Yaml::Map(_) => "{}".to_owned(),
    }
}

/// Words that a YAML 1.1 parser reads as a boolean or null, in any case.
const NOT_STRINGS: [&str; 9] = ["y", "n", "yes", "no", "true", "false", "on", "off", "null"];

/// `text` as a YAML string: plain when it starts with a letter or `/`, holds only letters,
/// digits and `. _ / -`, and is none of the words YAML 1.1 reads as something else; else
/// double-quoted. Numbers, dates, `~`, `.inf`, indicators, `: `, `#` and spaces at either
/// end all start with or contain a character outside that set, so they are always quoted.
pub fn scalar(text: &str) -> String {
    let plain = text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'))
        && !NOT_STRINGS.iter().any(|word| word.eq_ignore_ascii_case(text));
    if plain {
        text.to_owned()
    } else {
        double_quoted(text)
    }
}

/// A double-quoted YAML scalar: `"` and `\` escaped, and every character that YAML does not
/// allow printed as is (controls, DEL, the C1 range, U+FFFE/U+FFFF) written as an escape, and
/// so are tabs and the line breaks of either YAML version (NEL, U+2028 and U+2029 are breaks
/// in YAML 1.1): the value stays on one line and reads back exactly. The byte order mark is
/// escaped too, since a parser may drop it.
fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' '..='~'
            | '\u{a0}'..='\u{2027}'
            | '\u{202a}'..='\u{d7ff}'
            | '\u{e000}'..='\u{fefe}'
            | '\u{ff00}'..='\u{fffd}'
            | '\u{10000}'.. => out.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use saphyr::{LoadableYamlNode, Scalar, Yaml as Parsed};

    use super::*;

    /// What a YAML 1.2 parser reads back from `text`'s first document.
    fn parse(text: &str) -> Parsed<'_> {
        let mut docs = Parsed::load_from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"));
        assert!(!docs.is_empty(), "no document in:\n{text}");
        docs.swap_remove(0)
    }

    fn read_back(value: &str) -> String {
        let doc = format!("key: {}\n", scalar(value));
        let parsed = parse(&doc);
        let text = match &parsed["key"] {
            Parsed::Value(Scalar::String(text)) => text.to_string(),
            other => panic!("{value:?} came back as {other:?} from {doc:?}"),
        };
        text
    }

    #[test]
    fn strings_yaml_would_read_as_something_else_are_quoted() {
        let tricky = [
            "yes",
            "No",
            "ON",
            "off",
            "y",
            "N",
            "true",
            "False",
            "null",
            "~",
            "",
            "1.0",
            "1",
            "0x1F",
            "0o17",
            "1e3",
            "1_000",
            "12:30",
            ".inf",
            "-.inf",
            ".NaN",
            "2024-01-01",
            ":",
            "a: b",
            "a :b",
            "#",
            "a #b",
            " leading",
            "trailing ",
            "-",
            "- x",
            "?",
            "*ref",
            "&anchor",
            "!tag",
            "%x",
            "@x",
            "`x",
            "{}",
            "[a]",
            "a,b",
            "'",
            "\"",
            "|",
            ">",
            "=",
            "<<",
        ];
        for text in tricky {
            let written = scalar(text);
            assert!(written.starts_with('"'), "{text:?} was written plain: {written}");
            assert_eq!(read_back(text), text, "{text:?} written as {written}");
        }
    }

    #[test]
    fn plain_strings_stay_plain() {
        for text in ["apps/v1", "Deployment", "app.kubernetes.io/name", "/healthz", "RuntimeDefault", "ALL", "my-app", "yesterday", "e5"] {
            assert_eq!(scalar(text), text);
            assert_eq!(read_back(text), text);
        }
    }

    #[test]
    fn escapes_read_back_exactly() {
        for text in [
            "a\"b\\c",
            "line\nbreak",
            "tab\there",
            "cr\r",
            "nul\0",
            "bell\u{7}",
            "del\u{7f}",
            "c1\u{9b}",
            "nel\u{85}",
            "ls\u{2028}",
            "bom\u{feff}",
            "\u{fffe}",
        ] {
            let written = scalar(text);
            assert!(
                !written.contains(['\n', '\r', '\t', '\0', '\u{7f}', '\u{9b}', '\u{85}', '\u{2028}', '\u{feff}', '\u{fffe}']),
                "{written}"
            );
            assert_eq!(read_back(text), text);
        }
        assert_eq!(scalar("é ✓ 😀"), "\"é ✓ 😀\"");
        assert_eq!(read_back("é ✓ 😀"), "é ✓ 😀");
    }

    #[test]
    fn documents_keep_their_key_order_and_nest_in_block_style() {
        let doc = map([
            ("kind", "Service".into()),
            ("apiVersion", "v1".into()),
            (
                "spec",
                map([("ports", Yaml::Seq(vec![map([("name", "http".into()), ("port", 8080u16.into())])])), ("empty", Yaml::Seq(vec![]))]),
            ),
            ("nested", Yaml::Seq(vec![Yaml::Seq(vec!["a".into(), "b".into()]), map([]), true.into()])),
        ]);
        let text = documents(&[doc, map([("second", 2i64.into())])]);
        let expected = "---\nkind: Service\napiVersion: v1\nspec:\n  ports:\n  - name: http\n    port: 8080\n  empty: []\nnested:\n-\n  - a\n  - b\n- {}\n- true\n---\nsecond: 2\n";
        assert_eq!(text, expected);
        let docs = Parsed::load_from_str(&text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["spec"]["ports"][0]["port"].as_integer(), Some(8080));
        assert_eq!(docs[0]["nested"][0][1].as_str(), Some("b"));
        assert_eq!(docs[0]["nested"][2].as_bool(), Some(true));
        assert_eq!(docs[1]["second"].as_integer(), Some(2));
    }

    #[test]
    fn quoted_keys_and_values_in_sequences_read_back() {
        let doc = map([("a key: with colon", Yaml::Seq(vec!["yes".into(), " x".into()])), ("env", map([("value", "1.0".into())]))]);
        let text = documents(&[doc]);
        let parsed = parse(&text);
        assert_eq!(parsed["a key: with colon"][0].as_str(), Some("yes"));
        assert_eq!(parsed["a key: with colon"][1].as_str(), Some(" x"));
        assert_eq!(parsed["env"]["value"].as_str(), Some("1.0"));
    }
}
