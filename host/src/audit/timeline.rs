//! A readable timeline of audit records (being written).
