//! manyi
