//! `agentward completions SHELL` and `agentward man --out DIR`: what a
//! shell and `man` need, generated from the same clap definitions the
//! parser uses, so they never drift from the real flags. `make install`
//! puts both in place.

use super::{Cli, Failure};
use anyhow::Context;
use clap::CommandFactory;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub(crate) struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

#[derive(clap::Args)]
pub(crate) struct ManArgs {
    /// Where to write agentward.1 and one page per subcommand
    /// (agentward-rotate.1, agentward-secrets-exec.1, …).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub(crate) fn completions(args: CompletionsArgs) -> Result<(), Failure> {
    let mut command = Cli::command();
    clap_complete::generate(
        args.shell,
        &mut command,
        "agentward",
        &mut std::io::stdout(),
    );
    Ok(())
}

pub(crate) fn man(args: ManArgs) -> Result<(), Failure> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut command = Cli::command();
    command.build();
    let written = write_pages(&command, "agentward", &args.out)?;
    println!("wrote {written} man pages to {}", args.out.display());
    Ok(())
}

/// Writes `name.1` for `command` and, recursively, `name-sub.1` for each
/// subcommand; returns how many.
fn write_pages(command: &clap::Command, name: &str, dir: &Path) -> Result<usize, Failure> {
    let file = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone().name(name.to_string()))
        .render(&mut page)
        .with_context(|| format!("rendering {}", file.display()))?;
    std::fs::write(&file, page).with_context(|| format!("writing {}", file.display()))?;
    let mut written = 1;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        written += write_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(written)
}
