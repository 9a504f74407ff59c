//! The WSGI side of the server: everything that touches Python objects.

pub mod call;
pub mod environ;
pub mod events;
pub mod objects;
pub mod proxy;
