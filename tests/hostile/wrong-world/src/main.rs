//! A WASI command, not a role: it exports `wasi:cli/run` and no
//! `agent.run`, so there is nothing for the host to call with a task.
fn main() {
    println!("I am a command, not a role");
}
