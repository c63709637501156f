//! WASI operations the sandbox refuses, on record.
//!
//! The sandbox grants no directory and no socket ([`super::sandbox`]), so
//! wasmtime-wasi would refuse those operations itself, and silently: an
//! operator reading the audit log could not see that a role tried to open
//! `/etc/passwd` or dial out. This module shadows the calls where each
//! attempt starts — the list of preopened directories (which a guest's libc
//! asks for before its first file open), the creation of a TCP or UDP socket
//! and a name lookup — and passes each through [`mediate`] as a denial that
//! names the role, what it tried and the capability that does it the
//! governed way. The guest gets what it would have got anyway: no
//! directories, `access-denied`.
//!
//! A role looping on a refused call cannot fill the disk: the mediation
//! point records only the first denials of each call in a run and counts
//! the rest, and the run's record carries the count ([`super::run_record`]).

use super::RoleState;
use crate::audit::Args;
use crate::capabilities::bindings::agentward::host::types::Error;
use crate::capabilities::mediation::{mediate, HostCall, RoleBinding};
use crate::capabilities::{CallContext, Capability};
use wasmtime::component::{Linker, LinkerInstance, Val};

/// The interfaces as wasmtime-wasi defines them; guests importing an
/// earlier 0.2 release resolve to them too.
const PREOPENS: &str = "wasi:filesystem/preopens@0.2.12";
const TCP_CREATE: &str = "wasi:sockets/tcp-create-socket@0.2.12";
const UDP_CREATE: &str = "wasi:sockets/udp-create-socket@0.2.12";
const NAME_LOOKUP: &str = "wasi:sockets/ip-name-lookup@0.2.12";

/// Longest name-lookup argument kept in a record: a DNS name is at most
/// 253 bytes, and a longer one is an exfiltration attempt, not a name.
const MAX_NAME_RECORDED: usize = 256;

/// What a role tried that its sandbox does not allow.
struct Refusal {
    call: &'static str,
    /// What the role asked for, in the words of a denial.
    request: String,
    args: Args,
    /// The capabilities that do it the governed way.
    instead: &'static [Capability],
}

impl HostCall for Refusal {
    type Output = ();

    fn call(&self) -> &'static str {
        self.call
    }

    fn audit_args(&mut self, _ctx: &CallContext) -> Args {
        std::mem::take(&mut self.args)
    }

    fn check(&self, binding: &RoleBinding) -> Result<(), Error> {
        let grants: Vec<String> = self
            .instead
            .iter()
            .map(|c| format!("`{}`", c.example_grant()))
            .collect();
        Err(Error::Denied(format!(
            "role {} may not {}: a role's sandbox has no {}; to do it through the host, add {} under [roles.{}.grants] (line {} of {})",
            binding.role,
            self.request,
            if self.instead == FILES { "directories" } else { "sockets" },
            grants.join(" or "),
            binding.role,
            binding.grants_line,
            binding.policy_path.display(),
        )))
    }

    fn perform(self, _: &mut CallContext, _: &mut Args) -> Result<(), Error> {
        unreachable!("check refuses every WASI operation this module shadows")
    }
}

const FILES: &[Capability] = &[Capability::Docs, Capability::Workspace];
const NETWORK: &[Capability] = &[Capability::Http];

/// Replaces the shadowed functions in `linker` (after WASI is linked).
pub(super) fn add_to_linker(linker: &mut Linker<RoleState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker
        .instance(PREOPENS)?
        .func_new("get-directories", |mut store, _, _, results| {
            refuse(
                store.data_mut(),
                Refusal {
                    call: "wasi.filesystem.open",
                    request: "open a file".into(),
                    args: Args::new(),
                    instead: FILES,
                },
            );
            results[0] = Val::List(Vec::new());
            Ok(())
        })?;
    for (interface, function, call, kind) in [
        (TCP_CREATE, "create-tcp-socket", "wasi.sockets.tcp", "TCP"),
        (UDP_CREATE, "create-udp-socket", "wasi.sockets.udp", "UDP"),
    ] {
        socket_refusal(&mut linker.instance(interface)?, function, call, kind)?;
    }
    linker.instance(NAME_LOOKUP)?.func_new(
        "resolve-addresses",
        |mut store, _, params, results| {
            let name = match params.get(1) {
                Some(Val::String(name)) => name.chars().take(MAX_NAME_RECORDED).collect(),
                _ => String::new(),
            };
            let request = format!("look up the address of {name:?}");
            let mut args = Args::new();
            args.insert("name", name.into());
            refuse(
                store.data_mut(),
                Refusal {
                    call: "wasi.sockets.lookup",
                    request,
                    args,
                    instead: NETWORK,
                },
            );
            results[0] = access_denied();
            Ok(())
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

fn socket_refusal(
    instance: &mut LinkerInstance<'_, RoleState>,
    function: &str,
    call: &'static str,
    kind: &'static str,
) -> wasmtime::Result<()> {
    instance.func_new(function, move |mut store, _, params, results| {
        let family = match params.first() {
            Some(Val::Enum(family)) => family.clone(),
            _ => String::new(),
        };
        let mut args = Args::new();
        args.insert("family", family.into());
        refuse(
            store.data_mut(),
            Refusal {
                call,
                request: format!("open a {kind} socket"),
                args,
                instead: NETWORK,
            },
        );
        results[0] = access_denied();
        Ok(())
    })
}

/// Records the refusal through the mediation point. Its error is what the
/// role is refused with anyway; an audit failure is remembered there and
/// fails the run.
fn refuse(state: &mut RoleState, refusal: Refusal) {
    let _denied = mediate(&mut state.calls, refusal);
}

/// `result<_, error-code>` holding `access-denied`.
fn access_denied() -> Val {
    Val::Result(Err(Some(Box::new(Val::Enum("access-denied".into())))))
}
