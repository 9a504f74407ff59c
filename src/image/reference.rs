//! Image names and tags (`name[:tag]`), checked as the distribution spec gives them.

use std::fmt;

use super::{Error, Result};

/// A `name:tag` an image is written under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    name: String,
    tag: String,
}

impl Reference {
    /// Parse `name[:tag]` (the tag defaults to `latest`; digests are not accepted here).
    pub fn parse(text: &str) -> Result<Reference> {
        let invalid = || Error::Reference(text.to_string());
        // A `:` after the last `/` starts the tag; one before it is a registry's port.
        let (name, tag) = match text.rfind(':') {
            Some(colon) if !text[colon..].contains('/') => (&text[..colon], &text[colon + 1..]),
            _ => (text, "latest"),
        };
        if name.is_empty() || name.len() > 255 || !valid_tag(tag) {
            return Err(invalid());
        }
        let mut parts = name.split('/').peekable();
        let first = parts.next().ok_or_else(invalid)?;
        let first_is_host = parts.peek().is_some() && is_host(first);
        let valid = if first_is_host { valid_host(first) } else { valid_path_component(first) };
        if !valid || !parts.all(valid_path_component) {
            return Err(invalid());
        }
        Ok(Reference { name: name.to_string(), tag: tag.to_string() })
    }

    /// The name as given, without the tag.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tag.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The name with its registry and namespace spelled out, as containerd names images
    /// (`app` → `docker.io/library/app`).
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.registry(), self.repository())
    }

    /// The registry the name is in: its first component when that is a host (it has a `.`
    /// or a `:`, or is `localhost`, and more components follow), else `docker.io`.
    pub fn registry(&self) -> &str {
        self.split_host().map_or(DOCKER_HUB, |(host, _)| host)
    }

    /// The repository inside [`Reference::registry`], as its API names it: `app` →
    /// `library/app`, `me/app` → `me/app`, `quay.io/me/app` → `me/app`.
    pub fn repository(&self) -> String {
        match self.split_host() {
            Some((_, path)) => path.to_string(),
            None if self.name.contains('/') => self.name.clone(),
            None => format!("library/{}", self.name),
        }
    }

    /// The host and the path after it, when the name starts with a host.
    fn split_host(&self) -> Option<(&str, &str)> {
        self.name.split_once('/').filter(|(first, _)| is_host(first))
    }
}

/// The registry of names that start with no host.
const DOCKER_HUB: &str = "docker.io";

/// Whether a name's first component (when more follow) is a registry host rather than a path.
fn is_host(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost"
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
fn valid_path_component(part: &str) -> bool {
    let bytes = part.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.first().is_none_or(|b| !alnum(b)) || bytes.last().is_none_or(|b| !alnum(b)) {
        return false;
    }
    let mut separator = String::new();
    for &b in bytes {
        if alnum(&b) {
            if !(separator.is_empty() || separator == "." || separator == "_" || separator == "__" || separator.bytes().all(|c| c == b'-'))
            {
                return false;
            }
            separator.clear();
        } else if matches!(b, b'.' | b'_' | b'-') {
            separator.push(b as char);
        } else {
            return false;
        }
    }
    true
}

/// A host name or address with an optional port.
fn valid_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    name_ok && port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    tag.len() <= 128 && tag.bytes().next().is_some_and(word) && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tags() {
        let cases = [
            ("app", "app", "latest", "docker.io/library/app"),
            ("app:1.0", "app", "1.0", "docker.io/library/app"),
            ("me/my-app:v2_x", "me/my-app", "v2_x", "docker.io/me/my-app"),
            ("localhost:5000/team/app:dev", "localhost:5000/team/app", "dev", "localhost:5000/team/app"),
            ("quay.io/a__b/c.d", "quay.io/a__b/c.d", "latest", "quay.io/a__b/c.d"),
        ];
        for (text, name, tag, full) in cases {
            let reference = Reference::parse(text).unwrap();
            assert_eq!((reference.name(), reference.tag(), reference.full_name().as_str()), (name, tag, full), "{text}");
            assert_eq!(format!("{}/{}", reference.registry(), reference.repository()), full, "{text}");
        }
        assert_eq!(Reference::parse("app").unwrap().to_string(), "app:latest");
        let local = Reference::parse("127.0.0.1:5000/app:1").unwrap();
        assert_eq!((local.registry(), local.repository().as_str()), ("127.0.0.1:5000", "app"));
    }

    #[test]
    fn invalid_references_are_refused() {
        for text in ["", "App", "app:", "app:-x", "-app", "app_", "a/../b", "a//b", "a:b:c", "a@sha256:00", "a___b", "app:t ag", ":tag"] {
            let err = Reference::parse(text).unwrap_err();
            assert!(err.to_string().contains("not a valid image name"), "{text}: {err}");
        }
        let long_tag = format!("app:{}", "t".repeat(129));
        assert!(Reference::parse(&long_tag).is_err());
    }
}
