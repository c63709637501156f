//! How a repository's config file comes to refer to a secret instead of
//! holding it.
//!
//! Each kind of file gets the reference its readers understand, so that it
//! never changes on a rotation again and never holds a value: `.npmrc`
//! `${NPM_TOKEN}` (npm expands it), `.env` `${VAR}` (docker compose,
//! python-dotenv and dotenv-expand expand it from the environment), YAML
//! database config `<%= ENV.fetch("VAR") %>` (Rails' ERB). The value then
//! comes from the environment, e.g. `agentward secrets exec --env VAR=PATH`.
//! Line endings and every other line are kept.

/// `current` with its credential lines made references; `var` is the
/// environment variable that carries the secret, `registry` the issuer's
/// `//host:port/` for a `.npmrc` without a token line.
pub fn reference(
    file: &str,
    current: &str,
    var: Option<&str>,
    registry: Option<&str>,
) -> Result<String, String> {
    let name = file.rsplit('/').next().unwrap_or(file);
    let needs_var = || {
        var.ok_or_else(|| {
            format!("staging {file}: say which environment variable carries the secret (`var = \"DATABASE_URL\"`)")
        })
    };
    if name == ".npmrc" {
        Ok(npmrc(current, registry))
    } else if name == ".env" || name.starts_with(".env.") || name.ends_with(".env") {
        Ok(dotenv(current, needs_var()?))
    } else if name.ends_with(".yml") || name.ends_with(".yaml") {
        Ok(database_yml(current, needs_var()?))
    } else {
        Err(format!(
            "staging {file}: agentward stages .npmrc, .env and YAML database config files"
        ))
    }
}

fn newline_of(text: &str) -> &'static str {
    if text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

fn join(lines: Vec<String>, newline: &str) -> String {
    lines.join(newline) + newline
}

/// Token lines take the token from the environment: a line that already
/// does (`${NPM_TOKEN}`, `${CI_NPM_TOKEN}`) is kept, a literal token
/// becomes `${NPM_TOKEN}`. A file with no token line gets one for
/// `registry`; without a known registry it is left as it is.
fn npmrc(current: &str, registry: Option<&str>) -> String {
    let mut lines: Vec<String> = current
        .lines()
        .map(|line| match line.split_once(":_authToken=") {
            Some((_, value)) if value.trim().starts_with("${") => line.to_string(),
            Some((registry, _)) => format!("{registry}:_authToken=${{NPM_TOKEN}}"),
            None => line.to_string(),
        })
        .collect();
    if !lines.iter().any(|l| l.contains(":_authToken=")) {
        match registry {
            Some(registry) => lines.push(format!("{registry}:_authToken=${{NPM_TOKEN}}")),
            None => return current.to_string(),
        }
    }
    join(lines, newline_of(current))
}

/// `VAR=literal` (or `export VAR=literal`) becomes `VAR=${VAR}`; a file
/// without the variable gets the line.
fn dotenv(current: &str, var: &str) -> String {
    let reference = format!("{var}=${{{var}}}");
    let mut found = false;
    let mut lines: Vec<String> = current
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let (export, rest) = match trimmed.strip_prefix("export ") {
                Some(rest) => ("export ", rest.trim_start()),
                None => ("", trimmed),
            };
            match rest.split_once('=') {
                Some((key, _)) if key.trim() == var => {
                    found = true;
                    format!("{export}{reference}")
                }
                _ => line.to_string(),
            }
        })
        .collect();
    if !found {
        lines.push(reference);
    }
    join(lines, newline_of(current))
}

/// `url:` and `password:` keys with literal values: the URL comes from the
/// environment, and a literal password goes (the URL carries it), or
/// becomes the URL where the block has none.
fn database_yml(current: &str, var: &str) -> String {
    let erb = format!("<%= ENV.fetch(\"{var}\") %>");
    let key_of = |line: &str| {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        trimmed.split_once(':').map(|(key, value)| {
            (
                indent.to_string(),
                key.trim().to_string(),
                value.trim().to_string(),
            )
        })
    };
    let has_url = current
        .lines()
        .any(|l| key_of(l).is_some_and(|(_, key, _)| key == "url"));
    let literal = |value: &str| !value.is_empty() && !value.starts_with("<%=");
    let lines: Vec<String> = current
        .lines()
        .filter_map(|line| match key_of(line) {
            Some((indent, key, value)) if key == "url" && literal(&value) => {
                Some(format!("{indent}url: {erb}"))
            }
            Some((_, key, value)) if key == "password" && literal(&value) && has_url => None,
            Some((indent, key, value)) if key == "password" && literal(&value) => {
                Some(format!("{indent}url: {erb}"))
            }
            _ => Some(line.to_string()),
        })
        .collect();
    join(lines, newline_of(current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_file_gets_its_reference_and_keeps_the_rest() {
        let npmrc_file = "@a:registry=https://r/\r\n//r/:_authToken=npm_LITERAL\r\n";
        assert_eq!(
            reference("app/.npmrc", npmrc_file, None, None).unwrap(),
            "@a:registry=https://r/\r\n//r/:_authToken=${NPM_TOKEN}\r\n"
        );
        let env = "PORT=8080\nexport DATABASE_URL=postgres://app_a:pw@db/app\n";
        assert_eq!(
            reference("svc/.env", env, Some("DATABASE_URL"), None).unwrap(),
            "PORT=8080\nexport DATABASE_URL=${DATABASE_URL}\n"
        );
        assert_eq!(
            reference(
                "svc/.env.production",
                "PORT=1\n",
                Some("DATABASE_URL"),
                None
            )
            .unwrap(),
            "PORT=1\nDATABASE_URL=${DATABASE_URL}\n"
        );
        let yml = "production:\n  adapter: postgresql\n  username: app_a\n  password: hunter2\n";
        assert_eq!(
            reference("svc/config/database.yml", yml, Some("DATABASE_URL"), None).unwrap(),
            "production:\n  adapter: postgresql\n  username: app_a\n  url: <%= ENV.fetch(\"DATABASE_URL\") %>\n"
        );
        let with_url = "production:\n  url: postgres://app_a:pw@db/app\n  password: pw\n";
        assert_eq!(
            reference("database.yml", with_url, Some("DATABASE_URL"), None).unwrap(),
            "production:\n  url: <%= ENV.fetch(\"DATABASE_URL\") %>\n"
        );
        assert!(reference("svc/.env", env, None, None)
            .unwrap_err()
            .contains("var = "));
        assert!(reference("svc/secrets.json", "{}", Some("X"), None).is_err());
    }
}
