//! What a setting's text may say, and the value it means.
//!
//! Every source gives text (a flag, a variable, a scalar of `.warp/config.yaml`), so one
//! parser per [`Kind`] checks them all alike, and [`Value::render`] gives the text back in
//! the form a variable holds, for `warp.env` and `warp config`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use warp_worker_config::Cidr;

/// The shape of a setting's value.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A duration in (possibly fractional) seconds.
    Seconds,
    /// A size in bytes, with an optional K, M or G suffix (powers of 1024).
    Bytes,
    /// A whole number from `min` to `max`.
    Count {
        min: u64,
        max: u64,
    },
    /// true/false, yes/no, on/off, 1/0.
    Bool,
    Port,
    Ip,
    Text,
    /// A folder.
    Path,
    /// A file (a path, named FILE in help).
    File,
    /// A URL path without a query string, such as `/healthz`.
    UrlPath,
    /// One of a fixed set of names.
    Choice(&'static [Choice]),
    /// A release's version number, as PEP 440 writes it (`2026.0.3`, `1.0rc1`).
    Version,
    /// A process count, or `auto`.
    Processes,
    /// Items separated by commas (a list in `.warp/config.yaml`).
    List(Item),
    /// Space-separated `URL=PATH` pairs (a mapping in `.warp/config.yaml`).
    UrlAliases,
    /// Words as a POSIX shell splits them (a list in `.warp/config.yaml`).
    Words,
    /// `KEY: value` pairs; only `.warp/config.yaml` can give them.
    Map,
}

/// What one item of a [`Kind::List`] must be.
#[derive(Clone, Copy, Debug)]
pub enum Item {
    Text,
    /// An address or a CIDR block.
    Cidr,
    /// A proxy header warp knows how to apply, kept lower-case.
    ProxyHeader,
}

/// A name a [`Kind::Choice`] accepts, with the other spellings that mean it.
#[derive(Clone, Copy, Debug)]
pub struct Choice {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
}

/// A process count: a number, or `auto` for the CPUs the container may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processes {
    Auto,
    Count(usize),
}

/// A checked setting.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Seconds(Duration),
    Bytes(u64),
    Count(u64),
    Bool(bool),
    Port(u16),
    Ip(IpAddr),
    Text(String),
    Path(PathBuf),
    Choice(&'static str),
    Processes(Processes),
    List(Vec<String>),
    Cidrs(Vec<Cidr>),
    Pairs(Vec<(String, String)>),
    Words(Vec<String>),
    Map(BTreeMap<String, String>),
}

/// The proxy headers warp can apply, lower-case.
const PROXY_HEADERS: [&str; 5] = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-real-ip"];

impl Kind {
    /// Whether the kind is a sequence of items, which a flag may repeat.
    pub fn is_repeatable(self) -> bool {
        matches!(self, Kind::List(_) | Kind::UrlAliases | Kind::Words)
    }

    /// Check `text` and return what it means; the error says what to give instead.
    pub fn parse(self, text: &str) -> Result<Value, String> {
        match self {
            Kind::Seconds => seconds(text).map(Value::Seconds),
            Kind::Bytes => bytes(text).map(Value::Bytes),
            Kind::Count { min, max } => match text.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Value::Count(n)),
                _ if max == u64::MAX => Err(format!("{text:?} is not a whole number of at least {min}")),
                _ => Err(format!("{text:?} is not a whole number from {min} to {max}")),
            },
            Kind::Bool => boolean(text).map(Value::Bool),
            Kind::Port => {
                text.trim().parse().map(Value::Port).map_err(|_| format!("{text:?} is not a port number: give one from 0 to 65535"))
            }
            Kind::Ip => text
                .trim()
                .parse()
                .map(Value::Ip)
                .map_err(|_| format!("{text:?} is not an IP address: give one such as 127.0.0.1, 0.0.0.0 or ::")),
            Kind::Text if text.is_empty() => Err("the value is empty: give one, or leave the setting out".to_owned()),
            Kind::Text => Ok(Value::Text(text.to_owned())),
            Kind::Path | Kind::File if text.is_empty() => Err("the path is empty: give one, or leave the setting out".to_owned()),
            Kind::Path | Kind::File => Ok(Value::Path(PathBuf::from(text))),
            Kind::UrlPath => url_path(text).map(Value::Text),
            Kind::Choice(choices) => choice(choices, text).map(Value::Choice),
            Kind::Version => version(text).map(Value::Text),
            Kind::Processes => processes(text).map(Value::Processes),
            Kind::List(item) => list(item, text.split(',').map(str::trim).filter(|s| !s.is_empty())),
            Kind::UrlAliases => text
                .split_whitespace()
                .map(|pair| match pair.split_once('=') {
                    Some((url, path)) => url_alias(url, path),
                    None => Err(format!("{pair:?} is not URL=PATH: write it as /static=static")),
                })
                .collect::<Result<_, _>>()
                .map(Value::Pairs),
            Kind::Words => shell_words::split(text)
                .map(Value::Words)
                .map_err(|e| format!("{text:?} cannot be split into words ({e}): balance its quotes")),
            Kind::Map => Err("a mapping can only be given in .warp/config.yaml".to_owned()),
        }
    }

    /// Check the items of a sequence given one by one (repeated flags, a YAML list).
    pub fn parse_items(self, items: &[String]) -> Result<Value, String> {
        match self {
            Kind::List(item) => list(item, items.iter().map(String::as_str)),
            Kind::UrlAliases => items
                .chunks(2)
                .map(|pair| match pair {
                    [url, path] => url_alias(url, path),
                    _ => Err(format!("{:?} has no PATH: give URL and PATH", pair[0])),
                })
                .collect::<Result<_, _>>()
                .map(Value::Pairs),
            Kind::Words => Ok(Value::Words(items.to_vec())),
            _ => match items {
                [one] => self.parse(one),
                _ => Err("give one value, not a list".to_owned()),
            },
        }
    }

    /// What to write in help text for a value of this kind.
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Seconds => "SECONDS",
            Kind::Bytes => "SIZE",
            Kind::Count { .. } | Kind::Processes => "N",
            Kind::Bool => "BOOL",
            Kind::Port => "PORT",
            Kind::Ip => "ADDRESS",
            Kind::Path => "DIR",
            Kind::File => "FILE",
            Kind::UrlPath => "PATH",
            Kind::Version => "VERSION",
            Kind::List(Item::Cidr) => "CIDR",
            Kind::List(Item::ProxyHeader) => "HEADER",
            Kind::Choice(_) | Kind::Text | Kind::List(Item::Text) | Kind::UrlAliases | Kind::Words | Kind::Map => "VALUE",
        }
    }
}

impl Value {
    /// The value as text in the form its variable takes: parsing it again gives it back.
    pub fn render(&self) -> String {
        match self {
            Value::Seconds(d) => d.as_secs_f64().to_string(),
            Value::Bytes(n) | Value::Count(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Port(p) => p.to_string(),
            Value::Ip(ip) => ip.to_string(),
            Value::Text(s) => s.clone(),
            Value::Path(p) => p.to_string_lossy().into_owned(),
            Value::Choice(name) => (*name).to_owned(),
            Value::Processes(Processes::Auto) => "auto".to_owned(),
            Value::Processes(Processes::Count(n)) => n.to_string(),
            Value::List(items) => items.join(","),
            Value::Cidrs(blocks) => blocks.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            Value::Pairs(pairs) => pairs.iter().map(|(url, path)| format!("{url}={path}")).collect::<Vec<_>>().join(" "),
            Value::Words(words) => shell_words::join(words),
            Value::Map(map) => map.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        }
    }

    /// Whether the value turns its feature off: zero, false, empty, `off`.
    pub fn is_off(&self) -> bool {
        match self {
            Value::Seconds(d) => d.is_zero(),
            Value::Bytes(n) | Value::Count(n) => *n == 0,
            Value::Bool(b) => !b,
            Value::Choice(name) => *name == "off",
            Value::List(items) | Value::Words(items) => items.is_empty(),
            Value::Cidrs(blocks) => blocks.is_empty(),
            Value::Pairs(pairs) => pairs.is_empty(),
            Value::Map(map) => map.is_empty(),
            Value::Port(_) | Value::Ip(_) | Value::Text(_) | Value::Path(_) | Value::Processes(_) => false,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// A duration in (possibly fractional) seconds.
pub fn seconds(text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("{text:?} is not a number of seconds: give one such as 30 or 0.5"))
}

/// A size in bytes, written as a number with an optional K, M or G suffix (powers of 1024).
pub fn bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let (digits, unit) = match trimmed.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => trimmed.split_at(at),
        None => (trimmed, ""),
    };
    let wrong = || format!("{text:?} is not a size: give bytes, or a number with K, M or G");
    let shift = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => return Err(wrong()),
    };
    digits.parse::<u64>().ok().and_then(|n| n.checked_mul(1 << shift)).ok_or_else(wrong)
}

fn boolean(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{text:?} is not true or false: give true, false, 1, 0, yes, no, on or off")),
    }
}

/// A path and query to request: it goes into a request line as it is.
pub fn request_path(text: &str) -> Result<String, String> {
    if !text.starts_with('/') || text.contains(|c: char| c == '#' || c.is_whitespace() || c.is_control()) {
        return Err(format!("{text:?} is not a URL path: give one such as /healthz"));
    }
    Ok(text.to_owned())
}

/// A path alone, as requests are matched on their path.
fn url_path(text: &str) -> Result<String, String> {
    let path = request_path(text)?;
    if path.contains('?') {
        return Err(format!("{text:?} has a query string, which is ignored here: give the path alone, such as /healthz"));
    }
    Ok(path)
}

fn choice(choices: &'static [Choice], text: &str) -> Result<&'static str, String> {
    let wanted = text.trim().to_ascii_lowercase();
    choices
        .iter()
        .find(|c| c.name == wanted || c.aliases.contains(&wanted.as_str()))
        .map(|c| c.name)
        .ok_or_else(|| format!("{text:?} is not one of {}", choices.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")))
}

/// A version number: a digit first, then digits, letters and PEP 440's `.`, `+`, `!`, `-`,
/// `_` (no operator: the setting pins that release).
fn version(text: &str) -> Result<String, String> {
    let version = text.trim();
    let valid = version.starts_with(|c: char| c.is_ascii_digit())
        && version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '!' | '-' | '_'));
    if !valid {
        return Err(format!("{text:?} is not a version number: give the release alone, such as 2026.0.3"));
    }
    Ok(version.to_owned())
}

fn processes(text: &str) -> Result<Processes, String> {
    match text.trim() {
        "auto" => Ok(Processes::Auto),
        n => match n.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Processes::Count(n)),
            _ => Err(format!("{text:?} is not a process count: give a number above 0, or auto")),
        },
    }
}

fn list<'a>(item: Item, items: impl Iterator<Item = &'a str>) -> Result<Value, String> {
    match item {
        Item::Text => Ok(Value::List(items.map(str::to_owned).collect())),
        Item::Cidr => items
            .map(str::parse::<Cidr>)
            .collect::<Result<_, _>>()
            .map(Value::Cidrs),
        Item::ProxyHeader => items
            .map(|s| {
                let name = s.trim().to_ascii_lowercase();
                if PROXY_HEADERS.contains(&name.as_str()) {
                    Ok(name)
                } else {
                    Err(format!("{s:?} is not a proxy header warp knows: use X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Forwarded-Port or X-Real-IP"))
                }
            })
            .collect::<Result<_, _>>()
            .map(Value::List),
    }
}

fn url_alias(url: &str, path: &str) -> Result<(String, String), String> {
    if !url.starts_with('/') {
        return Err(format!("URL {url:?} must start with '/', as in /static=static"));
    }
    if path.is_empty() {
        return Err(format!("URL {url:?} has no folder: write it as {url}=static"));
    }
    Ok((url.to_owned(), path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(bytes("10M"), Ok(10 << 20));
        assert_eq!(bytes("512k"), Ok(512 << 10));
        assert_eq!(bytes("1GiB"), Ok(1 << 30));
        assert_eq!(bytes("77"), Ok(77));
        assert!(bytes("10T").is_err());
        assert!(bytes("M").is_err());
    }

    #[test]
    fn every_kind_renders_to_text_that_parses_back() {
        let cases: [(Kind, &str); 10] = [
            (Kind::Seconds, "0.5"),
            (Kind::Bytes, "1024"),
            (Kind::Count { min: 1, max: 9 }, "3"),
            (Kind::Bool, "true"),
            (Kind::Ip, "::1"),
            (Kind::Processes, "auto"),
            (Kind::List(Item::Cidr), "10.0.0.0/8,::1/128"),
            (Kind::List(Item::ProxyHeader), "x-forwarded-for,x-real-ip"),
            (Kind::UrlAliases, "/static=static /media=up"),
            (Kind::Words, "--a 'b c'"),
        ];
        for (kind, text) in cases {
            let value = kind.parse(text).unwrap();
            assert_eq!(kind.parse(&value.render()).unwrap(), value, "{kind:?} {text}");
        }
    }

    #[test]
    fn bad_text_says_what_to_give() {
        assert!(Kind::Count { min: 1, max: 65535 }.parse("0").unwrap_err().contains("from 1 to 65535"));
        assert!(Kind::Bool.parse("maybe").unwrap_err().contains("true, false"));
        assert!(Kind::UrlPath.parse("/h?x=1").unwrap_err().contains("query string"));
        assert!(Kind::List(Item::ProxyHeader).parse("X-Evil").unwrap_err().contains("X-Forwarded-For"));
        assert!(Kind::UrlAliases.parse("static=static").unwrap_err().contains("must start with '/'"));
        assert!(Kind::Processes.parse("0").unwrap_err().contains("auto"));
        assert_eq!(Kind::Version.parse(" 2026.0.3 "), Ok(Value::Text("2026.0.3".to_owned())));
        assert_eq!(Kind::Version.parse("1.0rc1+local"), Ok(Value::Text("1.0rc1+local".to_owned())));
        for bad in ["==2026.0.3", "latest", "1.0; rm -rf /", ""] {
            assert!(Kind::Version.parse(bad).unwrap_err().contains("such as 2026.0.3"), "{bad}");
        }
    }

    #[test]
    fn choices_accept_their_aliases() {
        const C: &[Choice] = &[Choice { name: "mod_wsgi", aliases: &["mod-wsgi"] }];
        assert_eq!(Kind::Choice(C).parse("Mod-WSGI"), Ok(Value::Choice("mod_wsgi")));
        assert!(Kind::Choice(C).parse("apache").unwrap_err().contains("mod_wsgi"));
    }
}
