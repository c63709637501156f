//! `agentward new role NAME --lang rust|python|javascript`: a role to start
//! from, anywhere, not a copy of one of ours.
//!
//! The directory it writes stands alone: its own copy of the
//! `agentward:host` WIT package, a `wit/role.wit` world that imports only
//! what the role calls (so the world doubles as the role's capability list),
//! a build script, and a sample `run` that logs a line and reports on its
//! input. The policy stanza that grants exactly that world goes to stdout,
//! so `>> policies/NAME.toml` makes a policy `check` passes; the rest of
//! what it says goes to stderr. Toolchain versions come from the files the
//! repository's own roles are pinned by, so the two cannot drift apart.

use super::Failure;
use agentward::policy::RoleName;
use anyhow::{anyhow, Context};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub(crate) enum Command {
    /// Write a new role: sources, WIT, a build script, and print the policy
    /// stanza that grants it.
    Role(RoleArgs),
}

#[derive(clap::Args)]
pub(crate) struct RoleArgs {
    /// The component's name, in kebab-case: its directory, package and
    /// `.wasm` file are named after it.
    name: String,
    /// The language to write it in.
    #[arg(long, value_enum)]
    lang: Lang,
    /// The policy role it runs as (planner, implementer, reviewer, tester,
    /// researcher, domain-specialist); default: NAME, when NAME is one.
    #[arg(long = "as", value_name = "ROLE")]
    slot: Option<String>,
    /// Where to write it (default: ./NAME); it must not exist or be empty.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Lang {
    Rust,
    Python,
    Javascript,
}

/// One file of a scaffold: where it goes and its text, placeholders and all.
struct Template {
    path: &'static str,
    text: &'static str,
    executable: bool,
}

macro_rules! template {
    ($path:literal, $source:literal $(, $executable:literal)?) => {
        Template {
            path: $path,
            text: include_str!(concat!("../../templates/role/", $source)),
            executable: false $(|| $executable)?,
        }
    };
}

/// Every scaffold has these: the host's WIT, the role's world, its README.
const COMMON: &[Template] = &[
    template!("wit/role.wit", "role.wit"),
    template!("README.md", "README.md"),
    Template {
        path: "wit/deps/agentward-host/types.wit",
        text: include_str!("../../../wit/types.wit"),
        executable: false,
    },
    Template {
        path: "wit/deps/agentward-host/worlds.wit",
        text: include_str!("../../../wit/worlds.wit"),
        executable: false,
    },
];

const RUST: &[Template] = &[
    template!("Cargo.toml", "rust/Cargo.toml"),
    template!("src/lib.rs", "rust/src/lib.rs"),
    template!("build.sh", "rust/build.sh", true),
];

const PYTHON: &[Template] = &[
    template!("app.py", "python/app.py"),
    template!("build.sh", "python/build.sh", true),
];

const JAVASCRIPT: &[Template] = &[
    template!("role.js", "javascript/role.js"),
    template!("package.json", "javascript/package.json"),
    template!("build.sh", "javascript/build.sh", true),
];

/// The pins of the repository's own Python and JavaScript roles.
const PYTHON_REQUIREMENTS: &str = include_str!("../../../plugins/python/requirements.txt");
const JS_PACKAGE: &str = include_str!("../../../plugins/js/planner/package.json");
/// The wit-bindgen the repository's Rust roles build with.
const PLUGINS_MANIFEST: &str = include_str!("../../../plugins/Cargo.toml");

impl Lang {
    fn files(self) -> &'static [Template] {
        match self {
            Lang::Rust => RUST,
            Lang::Python => PYTHON,
            Lang::Javascript => JAVASCRIPT,
        }
    }

    fn display(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Javascript => "JavaScript",
        }
    }

    /// What the README says the build needs.
    fn toolchain(self) -> String {
        match self {
            Lang::Rust => "It needs a Rust toolchain with the `wasm32-wasip2` target \
                           (`rustup target add wasm32-wasip2`)."
                .to_string(),
            Lang::Python => format!(
                "It needs componentize-py {} on PATH (`python3 -m pip install \
                 componentize-py=={0}`), or its path in `COMPONENTIZE_PY`.",
                pin("componentize-py").expect("pinned")
            ),
            Lang::Javascript => "It needs Node.js 20 or newer with npm; the first build \
                                 installs the pinned componentize-js into node_modules/."
                .to_string(),
        }
    }
}

/// The version the repository pins `tool` at.
fn pin(tool: &str) -> Option<String> {
    match tool {
        "componentize-py" => PYTHON_REQUIREMENTS
            .lines()
            .find_map(|line| line.trim().strip_prefix("componentize-py=="))
            .map(str::to_string),
        "wit-bindgen" => PLUGINS_MANIFEST
            .lines()
            .find_map(|line| line.trim().strip_prefix("wit-bindgen = "))
            .map(|v| v.trim_matches('"').to_string()),
        npm => {
            let package: serde_json::Value = serde_json::from_str(JS_PACKAGE).ok()?;
            package["devDependencies"][npm].as_str().map(str::to_string)
        }
    }
}

pub(crate) fn run(project: &Path, command: Command) -> Result<(), Failure> {
    match command {
        Command::Role(args) => new_role(project, args),
    }
}

fn new_role(project: &Path, args: RoleArgs) -> Result<(), Failure> {
    check_name(&args.name)?;
    let slot = slot(&args)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if out.exists()
        && std::fs::read_dir(&out)
            .with_context(|| format!("reading {}", out.display()))?
            .next()
            .is_some()
    {
        return Err(Failure::BadInput(anyhow!(
            "{} already exists and is not empty; name another directory with --out",
            out.display()
        )));
    }
    let values = [
        ("name", args.name.clone()),
        ("crate", args.name.replace('-', "_")),
        ("slot", slot.as_str().to_string()),
        ("language", args.lang.display().to_string()),
        ("toolchain", args.lang.toolchain()),
        ("wit_bindgen", pin("wit-bindgen").expect("pinned")),
        ("componentize_py", pin("componentize-py").expect("pinned")),
        (
            "componentize_js",
            pin("@bytecodealliance/componentize-js").expect("pinned"),
        ),
        (
            "preview2_shim",
            pin("@bytecodealliance/preview2-shim").expect("pinned"),
        ),
    ];
    for template in COMMON.iter().chain(args.lang.files()) {
        write(&out, template, &fill(template.text, &values))?;
    }

    let component = out.join(format!("{}.wasm", args.name));
    let reference = relative_to(&component, project);
    eprintln!(
        "wrote the {} role `{}` ({} slot) in {}",
        args.lang.display(),
        args.name,
        slot.as_str(),
        out.display()
    );
    eprintln!("build it:  {}", out.join("build.sh").display());
    eprintln!(
        "grant it:  put the stanza below in a policy of its own, e.g. {}",
        project
            .join(format!("policies/{}.toml", args.name))
            .display()
    );
    let agentward = if project == Path::new(".") {
        "agentward".to_string()
    } else {
        format!("agentward --project {}", project.display())
    };
    let policy = project.join(format!("policies/{}.toml", args.name));
    eprintln!(
        "run it:    {agentward} check --no-workflow --policy {0} && {agentward} run {1} --policy {0} --input '{{\"hello\":\"world\"}}'",
        policy.display(),
        slot.as_str()
    );
    print!("{}", stanza(slot, &reference));
    Ok(())
}

/// The policy stanza that grants exactly what `wit/role.wit` imports.
fn stanza(slot: RoleName, component: &str) -> String {
    let role = slot.as_str();
    let component = toml::Value::String(component.to_string());
    format!("[roles.{role}]\ncomponent = {component}\n\n[roles.{role}.grants]\nlog = {{}}\n")
}

/// A name that is a valid Cargo package, npm package and WIT package name.
fn check_name(name: &str) -> Result<(), Failure> {
    let valid = name.split('-').all(|word| {
        word.starts_with(|c: char| c.is_ascii_lowercase())
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if !valid || name.len() > 64 {
        return Err(Failure::BadInput(anyhow!(
            "`{name}` is not a role name: use kebab-case, lowercase letters and digits \
             in words joined by `-`, each word starting with a letter (e.g. `license-check`)"
        )));
    }
    Ok(())
}

fn slot(args: &RoleArgs) -> Result<RoleName, Failure> {
    let names = || {
        RoleName::ALL
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &args.slot {
        Some(slot) => RoleName::parse(slot).ok_or_else(|| {
            Failure::BadInput(anyhow!("--as {slot}: not a role; roles are: {}", names()))
        }),
        None => RoleName::parse(&args.name).ok_or_else(|| {
            Failure::BadInput(anyhow!(
                "`{}` is not a role, so say which role it runs as: --as ROLE (one of: {})",
                args.name,
                names()
            ))
        }),
    }
}

/// `text` with each `{{key}}` replaced by its value.
fn fill(text: &str, values: &[(&str, String)]) -> String {
    values.iter().fold(text.to_string(), |text, (key, value)| {
        text.replace(&format!("{{{{{key}}}}}"), value)
    })
}

fn write(out: &Path, template: &Template, text: &str) -> Result<(), Failure> {
    let path = out.join(template.path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    if template.executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", path.display()))?;
    }
    Ok(())
}

/// `path` as a policy names a component: relative to the project directory
/// when it lies inside it, else absolute.
fn relative_to(path: &Path, project: &Path) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (path, project) = (absolute(path), absolute(project));
    let project = project.canonicalize().unwrap_or(project);
    let parent = path
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .map(|p| p.join(path.file_name().expect("a file name")))
        .unwrap_or(path);
    match parent.strip_prefix(&project) {
        Ok(inside) => inside.display().to_string(),
        Err(_) => parent.display().to_string(),
    }
}
