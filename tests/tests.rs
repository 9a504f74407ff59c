//! Integration tests: the real `warp` binary on real apps, venvs and PyPI packages.

mod util;

mod build;
mod commands;
