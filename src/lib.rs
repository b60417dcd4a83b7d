pub use spektate_core::*;
