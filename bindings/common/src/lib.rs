//! What the Python and Node bindings share, so each is written once: the words of the
//! library's enums ([`words`]), the deployment filter built from a binding's arguments
//! ([`filter`]), the DORA metrics' window and breakdown ([`metrics`]), store arguments
//! ([`store`]), recording through a Spektate server ([`server`]) and the guard that keeps a
//! panic from crossing into the host language ([`guard`]).

pub mod filter;
pub mod guard;
pub mod metrics;
pub mod server;
pub mod store;
pub mod words;
