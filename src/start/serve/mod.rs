//! `warp start` with the embedded server: installing the server module into the venv, and
//! the master process that binds the socket and supervises the workers.

pub mod external;
pub mod foreground;
pub mod gunicorn_config;
pub mod install;
mod monitor;
pub mod pid1;
pub mod privileges;
pub mod setup;
pub mod supervisor;
mod watch;
