#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub use spektate_core::*;

pub mod config;
#[cfg(feature = "argocd")]
pub use spektate_argocd as argocd;
#[cfg(feature = "azdo")]
pub use spektate_azdo as azdo;
#[cfg(feature = "dashboard")]
pub use spektate_dashboard as dashboard;
#[cfg(feature = "github")]
pub use spektate_github as github;
#[cfg(feature = "gitlab")]
pub use spektate_gitlab as gitlab;
#[cfg(feature = "postgres")]
pub use spektate_postgres as postgres;
