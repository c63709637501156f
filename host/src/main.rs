//! The `agentward` command line. Errors become exit codes here and nowhere
//! else: 0 success, 1 a role or check failed, 2 bad input (policy, flags).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
