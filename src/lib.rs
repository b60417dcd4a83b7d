pub use spektate_core::*;
#[cfg(feature = "github")]
pub use spektate_github as github;
