//! `.warp/config.yaml`, and the files a warpdrive project configured its server with.
//!
//! The file has four sections: `server` (a key per `warp start` setting), `static` (URL:
//! folder), `build` and `image`. Every value is checked here, against its row of the table,
//! so a mistake is reported with the file, the line and the key, and a misspelt key gets a
//! suggestion. What a value means is left to the resolution.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use super::table::{Id, TABLE};
use super::value::{Kind, Value};
use super::{Origin, SettingError};

/// The settings an app's files give, each with where it was written.
#[derive(Debug, Default)]
pub struct ConfigFile {
    pub entries: BTreeMap<Id, (Value, Origin)>,
}

/// The name of the file in the app's `.warp/` folder.
pub const FILE_NAME: &str = "config.yaml";
/// The sections of the file, each holding keys `section.name` of the table.
const SECTIONS: [&str; 4] = ["server", "static", "build", "image"];

impl ConfigFile {
    /// Read `SRC/.warp/config.yaml` when there is one, and a warpdrive project's
    /// `server_type` and `server_args` from `legacy_dir` when it has them.
    pub fn load(src: &Path, legacy_dir: Option<&Path>) -> Result<ConfigFile, SettingError> {
        let mut config = ConfigFile::default();
        let dir = src.join(".warp");
        let path = dir.join(FILE_NAME);
        let misnamed = dir.join("config.yml");
        if !path.exists() && misnamed.exists() {
            return Err(SettingError::new(shown(src, &misnamed), format!("warp reads {FILE_NAME}, not config.yml: rename it")));
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => config.parse(&text, &shown(src, &path))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SettingError::new(shown(src, &path), format!("cannot read it ({e})"))),
        }
        if let Some(dir) = legacy_dir {
            config.warpdrive(src, dir)?;
        }
        Ok(config)
    }

    fn parse(&mut self, text: &str, shown: &str) -> Result<(), SettingError> {
        let docs = MarkedYaml::load_from_str(text).map_err(|e| {
            SettingError::new(format!("{shown}:{}", e.marker().line()), format!("not valid YAML ({}): fix the line", e.info()))
        })?;
        let at = |node: &MarkedYaml, key: &str, message: String| {
            SettingError::new(format!("{shown}:{}: {key}", node.span.start.line()), message)
        };
        let origin = |node: &MarkedYaml| Origin::ConfigFile { path: PathBuf::from(shown), line: node.span.start.line() };
        let Some(root) = docs.first() else { return Ok(()) };
        if docs.len() > 1 {
            return Err(SettingError::new(shown.to_owned(), "holds more than one YAML document: keep one".to_owned()));
        }
        let sections = match &root.data {
            YamlData::Value(Scalar::Null) => return Ok(()),
            YamlData::Mapping(map) => map,
            _ => return Err(at(root, "(top level)", format!("expected a mapping of the sections {}", SECTIONS.join(", ")))),
        };
        for (name_node, body) in sections {
            let section = key_text(name_node).ok_or_else(|| at(name_node, "(top level)", "a section name must be text".to_owned()))?;
            if !SECTIONS.contains(&section.as_str()) {
                let message = match all_keys().into_iter().find(|key| key.rsplit('.').next() == Some(section.as_str())) {
                    Some(key) => format!("settings go in their section: write it as `{key}`"),
                    None => unknown(&section, SECTIONS.iter().map(|s| (*s).to_owned()).collect()),
                };
                return Err(at(name_node, &section, message));
            }
            if section == "static" {
                // The whole section is one setting: URL: folder pairs.
                self.insert(Id::UrlAlias, Kind::UrlAliases, body, origin(name_node), |m| at(body, "static", m))?;
                continue;
            }
            let keys = match &body.data {
                YamlData::Value(Scalar::Null) => continue,
                YamlData::Mapping(map) => map,
                _ => return Err(at(body, &section, "expected a mapping of settings, such as `threads: 8`".to_owned())),
            };
            for (key_node, value) in keys {
                let name = key_text(key_node).ok_or_else(|| at(key_node, &section, "a setting's name must be text".to_owned()))?;
                let key = format!("{section}.{name}");
                let Some(row) = TABLE.iter().find(|row| row.key == Some(key.as_str())) else {
                    return Err(at(key_node, &key, unknown(&key, all_keys())));
                };
                self.insert(row.id, row.kind, value, origin(key_node), |m| at(value, &key, m))?;
            }
        }
        Ok(())
    }

    fn insert(
        &mut self,
        id: Id,
        kind: Kind,
        node: &MarkedYaml,
        origin: Origin,
        fail: impl Fn(String) -> SettingError,
    ) -> Result<(), SettingError> {
        let value = node_value(kind, node).map_err(&fail)?;
        self.entries.insert(id, (value, origin));
        Ok(())
    }

    /// warpdrive's `.warpdrive/server_type` (auto, shell, python, paste, django, or a server's
    /// name) and `.warpdrive/server_args` (more arguments for the server).
    fn warpdrive(&mut self, src: &Path, dir: &Path) -> Result<(), SettingError> {
        let type_file = dir.join("server_type");
        if let Some(text) = read_optional(src, &type_file)? {
            let origin = Origin::LegacyFile(PathBuf::from(shown(src, &type_file)));
            let kind = text.trim();
            let setting = match kind {
                "" | "auto" | "django" | "python" => None,
                "shell" => Some((Id::AppScript, Value::Path(PathBuf::from("app.sh")))),
                "paste" => Some((Id::AppConfig, Value::Path(PathBuf::from("paste.ini")))),
                server => {
                    let row = super::table::row(Id::ServerType);
                    let value = row
                        .kind
                        .parse(server)
                        .map_err(|m| SettingError::new(shown(src, &type_file), format!("{m}, auto, shell, python, paste or django")))?;
                    Some((Id::ServerType, value))
                }
            };
            if let Some((id, value)) = setting {
                self.entries.entry(id).or_insert((value, origin));
            }
        }
        // warpdrive kept one file per server type in a folder; `python` is the one it read.
        let args_dir = dir.join("server_args");
        let args_file = if args_dir.is_dir() { args_dir.join("python") } else { args_dir };
        if let Some(text) = read_optional(src, &args_file)? {
            let value = Kind::Words.parse(text.trim()).map_err(|m| SettingError::new(shown(src, &args_file), m))?;
            self.entries.entry(Id::ServerArgs).or_insert((value, Origin::LegacyFile(PathBuf::from(shown(src, &args_file)))));
        }
        Ok(())
    }
}

fn read_optional(src: &Path, path: &Path) -> Result<Option<String>, SettingError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SettingError::new(shown(src, path), format!("cannot read it ({e})"))),
    }
}

/// `path` as the user knows it: relative to the app's folder.
fn shown(src: &Path, path: &Path) -> String {
    path.strip_prefix(src).unwrap_or(path).display().to_string()
}

fn key_text(node: &MarkedYaml) -> Option<String> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
        YamlData::Representation(s, _, _) => Some(s.to_string()),
        _ => None,
    }
}

/// A scalar as the text a variable would hold.
fn scalar_text(node: &MarkedYaml) -> Result<String, String> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Ok(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Ok(i.to_string()),
        YamlData::Value(Scalar::FloatingPoint(f)) => Ok(f.to_string()),
        YamlData::Value(Scalar::Boolean(b)) => Ok(b.to_string()),
        YamlData::Representation(s, _, _) => Ok(s.to_string()),
        YamlData::Value(Scalar::Null) => Err("has no value: give one, or remove the line".to_owned()),
        YamlData::Sequence(_) => Err("expected a single value, found a list".to_owned()),
        YamlData::Mapping(_) => Err("expected a single value, found a mapping".to_owned()),
        YamlData::Tagged(..) | YamlData::Alias(_) | YamlData::BadValue => Err("expected a plain value (no tags or aliases)".to_owned()),
    }
}

fn node_value(kind: Kind, node: &MarkedYaml) -> Result<Value, String> {
    match (&node.data, kind) {
        (YamlData::Mapping(map), Kind::UrlAliases) => {
            let mut items = Vec::new();
            for (url, path) in map {
                items.push(scalar_text(url)?);
                items.push(scalar_text(path)?);
            }
            kind.parse_items(&items)
        }
        (YamlData::Mapping(map), Kind::Map) => {
            map.iter().map(|(k, v)| Ok((scalar_text(k)?, scalar_text(v)?))).collect::<Result<BTreeMap<_, _>, String>>().map(Value::Map)
        }
        (_, Kind::UrlAliases) => Err("expected a mapping, such as `/static: static`".to_owned()),
        (_, Kind::Map) => Err("expected a mapping, such as `team: web`".to_owned()),
        (YamlData::Sequence(items), kind) if kind.is_repeatable() => {
            kind.parse_items(&items.iter().map(scalar_text).collect::<Result<Vec<_>, _>>()?)
        }
        (_, kind) => kind.parse(&scalar_text(node)?),
    }
}

/// Every key the file may hold.
fn all_keys() -> Vec<String> {
    TABLE.iter().filter_map(|row| row.key).filter(|key| key.contains('.')).map(str::to_owned).collect()
}

/// "is not a setting", with the closest known name when one is close.
fn unknown(name: &str, known: Vec<String>) -> String {
    let last = |s: &str| s.rsplit('.').next().unwrap_or(s).to_owned();
    let best = known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k).max(strsim::jaro_winkler(&last(name), &last(k))), k))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, k)) => format!("is not a setting warp knows: did you mean `{k}`?"),
        None => format!(
            "is not a setting warp knows: see `warp config` for every key ({})",
            if name.contains('.') { "section.name" } else { "sections server, static, build, image" }
        ),
    }
}
