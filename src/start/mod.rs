//! Starting the app: which app to serve ([`detect`]), what the settings make of it
//! ([`plan`], [`static_dirs`]), what is said about it ([`report`]), the server module and the
//! master that supervises its workers, or another server ([`serve`]), and asking a running
//! server whether it answers ([`probe`]).

pub mod detect;
pub mod plan;
pub mod probe;
pub mod report;
pub mod serve;
pub mod static_dirs;
