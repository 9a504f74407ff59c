//! Integration tests: the real `warp` binary on real apps, venvs and PyPI packages.

mod rawhttp;
mod running;
mod util;

mod app_image;
mod base;
mod base_image;
mod build;
mod builder;
mod commands;
mod descriptors;
mod detection;
mod django;
mod engine;
mod factories;
mod hook_examples;
mod hooks_at_start;
mod image;
mod manifest;
mod other_servers;
mod pid1;
mod ports;
mod probes;
mod programs;
mod proxies;
mod registry;
mod request_bodies;
mod responses;
mod robustness;
mod s2i_build;
mod s2i_protocol;
mod s2i_variables;
mod serve;
mod settings;
mod setup_and_privileges;
mod static_files;
