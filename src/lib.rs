//! warp: take a Python web application from source to a running service.
//!
//! The library holds every concern; the `warp` binary is only the command line over it.
//!
//! - [`settings`]: every setting (flag, `WARP_*` variable, `.warp/config.yaml` key,
//!   default) in one table, and where each resolved value came from.
//! - [`build`]: `warp build`: the interpreter, the venv, uv or pip, the dependency files and
//!   their digest, Django's collectstatic; named project venvs; group-0 permissions.
//! - [`appenv`]: the app's environment: its environment files, action hooks and locale.
//! - [`start`]: `warp start`: which app, the plan the settings make, the banner, the server
//!   module and the master that supervises workers, other servers, programs, probes.
//! - [`image`]: images as values (reproducible layers, config, manifest), the targets
//!   that write them (OCI layout, docker-archive, the engine) and the engine's client.
//! - [`deploy`]: `warp manifest`: the Kubernetes and OpenShift objects that run an app's
//!   image, following its settings as the image's `warp start` will resolve them.
//! - [`layout`]: where the source, venv, settings and caches are; [`env_vars`]: the
//!   platform's variables; [`report`]: progress as events; [`process`]: child processes
//!   with quoted failures; [`pathsearch`]: finding executables.

pub mod appenv;
pub mod build;
pub mod deploy;
pub mod env_vars;
pub mod image;
pub mod layout;
pub mod pathsearch;
pub mod process;
pub mod report;
pub mod s2i;
pub mod settings;
pub mod start;
