//! Text before features: Traditional → Simplified ([`simplify`]), then jieba word segmentation
//! ([`segment`]).

pub mod segment;
pub mod simplify;
