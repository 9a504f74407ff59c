//! The names Kubernetes accepts: for objects, namespaces, hosts and label values.

use super::Error;

/// A Service's name, which the Deployment and the Route share: a DNS-1035 label (at most
/// 63 lowercase letters, digits and `-`, starting with a letter, ending with a letter or a
/// digit). Deployments would take more, but a Service refuses a name that starts with a
/// digit, and one name for all three is what people look for.
pub fn object_name(text: &str) -> Result<(), Error> {
    let fits = dns_label(text) && text.starts_with(|c: char| c.is_ascii_lowercase());
    fits.then_some(()).ok_or_else(|| Error::Name {
        what: "name",
        text: text.to_owned(),
        rule: "use at most 63 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit, such as my-app",
    })
}

/// A namespace: a DNS-1123 label.
pub fn namespace(text: &str) -> Result<(), Error> {
    dns_label(text).then_some(()).ok_or_else(|| Error::Name {
        what: "namespace",
        text: text.to_owned(),
        rule: "use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
    })
}

/// A Route's host: a DNS-1123 subdomain, at most 253 characters of dot-separated labels.
pub fn hostname(text: &str) -> Result<(), Error> {
    let fits = text.len() <= 253 && text.split('.').all(dns_label);
    fits.then_some(()).ok_or_else(|| Error::Name {
        what: "host name",
        text: text.to_owned(),
        rule: "use lowercase letters, digits, '-' and '.', such as app.apps.example.com",
    })
}

/// Whether `text` may be a label's value: at most 63 letters, digits, `-`, `_` and `.`,
/// starting and ending with a letter or digit (or empty).
pub fn label_value(text: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    text.is_empty()
        || text.len() <= 63
            && text.starts_with(alnum)
            && text.ends_with(alnum)
            && text.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// A DNS-1123 label: 1 to 63 lowercase letters, digits and `-`, starting and ending with a
/// letter or digit.
fn dns_label(text: &str) -> bool {
    let edge = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=63).contains(&text.len()) && text.starts_with(edge) && text.ends_with(edge) && text.chars().all(|c| edge(c) || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_dns_1035_labels() {
        for good in ["a", "my-app", "app2", &"a".repeat(63)] {
            assert!(object_name(good).is_ok(), "{good}");
        }
        for bad in ["", "My-App", "my_app", "2app", "app-", "-app", "my.app", "app!", &"a".repeat(64)] {
            let err = object_name(bad).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{bad:?} is not a valid name: use at most 63")), "{err}");
        }
    }

    #[test]
    fn namespaces_and_hosts_are_dns_1123() {
        assert!(namespace("2024-team").is_ok());
        assert!(namespace("Team").is_err());
        assert!(hostname("app.apps.example.com").is_ok());
        assert!(hostname("1.example").is_ok());
        for bad in ["", "app..example.com", ".example.com", "example.com.", "App.example.com", "*.example.com", "a_b.example.com"] {
            assert!(hostname(bad).is_err(), "{bad}");
        }
        assert!(hostname(&format!("{}.com", vec!["a".repeat(63); 4].join("."))).is_err(), "longer than 253");
    }

    #[test]
    fn label_values_follow_kubernetes_rules() {
        for good in ["", "1.0", "v1.2.3-rc_1", "latest", &"a".repeat(63)] {
            assert!(label_value(good), "{good}");
        }
        for bad in ["_x", "x-", "a/b", "a b", &"a".repeat(64)] {
            assert!(!label_value(bad), "{bad}");
        }
    }
}
