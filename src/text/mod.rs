//! Text before features: normalisation ([`normalise`]: width, case, Traditional → Simplified
//! with [`simplify`]), jieba word segmentation ([`segment`]), and the clauses of the segmented
//! words ([`clause`]).

pub mod clause;
pub mod normalise;
pub mod segment;
pub mod simplify;
