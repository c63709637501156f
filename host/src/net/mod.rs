//! Connections the host itself opens: to the origins a role's `http` grant
//! names, and to an OpenBao/Vault server.
//!
//! A layer below `store` and `capabilities`, so both verify certificates
//! the same way ([`tls`]) and the `http` capability can check the address
//! it dials before it dials it ([`egress`]).

pub mod egress;
pub mod tls;
