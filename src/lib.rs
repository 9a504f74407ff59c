//! warp: take a Python web application from source to a running service.
//!
//! The library holds every concern; the `warp` binary is only the command line over it.
//!
//! - [`layout`]: where the source, venv, settings and caches are.
//! - [`python`]: which interpreter an app is built with.
//! - [`deps`], [`pipfile`]: what an app depends on, and the digest of it.
//! - [`installer`]: uv or pip, driven into a venv; [`venv`]: replacing a venv safely.
//! - [`hooks`], [`appenv`], [`locale`]: the app's action hooks and environment.
//! - [`build`]: the `warp build` pipeline; [`django`]: its Django step.
//! - [`project`]: named project venvs; [`fixup`]: group-0 permissions for containers.
//! - [`serve`]: the server module in the venv, and the master that supervises workers.
//! - [`image`]: images as values (reproducible layers, config, manifest) and the targets
//!   that write them (OCI layout, docker-archive).
//! - [`report`]: progress as events; [`process`]: child processes with quoted failures.

pub mod appenv;
pub mod build;
pub mod env_vars;
pub mod image;
pub mod layout;
pub mod pathsearch;
pub mod process;
pub mod report;
pub mod settings;
pub mod start;
