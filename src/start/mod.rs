//! Starting the app: which app to serve ([`detect`]), the server module and the master that
//! supervises its workers, or another server ([`serve`]), and asking a running server
//! whether it answers ([`probe`]).

pub mod detect;
pub mod probe;
pub mod serve;
