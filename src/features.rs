//! TEMP placeholder
