//! Starting the app: which app to serve ([`detect`]), what the settings make of it
//! ([`plan`], [`static_dirs`]), what is said about it ([`report`]), the server module and the
//! master that supervises its workers, or another server ([`serve`]), asking a running
//! server whether it answers ([`probe`]), and what its recorder wrote ([`recorder`]).

pub mod detect;
pub mod output_dirs;
pub mod plan;
pub mod probe;
pub mod recorder;
pub mod report;
pub mod serve;
pub mod static_dirs;
