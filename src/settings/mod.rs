//! Every setting of warp, and where each one's value comes from.
//!
//! [`table`] has one row per setting: its flag, its `WARP_*` variable, its key in
//! `.warp/config.yaml`, its default, the shape of its value and its help. [`resolve`] gives
//! each setting a command reads its value in this order, first found wins:
//!
//! 1. the flag on the command line;
//! 2. the variable in the app's environment: inherited, else from the environment files
//!    (`.s2i/environment`, `.warp/environment`), with `deploy-env`/`build-env` output over
//!    both, as [`crate::appenv`] merges them; then the variables a platform sets (`PORT`);
//! 3. for the embedded server, `server.args` read as flags (warpdrive's `server_args`);
//! 4. `.warp/config.yaml` (and warpdrive's `server_type`), see [`config_file`];
//! 5. the default, which may differ in a container (`APP_ROOT` set).
//!
//! Each value keeps its [`Origin`], which `warp config` prints and errors quote. This module
//! does not parse the command line (the binary does, from the same table) and runs nothing.

pub mod config_file;
pub mod table;
pub mod value;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use config_file::ConfigFile;
pub use table::{row, var, Arg, Fallback, Id, Scope, Setting, TABLE};
pub use value::{Kind, Processes, Value};
use warp_worker_config::Cidr;

use crate::appenv::VarSource;

/// A setting's value was refused: where it was given, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{place}: {message}")]
pub struct SettingError {
    pub place: String,
    pub message: String,
}

impl SettingError {
    pub fn new(place: String, message: String) -> SettingError {
        SettingError { place, message }
    }
}

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// `--NAME` on the command line.
    Flag(String),
    /// A variable, and where the app's environment got it.
    Variable { name: &'static str, source: VarSource },
    /// `server.args` (or warpdrive's `server_args`), read as flags.
    ServerArgs(Box<Origin>),
    /// A key of `.warp/config.yaml`, at this line.
    ConfigFile { path: PathBuf, line: usize },
    /// A file of a warpdrive project: `.warpdrive/server_type`, `.warpdrive/server_args`.
    LegacyFile(PathBuf),
    /// No source gave it; `container` when the container default applied.
    Default { container: bool },
}

impl Origin {
    /// Whether the value is the default, not something anyone wrote.
    pub fn is_default(&self) -> bool {
        matches!(self, Origin::Default { .. })
    }

    /// The origin as JSON, for `warp config --json`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Origin::Flag(flag) => json!({"source": "flag", "flag": flag}),
            Origin::Variable { name, source } => match source {
                VarSource::Inherited => json!({"source": "variable", "variable": name}),
                VarSource::File { path, line } => json!({"source": "environment file", "variable": name, "file": path, "line": line}),
                VarSource::Hook(hook) => json!({"source": "action hook", "variable": name, "hook": hook}),
                VarSource::Warp => json!({"source": "warp", "variable": name}),
            },
            Origin::ServerArgs(inner) => json!({"source": "server args", "from": inner.to_json()}),
            Origin::ConfigFile { path, line } => json!({"source": "config file", "file": path, "line": line}),
            Origin::LegacyFile(path) => json!({"source": "warpdrive file", "file": path}),
            Origin::Default { container } => json!({"source": "default", "container": container}),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::Variable { name, source } => match source {
                VarSource::Inherited => write!(f, "variable {name}"),
                VarSource::File { path, line } => write!(f, "{name} in {path}:{line}"),
                VarSource::Hook(hook) => write!(f, "{name} from action hook {hook}"),
                VarSource::Warp => write!(f, "{name}, set by warp"),
            },
            Origin::ServerArgs(inner) => write!(f, "server args ({inner})"),
            Origin::ConfigFile { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::LegacyFile(path) => write!(f, "{}", path.display()),
            Origin::Default { container: false } => f.write_str("default"),
            Origin::Default { container: true } => f.write_str("default in a container"),
        }
    }
}

/// A variable's value as the app's processes see it, and where it came from.
pub trait Environment {
    fn lookup(&self, name: &str) -> Option<(String, VarSource)>;
}

/// warp's own environment, as inherited: for commands that have no app environment.
pub struct Inherited;

impl Environment for Inherited {
    fn lookup(&self, name: &str) -> Option<(String, VarSource)> {
        crate::env_vars::get(name).map(|value| (value, VarSource::Inherited))
    }
}

/// What was typed on the command line: each flag's values as text, already checked.
pub type Flags = BTreeMap<Id, Vec<String>>;

/// Everything a resolution reads.
pub struct Sources<'a> {
    pub flags: &'a Flags,
    pub env: &'a dyn Environment,
    pub config: &'a ConfigFile,
}

/// One resolved setting.
#[derive(Clone, Debug)]
pub struct Entry {
    pub row: &'static Setting,
    /// `None`: unset (the feature is off, or something else decides).
    pub value: Option<Value>,
    pub origin: Origin,
}

/// The resolved settings of one command.
#[derive(Clone, Debug)]
pub struct Settings {
    entries: Vec<Option<Entry>>,
    container: bool,
}

/// Resolve every setting in `scopes` from `sources`.
pub fn resolve(sources: &Sources, scopes: &[Scope]) -> Result<Settings, SettingError> {
    let container = sources.env.lookup(crate::env_vars::APP_ROOT).is_some();
    let mut settings = Settings { entries: vec![None; TABLE.len()], container };
    for row in TABLE.iter().filter(|row| scopes.iter().any(|s| row.in_scope(*s))) {
        settings.entries[row.id as usize] = Some(resolve_row(row, sources, container)?);
    }
    // For the embedded server, server args are flags given where config.yaml gives them.
    let embedded = settings.get(Id::ServerType).is_some_and(|v| *v == Value::Choice("warp"));
    if let (true, Some(entry)) = (embedded, settings.entry(Id::ServerArgs).cloned()) {
        if let Some(Value::Words(words)) = &entry.value {
            let place = || format!("server args ({})", entry.origin);
            for (id, values) in flag_words(words).map_err(|m| SettingError::new(place(), m))? {
                let row = table::row(id);
                let value = row.kind.parse_items(&values).map_err(|m| SettingError::new(format!("{} {}", place(), row.name()), m))?;
                let slot = &mut settings.entries[id as usize];
                let weaker = slot
                    .as_ref()
                    .is_some_and(|e| matches!(e.origin, Origin::ConfigFile { .. } | Origin::LegacyFile(_) | Origin::Default { .. }));
                if weaker {
                    *slot = Some(Entry { row, value: Some(value), origin: Origin::ServerArgs(Box::new(entry.origin.clone())) });
                }
            }
        }
    }
    Ok(settings)
}

fn resolve_row(row: &'static Setting, sources: &Sources, container: bool) -> Result<Entry, SettingError> {
    if let Some(values) = sources.flags.get(&row.id) {
        let value = row.kind.parse_items(values).map_err(|m| SettingError::new(row.name(), m))?;
        return Ok(Entry { row, value: Some(value), origin: Origin::Flag(row.name()) });
    }
    for name in row.var.iter().chain(row.aliases) {
        let Some((text, source)) = sources.env.lookup(name) else { continue };
        // warp's own machinery is not the app's to configure.
        if row.in_scope(Scope::Tool) && source != VarSource::Inherited {
            continue;
        }
        let origin = Origin::Variable { name, source };
        let place = || match &origin {
            Origin::Variable { source: VarSource::Inherited, .. } => (*name).to_owned(),
            origin => origin.to_string(),
        };
        let value = row.kind.parse(&text).map_err(|m| SettingError::new(place(), m))?;
        return Ok(Entry { row, value: Some(value), origin });
    }
    if let Some((value, origin)) = sources.config.entries.get(&row.id) {
        return Ok(Entry { row, value: Some(value.clone()), origin: origin.clone() });
    }
    let (text, container_default) = match row.default {
        Fallback::Unset => (None, false),
        Fallback::Fixed(text) => (Some(text), false),
        Fallback::Container { container: text, .. } if container => (Some(text), true),
        Fallback::Container { local, .. } => (Some(local), false),
    };
    let value = text.map(|t| row.kind.parse(t).map_err(|m| SettingError::new(format!("the default of {}", row.name()), m))).transpose()?;
    Ok(Entry { row, value, origin: Origin::Default { container: container_default } })
}

/// `--flag value` words, as `warp start` would read them, grouped by setting.
fn flag_words(words: &[String]) -> Result<Flags, String> {
    let mut flags = Flags::new();
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        let Some(name) = word.strip_prefix("--") else {
            return Err(format!("{word:?} is not a --flag: give warp start flags, such as --threads 8"));
        };
        let (name, inline) = match name.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (name, None),
        };
        let row = TABLE
            .iter()
            .find(|row| matches!(row.arg, Arg::Long(flag) if flag == name) && row.in_scope(Scope::Start))
            .ok_or_else(|| format!("--{name} is not a warp start setting: see `warp start --help`"))?;
        let mut take = || inline.clone().or_else(|| rest.next().cloned()).ok_or_else(|| format!("--{name} needs a value"));
        let values = flags.entry(row.id).or_default();
        match row.kind {
            Kind::Bool if inline.is_none() => values.push("true".to_owned()),
            Kind::UrlAliases => {
                values.push(take()?);
                values.push(rest.next().cloned().ok_or_else(|| format!("--{name} needs URL and PATH"))?);
            }
            _ => values.push(take()?),
        }
    }
    Ok(flags)
}

impl Settings {
    pub fn entry(&self, id: Id) -> Option<&Entry> {
        self.entries[id as usize].as_ref()
    }

    /// The resolved entries, in the table's order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().flatten()
    }

    pub fn get(&self, id: Id) -> Option<&Value> {
        self.entry(id).and_then(|e| e.value.as_ref())
    }

    /// Whether someone gave the setting, rather than its default applying.
    pub fn is_given(&self, id: Id) -> bool {
        self.entry(id).is_some_and(|e| !e.origin.is_default())
    }

    /// How messages quote where a setting was given: its variable when inherited, else the
    /// variable or key and the file that set it.
    pub fn label(&self, id: Id) -> String {
        let row = table::row(id);
        match self.entry(id).map(|e| &e.origin) {
            Some(Origin::Variable { name, source: VarSource::Inherited }) => (*name).to_owned(),
            Some(origin @ Origin::Variable { .. }) => origin.to_string(),
            Some(origin) => format!("{} ({origin})", row.key.or(row.var).unwrap_or_default()),
            None => row.name(),
        }
    }

    /// Whether the container defaults apply (`APP_ROOT` set).
    pub fn in_container(&self) -> bool {
        self.container
    }

    pub fn seconds(&self, id: Id) -> Duration {
        match self.get(id) {
            Some(Value::Seconds(d)) => *d,
            None => Duration::ZERO,
            other => mismatch(id, other),
        }
    }

    pub fn count(&self, id: Id) -> u64 {
        match self.get(id) {
            Some(Value::Count(n) | Value::Bytes(n)) => *n,
            None => 0,
            other => mismatch(id, other),
        }
    }

    pub fn flag(&self, id: Id) -> bool {
        match self.get(id) {
            Some(Value::Bool(b)) => *b,
            None => false,
            other => mismatch(id, other),
        }
    }

    /// A text, path or choice setting as text.
    pub fn text(&self, id: Id) -> Option<&str> {
        match self.get(id) {
            Some(Value::Text(s)) => Some(s),
            Some(Value::Choice(name)) => Some(name),
            Some(Value::Path(p)) => p.to_str(),
            None => None,
            other => mismatch(id, other),
        }
    }

    pub fn path(&self, id: Id) -> Option<&Path> {
        match self.get(id) {
            Some(Value::Path(p)) => Some(p),
            None => None,
            other => mismatch(id, other),
        }
    }

    pub fn list(&self, id: Id) -> &[String] {
        match self.get(id) {
            Some(Value::List(items) | Value::Words(items)) => items,
            None => &[],
            other => mismatch(id, other),
        }
    }

    pub fn cidrs(&self, id: Id) -> &[Cidr] {
        match self.get(id) {
            Some(Value::Cidrs(blocks)) => blocks,
            None => &[],
            other => mismatch(id, other),
        }
    }

    pub fn pairs(&self, id: Id) -> &[(String, String)] {
        match self.get(id) {
            Some(Value::Pairs(pairs)) => pairs,
            None => &[],
            other => mismatch(id, other),
        }
    }

    /// A mapping's entries (empty when unset).
    pub fn map(&self, id: Id) -> BTreeMap<String, String> {
        match self.get(id) {
            Some(Value::Map(map)) => map.clone(),
            None => BTreeMap::new(),
            other => mismatch(id, other),
        }
    }

    pub fn processes(&self, id: Id) -> Processes {
        match self.get(id) {
            Some(Value::Processes(p)) => *p,
            other => mismatch(id, other),
        }
    }

    pub fn port(&self, id: Id) -> u16 {
        match self.get(id) {
            Some(Value::Port(p)) => *p,
            other => mismatch(id, other),
        }
    }

    pub fn ip(&self, id: Id) -> IpAddr {
        match self.get(id) {
            Some(Value::Ip(ip)) => *ip,
            other => mismatch(id, other),
        }
    }
}

/// An accessor asked for a kind its row does not have: a mistake in warp, not in input.
fn mismatch(id: Id, value: Option<&Value>) -> ! {
    unreachable!("setting {id:?} read as the wrong kind: {value:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vars(Vec<(&'static str, &'static str, VarSource)>);

    impl Environment for Vars {
        fn lookup(&self, name: &str) -> Option<(String, VarSource)> {
            self.0.iter().find(|(n, _, _)| *n == name).map(|(_, v, s)| ((*v).to_owned(), s.clone()))
        }
    }

    fn config(entries: &[(Id, Value)]) -> ConfigFile {
        let origin = Origin::ConfigFile { path: ".warp/config.yaml".into(), line: 2 };
        ConfigFile { entries: entries.iter().map(|(id, v)| (*id, (v.clone(), origin.clone()))).collect() }
    }

    #[test]
    fn flag_beats_variable_beats_platform_variable_beats_file_beats_default() {
        let file = VarSource::File { path: ".s2i/environment".into(), line: 1 };
        let env =
            Vars(vec![("WARP_THREADS", "7", VarSource::Inherited), ("PORT", "8085", file.clone()), ("WARP_QUEUE_TIMEOUT", "3", file)]);
        let config = config(&[
            (Id::Threads, Value::Count(9)),
            (Id::Port, Value::Port(9000)),
            (Id::Processes, Value::Processes(Processes::Count(3))),
        ]);
        let flags = Flags::from([(Id::Threads, vec!["8".to_owned()])]);
        let s = resolve(&Sources { flags: &flags, env: &env, config: &config }, &[Scope::Start]).unwrap();
        assert_eq!(s.count(Id::Threads), 8);
        assert_eq!(s.entry(Id::Threads).unwrap().origin, Origin::Flag("--threads".into()));
        assert_eq!(s.port(Id::Port), 8085);
        assert_eq!(s.entry(Id::Port).unwrap().origin.to_string(), "PORT in .s2i/environment:1");
        assert_eq!(s.seconds(Id::QueueTimeout), Duration::from_secs(3));
        assert_eq!(s.processes(Id::Processes), Processes::Count(3));
        assert_eq!(s.entry(Id::Processes).unwrap().origin.to_string(), ".warp/config.yaml:2");
        assert_eq!(s.seconds(Id::StartupTimeout), Duration::from_secs(15));
        assert!(s.entry(Id::Python).is_none(), "build settings are not resolved for start");
    }

    #[test]
    fn containers_get_their_defaults() {
        let env = Vars(vec![("APP_ROOT", "/opt/app-root", VarSource::Inherited)]);
        let s = resolve(&Sources { flags: &Flags::new(), env: &env, config: &ConfigFile::default() }, &[Scope::Start]).unwrap();
        assert_eq!(s.port(Id::Port), 8080);
        assert_eq!(s.text(Id::AccessLog), Some("on"));
        assert_eq!(s.entry(Id::Port).unwrap().origin, Origin::Default { container: true });
    }

    #[test]
    fn a_bad_variable_names_itself_and_its_file() {
        let env = Vars(vec![("WARP_THREADS", "many", VarSource::File { path: ".warp/environment".into(), line: 4 })]);
        let err = resolve(&Sources { flags: &Flags::new(), env: &env, config: &ConfigFile::default() }, &[Scope::Start]).unwrap_err();
        assert_eq!(err.to_string(), "WARP_THREADS in .warp/environment:4: \"many\" is not a whole number from 1 to 65535");
    }

    #[test]
    fn server_args_are_flags_for_the_embedded_server_only() {
        let args = Value::Words(vec![
            "--threads".into(),
            "12".into(),
            "--url-alias".into(),
            "/s".into(),
            "static".into(),
            "--reload-on-changes".into(),
        ]);
        let config = config(&[(Id::ServerArgs, args), (Id::Threads, Value::Count(2))]);
        let none = Vars(vec![]);
        let s = resolve(&Sources { flags: &Flags::new(), env: &none, config: &config }, &[Scope::Start]).unwrap();
        assert_eq!(s.count(Id::Threads), 12);
        assert_eq!(s.pairs(Id::UrlAlias), [("/s".to_owned(), "static".to_owned())]);
        assert!(s.flag(Id::ReloadOnChanges));
        let gunicorn = Vars(vec![("WARP_SERVER_TYPE", "gunicorn", VarSource::Inherited)]);
        let s = resolve(&Sources { flags: &Flags::new(), env: &gunicorn, config: &config }, &[Scope::Start]).unwrap();
        assert_eq!(s.count(Id::Threads), 2, "another server gets the args on its own command line");
        assert_eq!(flag_words(&["--bogus".to_owned()]).unwrap_err(), "--bogus is not a warp start setting: see `warp start --help`");
    }

    #[test]
    fn warp_s_own_settings_come_from_its_own_environment_only() {
        let env = Vars(vec![("WARP_HOME", "/elsewhere", VarSource::File { path: ".warp/environment".into(), line: 1 })]);
        let s = resolve(&Sources { flags: &Flags::new(), env: &env, config: &ConfigFile::default() }, &[Scope::Tool]).unwrap();
        assert_eq!(s.path(Id::Home), None);
    }
}
