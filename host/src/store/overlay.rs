//! Dry-run overlay (being written).
