//! OpenBao / Vault backend (being written).
