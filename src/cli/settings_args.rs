//! The settings table as clap arguments: each row with a flag becomes one, with its help,
//! its variable, its config.yaml key and its default in the help text.
//!
//! Only what was typed is recorded here (each value checked by the row's parser); the
//! variables, `.warp/config.yaml` and the defaults are the library's resolution, because
//! the app's environment files are read only once the app's folder is known.

use std::marker::PhantomData;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command, FromArgMatches};
use warp::settings::{value::Choice, Arg, Fallback, Flags, Kind, Scope, Setting, TABLE};

/// Which rows a command takes as flags.
pub trait Rows {
    const SCOPE: Scope;
}

pub struct StartRows;
impl Rows for StartRows {
    const SCOPE: Scope = Scope::Start;
}

pub struct ProbeRows;
impl Rows for ProbeRows {
    const SCOPE: Scope = Scope::Probe;
}

pub struct ImageRows;
impl Rows for ImageRows {
    const SCOPE: Scope = Scope::Image;
}

/// The settings typed on the command line.
pub struct SettingArgs<R> {
    pub flags: Flags,
    rows: PhantomData<R>,
}

fn rows<R: Rows>() -> impl Iterator<Item = &'static Setting> {
    TABLE.iter().filter(|row| row.in_scope(R::SCOPE) && row.arg != Arg::None)
}

fn id(row: &Setting) -> &'static str {
    match row.arg {
        Arg::Long(flag) => flag,
        Arg::Positional(name) => name,
        Arg::None => unreachable!("rows without an argument are filtered out"),
    }
}

/// `--help` text: the row's help, then its default and where else it can be set.
fn help(row: &Setting) -> String {
    let mut text = row.help.to_owned();
    match row.default {
        Fallback::Fixed(value) => text.push_str(&format!(" [default: {value}]")),
        Fallback::Container { local, container } => text.push_str(&format!(" [default: {local}; {container} in a container]")),
        Fallback::Unset => {}
    }
    if let Kind::Choice(choices) = row.kind {
        text.push_str(&format!(" [possible values: {}]", choices.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")));
    }
    let mut also: Vec<String> = row.var.iter().chain(row.aliases).map(|v| format!("env: {v}")).collect();
    also.extend(row.key.map(|key| format!("config: {key}")));
    if !also.is_empty() {
        text.push_str(&format!(" [{}]", also.join(", ")));
    }
    text
}

fn has_on(choices: &[Choice]) -> bool {
    choices.iter().any(|c| c.name == "on")
}

fn clap_arg(row: &'static Setting) -> clap::Arg {
    let arg = match row.arg {
        Arg::Long(flag) => clap::Arg::new(flag).long(flag).help_heading(row.heading).value_name(row.kind.placeholder()),
        Arg::Positional(name) => clap::Arg::new(name).value_name(name),
        Arg::None => unreachable!("rows without an argument are filtered out"),
    }
    .help(help(row));
    let kind = row.kind;
    let check = move |text: &str| -> Result<String, String> { kind.parse(text).map(|_| text.to_owned()) };
    match kind {
        Kind::Bool => arg.action(ArgAction::SetTrue),
        Kind::UrlAliases => arg.num_args(2).value_names(["URL", "PATH"]).action(ArgAction::Append),
        Kind::List(_) => arg.action(ArgAction::Append).value_delimiter(',').value_parser(check),
        // A switch whose values include `on` may be given bare.
        Kind::Choice(choices) if has_on(choices) => arg.num_args(0..=1).default_missing_value("on").value_parser(check),
        _ => arg.value_parser(check),
    }
}

impl<R: Rows> clap::Args for SettingArgs<R> {
    fn augment_args(cmd: Command) -> Command {
        rows::<R>().fold(cmd, |cmd, row| cmd.arg(clap_arg(row)))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl<R: Rows> FromArgMatches for SettingArgs<R> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Flags::new();
        for row in rows::<R>() {
            let name = id(row);
            if matches.value_source(name) != Some(ValueSource::CommandLine) {
                continue;
            }
            let values: Vec<String> = match row.kind {
                Kind::Bool => vec![matches.get_flag(name).to_string()],
                _ => matches.get_many::<String>(name).map(|v| v.cloned().collect()).unwrap_or_default(),
            };
            flags.insert(row.id, values);
        }
        Ok(SettingArgs { flags, rows: PhantomData })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}
