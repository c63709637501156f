//! agentward: runs AI-agent roles as sandboxed WebAssembly components, each
//! with only the capabilities its policy grants, every host call mediated
//! and recorded.
//!
//! - [`policy`]: the policy file (roles, grants, limits).
//! - [`capabilities`]: one module per WIT interface and the mediation point.
//! - [`runtime`]: engine, component cache, per-role linker, limits, sandbox.
//! - [`audit`]: call events, sinks and redaction.
//! - [`store`]: the secret store trait and its backends.
//! - [`cluster`]: leases, claims and replicated journals for hosts sharing one OpenBao.
//! - [`net`]: TLS verification and egress checks for connections the host opens.

pub mod audit;
pub mod capabilities;
pub mod cluster;
pub mod durable;
pub mod external;
pub mod net;
pub mod orchestrator;
pub mod policy;
pub mod runtime;
pub mod store;
pub mod time;
