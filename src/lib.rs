pub use spektate_core::*;
#[cfg(feature = "azdo")]
pub use spektate_azdo as azdo;
#[cfg(feature = "github")]
pub use spektate_github as github;
