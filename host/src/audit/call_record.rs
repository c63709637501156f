//! The record of one mediated call as the mediation point makes it.
//!
//! A role may make a hundred thousand calls in a run, and each must be on
//! record; what the call path pays for that is the cost of making this
//! value, so it holds nothing that needs formatting or copying there: the
//! run's change, role and component are one shared [`Caller`], the time is a
//! [`SystemTime`] (formatted when the line is written), the call's name and
//! its argument names are static, and an outcome of `ok` is borrowed. The
//! line it becomes ([`super::record::encode_call`]) is byte for byte the
//! [`CallEvent`] it stands for, so readers see one format.

use super::{CallEvent, Decision};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

/// Who makes a run's calls: fixed for the run, shared by its records.
#[derive(Debug, PartialEq, Eq)]
pub struct Caller {
    /// Empty outside a change.
    pub change_id: String,
    pub role: String,
    /// sha256 of the component bytes, hex.
    pub component: String,
}

/// A call's recorded arguments, named by the host: a handful per call, so
/// a list with static names rather than a map with an allocation per key,
/// kept in the order of their names, as a JSON object is written and read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Args(Vec<(&'static str, Value)>);

impl Args {
    pub fn new() -> Args {
        Args(Vec::with_capacity(4))
    }

    /// Sets `name` to `value`, replacing what it held.
    pub fn insert(&mut self, name: &'static str, value: Value) {
        match self.0.binary_search_by_key(&name, |(n, _)| n) {
            Ok(at) => self.0[at].1 = value,
            Err(at) => self.0.insert(at, (name, value)),
        }
    }

    /// By name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.0.iter().map(|(n, v)| (*n, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&'static str, &mut Value)> {
        self.0.iter_mut().map(|(n, v)| (*n, v))
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    pub fn to_map(&self) -> Map<String, Value> {
        self.iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect()
    }
}

/// The arguments of a call that records a fixed set, listed by name: one
/// allocation and nothing to sort on the call path.
impl<const N: usize> From<[(&'static str, Value); N]> for Args {
    fn from(args: [(&'static str, Value); N]) -> Args {
        debug_assert!(
            args.windows(2).all(|w| w[0].0 < w[1].0),
            "arguments listed by name, each once"
        );
        Args(Vec::from(args))
    }
}

/// One call, as it goes on record.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    pub at: SystemTime,
    pub caller: Arc<Caller>,
    /// `interface.function`, e.g. `secrets-read.read`.
    pub call: &'static str,
    pub args: Args,
    pub decision: Decision,
    /// `ok`, or the error the guest received.
    pub outcome: Cow<'static, str>,
    pub duration_us: u64,
}

impl CallRecord {
    /// The event this record writes, as a reader of the log gets it back.
    pub fn to_event(&self) -> CallEvent {
        CallEvent {
            ts: crate::time::rfc3339(self.at),
            change_id: self.caller.change_id.clone(),
            role: self.caller.role.clone(),
            component: self.caller.component.clone(),
            call: self.call.to_string(),
            args: self.args.to_map(),
            decision: self.decision,
            outcome: self.outcome.to_string(),
            duration_us: self.duration_us,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_argument_set_twice_keeps_its_last_value_once_and_all_stay_by_name() {
        let mut args = Args::from([("method", json!("GET")), ("url", json!("u"))]);
        args.insert("path", json!("a"));
        args.insert("bytes", json!(1));
        args.insert("path", json!("b"));
        let get = |name| args.iter().find(|(n, _)| *n == name).map(|(_, v)| v);
        assert_eq!(get("path"), Some(&json!("b")));
        assert_eq!(get("status"), None);
        let names: Vec<&str> = args.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["bytes", "method", "path", "url"]);
    }
}
