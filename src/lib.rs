//! manyi (scratch lib.rs of the model branch; the lead writes the real one).
pub mod features;
pub mod model;
pub mod segment;
