//! What the image's `warp start` will make of the app: its settings resolved in the
//! container's environment, not in the environment of whoever runs `warp manifest`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Error;
use crate::appenv::{hooks, VarSource};
use crate::layout::Layout;
use crate::pathsearch::is_executable;
use crate::settings::{Environment, Id, Processes, Settings};
use crate::start::plan;

/// The variables `warp start` sees in the container, strongest first: the Deployment's
/// `env`, the image's own (`APP_ROOT`, which makes the container defaults apply), then the
/// app's environment files as the image holds them. The shell `warp manifest` runs in
/// plays no part: a `PORT` set on a laptop does not move the container's port.
pub struct ContainerEnv {
    vars: BTreeMap<String, (String, VarSource)>,
}

impl ContainerEnv {
    /// `files`: what the app's environment files assign, lowest precedence first (see
    /// [`crate::appenv::file_vars`]); `env`: the variables the Deployment sets.
    pub fn new(files: Vec<(String, String, VarSource)>, env: &[(String, String)]) -> ContainerEnv {
        let mut vars: BTreeMap<String, (String, VarSource)> =
            files.into_iter().map(|(key, value, source)| (key, (value, source))).collect();
        vars.insert(crate::env_vars::APP_ROOT.to_owned(), (crate::image::APP_ROOT.to_owned(), VarSource::Inherited));
        // In the container the Deployment's variables are inherited, and inherited wins.
        vars.extend(env.iter().map(|(key, value)| (key.clone(), (value.clone(), VarSource::Inherited))));
        ContainerEnv { vars }
    }
}

impl Environment for ContainerEnv {
    /// As the app's own environment reads: an empty value is unset.
    fn lookup(&self, name: &str) -> Option<(String, VarSource)> {
        self.vars.get(name).filter(|(value, _)| !value.is_empty()).cloned()
    }
}

/// The settings the objects follow.
#[derive(Clone, Debug, PartialEq)]
pub struct App {
    /// The port the server listens on in the container.
    pub port: u16,
    /// The path the server answers itself, if the app has one.
    pub health_path: Option<String>,
    /// How long requests in flight get on SIGTERM.
    pub shutdown_timeout: Duration,
    /// How long a worker may take to load the app.
    pub startup_timeout: Duration,
    pub processes: Processes,
    pub threads: u64,
    /// The resident size at which a worker is replaced (`--memory-limit`), in bytes.
    pub worker_memory_limit: Option<u64>,
    /// Whether the app has an executable `alive` hook, which only `warp alive` runs.
    pub alive_hook: bool,
    /// Whether the app has an executable `ready` hook, which only `warp ready` runs.
    pub ready_hook: bool,
}

impl App {
    /// The app as `settings` (resolved for `warp start` in a [`ContainerEnv`]) and its hooks
    /// in `layout` describe it. A server that a Service cannot reach is refused: one on a
    /// loopback or other fixed address, or on port 0.
    pub fn from_settings(settings: &Settings, layout: &Layout) -> Result<App, Error> {
        let host = settings.ip(Id::Host);
        if !host.is_unspecified() {
            return Err(Error::Unreachable { place: plan::place(settings, Id::Host), host });
        }
        let port = settings.port(Id::Port);
        if port == 0 {
            return Err(Error::AnyPort { place: plan::place(settings, Id::Port) });
        }
        Ok(App {
            port,
            health_path: settings.text(Id::HealthPath).map(str::to_owned),
            shutdown_timeout: settings.seconds(Id::ShutdownTimeout),
            startup_timeout: settings.seconds(Id::StartupTimeout),
            processes: settings.processes(Id::Processes),
            threads: settings.count(Id::Threads),
            worker_memory_limit: Some(settings.count(Id::MemoryLimit)).filter(|bytes| *bytes > 0),
            alive_hook: is_executable(&layout.hook(hooks::ALIVE)),
            ready_hook: is_executable(&layout.hook(hooks::READY)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{resolve, ConfigFile, Flags, Scope, Sources};

    fn resolved(env: &ContainerEnv) -> Settings {
        resolve(&Sources { flags: &Flags::new(), env, config: &ConfigFile::default() }, &[Scope::Start]).unwrap()
    }

    fn file(line: usize) -> VarSource {
        VarSource::File { path: ".s2i/environment".into(), line }
    }

    #[test]
    fn the_container_defaults_apply_and_the_deployment_s_variables_win_over_the_files() {
        let files = vec![("PORT".into(), "8085".into(), file(1)), ("WARP_THREADS".into(), "8".into(), file(2))];
        let env = ContainerEnv::new(files.clone(), &[]);
        let settings = resolved(&env);
        assert_eq!((settings.port(Id::Port), settings.count(Id::Threads)), (8085, 8));
        assert!(settings.in_container());
        let env = ContainerEnv::new(files, &[("WARP_THREADS".into(), "2".into()), ("WARP_PORT".into(), "".into())]);
        let settings = resolved(&env);
        assert_eq!(settings.count(Id::Threads), 2);
        assert_eq!(settings.port(Id::Port), 8085, "an empty variable is unset");
        assert_eq!(resolved(&ContainerEnv::new(vec![], &[])).port(Id::Port), 8080);
    }

    #[test]
    fn servers_a_service_cannot_reach_are_refused_and_executable_hooks_are_seen() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().to_path_buf();
        let layout = Layout { venv: src.join(".venv"), config_dir: src.join(".warp"), cache: src.join("cache"), src };
        let hooks = layout.config_dir.join("action_hooks");
        std::fs::create_dir_all(&hooks).unwrap();
        std::fs::write(hooks.join("ready"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(hooks.join("ready"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(hooks.join("alive"), "#!/bin/sh\n").unwrap();

        let app = App::from_settings(&resolved(&ContainerEnv::new(vec![], &[])), &layout).unwrap();
        assert!(app.ready_hook && !app.alive_hook, "a hook that is not executable does not run");
        assert_eq!((app.port, app.threads, app.processes), (8080, 5, Processes::Count(1)));
        assert_eq!(app.shutdown_timeout, Duration::from_secs(5));

        let loopback = ContainerEnv::new(vec![("WARP_HOST".into(), "127.0.0.1".into(), file(3))], &[]);
        let err = App::from_settings(&resolved(&loopback), &layout).unwrap_err().to_string();
        assert!(err.starts_with("WARP_HOST in .s2i/environment:3: the server would listen on 127.0.0.1 only"), "{err}");
        let any_port = ContainerEnv::new(vec![], &[("PORT".into(), "0".into())]);
        let err = App::from_settings(&resolved(&any_port), &layout).unwrap_err().to_string();
        assert!(err.starts_with("PORT: 0 picks any free port"), "{err}");
    }
}
