//! The npm token API of a real Verdaccio registry on 127.0.0.1: what a
//! credential rotation against npm-style registries can rely on.
//!
//! Needs `scripts/install-verdaccio.sh` (part of `make setup`).

mod support;

use std::path::Path;
use std::process::{Command, Output};
use support::verdaccio::{Verdaccio, PRIVATE_PKG, PRIVATE_PKG_MARKER, PRIVATE_PKG_VERSION};

const USER: &str = "rotator";
const PASSWORD: &str = "rotator-pw-6c1e";

/// A minted npm token: the secret and its server-side id.
struct Minted {
    token: String,
    key: String,
}

fn mint(server: &Verdaccio, bearer: &str, readonly: bool) -> Minted {
    let answer = server.create_token(bearer, PASSWORD, readonly);
    assert_eq!(answer.status, 200, "POST /-/npm/v1/tokens: {answer:?}");
    let json = answer.json();
    assert_eq!(json["user"], USER);
    assert_eq!(json["readonly"], readonly);
    let key = json["key"].as_str().unwrap().to_string();
    assert!(
        key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "key is 16 random bytes as hex: {key}"
    );
    Minted {
        token: json["token"].as_str().unwrap().to_string(),
        key,
    }
}

/// What a holder of only `token` can do to find its key: list the user's
/// tokens with it and match the mask (first and last five characters).
fn own_key(server: &Verdaccio, token: &str) -> String {
    let listing = server.list_tokens(token);
    assert_eq!(listing.status, 200, "{listing:?}");
    let mask = format!("{}...{}", &token[..5], &token[token.len() - 5..]);
    let matching: Vec<_> = listing.json()["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["token"] == mask.as_str())
        .map(|o| o["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(matching.len(), 1, "one listed token masks as {mask}");
    matching.into_iter().next().unwrap()
}

fn packument_path() -> String {
    format!("/{}", PRIVATE_PKG.replace('/', "%2f"))
}

#[test]
fn npm_tokens_are_minted_listed_and_revoked() {
    let mut server = Verdaccio::new();
    eprintln!("verdaccio started in {:?}", server.last_startup);

    let login = server.add_user(USER, PASSWORD);
    assert_eq!(server.whoami(&login), (200, Some(USER.to_string())));
    // An unknown bearer is not an error: the request is just anonymous.
    assert_eq!(server.whoami("not-a-token"), (200, None));

    // Minting needs the password again, besides a valid bearer.
    let wrong = server.create_token(&login, "wrong-password", false);
    assert_eq!(wrong.status, 401, "{wrong:?}");
    let anonymous = server.request(
        "POST",
        "/-/npm/v1/tokens",
        None,
        Some(&format!(r#"{{"password":"{PASSWORD}"}}"#)),
    );
    assert_ne!(anonymous.status, 200, "{anonymous:?}");

    let a = mint(&server, &login, false);
    let b = mint(&server, &a.token, false);
    assert_ne!(a.key, b.key);
    assert_eq!(server.whoami(&a.token), (200, Some(USER.to_string())));
    assert_eq!(server.whoami(&b.token), (200, Some(USER.to_string())));

    // The listing holds masks, never the tokens themselves.
    let listing = server.list_tokens(&a.token);
    assert_eq!(listing.status, 200);
    assert!(!listing.body.contains(&a.token) && !listing.body.contains(&b.token));
    let listed = listing.json()["objects"].as_array().unwrap().len();
    assert_eq!(listed, 2, "{}", listing.body);

    // The private scope is closed to anonymous readers.
    let published = server.publish(&login);
    assert_eq!(published.status, 201, "publish: {published:?}");
    let tarball = server.private_pkg_tarball_path();
    let anon = server.get(&packument_path(), None);
    assert!(matches!(anon.status, 401 | 403), "{anon:?}");
    assert!(matches!(server.get_bytes(&tarball, None).0, 401 | 403));
    let doc = server.get(&packument_path(), Some(&a.token));
    assert_eq!(doc.status, 200, "{doc:?}");
    assert!(doc.json()["versions"][PRIVATE_PKG_VERSION].is_object());
    let (status, bytes) = server.get_bytes(&tarball, Some(&a.token));
    assert_eq!(status, 200);
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "a gzip tarball");

    // A holder of only `a` finds its key through the listing and revokes it.
    assert_eq!(own_key(&server, &a.token), a.key);
    let revoked = server.revoke_token(&a.token, &a.key);
    assert_eq!((revoked.status, revoked.body.trim()), (200, "{}"));
    let (status, name) = server.whoami(&a.token);
    assert_eq!((status, name), (403, None), "a revoked token is refused");
    assert_eq!(server.get(&packument_path(), Some(&a.token)).status, 403);
    assert_eq!(server.get_bytes(&tarball, Some(&a.token)).0, 403);
    assert_eq!(server.list_tokens(&a.token).status, 403);
    // The other token is untouched.
    assert_eq!(server.whoami(&b.token), (200, Some(USER.to_string())));
    assert_eq!(server.get(&packument_path(), Some(&b.token)).status, 200);
    assert_eq!(server.get_bytes(&tarball, Some(&b.token)).0, 200);
    // Revoking an unknown key is not an error.
    assert_eq!(server.revoke_token(&b.token, &a.key).status, 200);
    assert_eq!(server.revoke_token(&b.token, "0000").status, 200);

    // A read-only token cannot revoke itself (DELETE is a write)...
    let ro = mint(&server, &b.token, true);
    assert_eq!(server.revoke_token(&ro.token, &ro.key).status, 403);
    assert_eq!(server.whoami(&ro.token), (200, Some(USER.to_string())));
    // ...but another read-write token of the same user can.
    assert_eq!(server.revoke_token(&b.token, &ro.key).status, 200);
    assert_eq!(server.whoami(&ro.token).0, 403);

    // The login token has no key: `npm logout`'s DELETE answers "Logged
    // out" yet the token keeps working.
    let logout = server.request(
        "DELETE",
        &format!("/-/user/token/{login}"),
        Some(&login),
        None,
    );
    assert_eq!(logout.status, 200, "{logout:?}");
    assert_eq!(server.whoami(&login), (200, Some(USER.to_string())));

    // Registry down, then up again with the same storage.
    server.stop();
    let down = ureq::get(format!("{}/-/ping", server.url())).call();
    assert!(down.is_err(), "nothing answers while stopped");
    server.start();
    eprintln!("verdaccio restarted in {:?}", server.last_startup);
    assert_eq!(server.whoami(&b.token), (200, Some(USER.to_string())));
    assert_eq!(
        server.whoami(&a.token).0,
        403,
        "still revoked after restart"
    );
    assert_eq!(server.whoami(&login), (200, Some(USER.to_string())));
    assert_eq!(server.get(&packument_path(), Some(&b.token)).status, 200);
}

/// `npm` (the machine's) with a clean environment: the project's `.npmrc`
/// only, a private cache, and `NPM_TOKEN` if given.
fn npm(project: &Path, args: &[&str], token: Option<&str>) -> Output {
    let home = project.join(".home");
    std::fs::create_dir_all(&home).unwrap();
    let mut command = Command::new("npm");
    command
        .args(args)
        .current_dir(project)
        .env("HOME", &home)
        .env("npm_config_userconfig", home.join("npmrc"))
        .env("npm_config_cache", project.join(".npm-cache"))
        .env("npm_config_audit", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_update_notifier", "false")
        .env_remove("NPM_TOKEN")
        .env_remove("NODE_AUTH_TOKEN")
        .env_remove("npm_config_registry");
    if let Some(token) = token {
        command.env("NPM_TOKEN", token);
    }
    command.output().expect("run npm")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn npm_install_authenticates_with_the_token_from_the_environment() {
    let server = Verdaccio::new();
    let login = server.add_user(USER, PASSWORD);
    assert_eq!(server.publish(&login).status, 201);
    let good = mint(&server, &login, true);
    let revoked = mint(&server, &login, false);
    assert_eq!(server.revoke_token(&login, &revoked.key).status, 200);

    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    std::fs::write(
        p.join("package.json"),
        format!(
            r#"{{"name":"consumer","version":"0.0.0","private":true,"dependencies":{{"{PRIVATE_PKG}":"{PRIVATE_PKG_VERSION}"}}}}"#
        ),
    )
    .unwrap();
    // npm trusts the registry's CA through `cafile`, never by switching
    // verification off.
    let ca = p.join("registry-ca.pem");
    server.write_ca(&ca);
    std::fs::write(
        p.join(".npmrc"),
        format!(
            "registry={url}/\ncafile={ca}\n//127.0.0.1:{port}/:_authToken=${{NPM_TOKEN}}\n",
            url = server.url(),
            ca = ca.display(),
            port = server.port
        ),
    )
    .unwrap();

    // --dry-run resolves the tree, so it fetches the packument with the
    // token (but downloads no tarball and writes nothing): the same dry run
    // succeeds with a good token and fails with a revoked or missing one.
    // (Verdaccio's own request log is written lazily, so it is no witness.)
    let dry = npm(
        p,
        &["install", "--dry-run", "--loglevel=http"],
        Some(&good.token),
    );
    assert!(
        dry.status.success(),
        "dry run with a good token: {}",
        text(&dry)
    );
    let log = text(&dry);
    let packument = format!("GET 200 {}/@agentward%2fprivate-pkg", server.url());
    assert!(log.contains(&packument), "{log}");
    assert!(!log.contains(".tgz"), "a dry run fetches no tarball: {log}");
    eprintln!("npm install --dry-run (good token):\n{log}");
    assert!(
        !p.join("node_modules").exists(),
        "a dry run installs nothing"
    );
    let dry = npm(p, &["install", "--dry-run"], Some(&revoked.token));
    assert!(
        !dry.status.success(),
        "dry run with a revoked token: {}",
        text(&dry)
    );
    assert!(text(&dry).contains("403"), "{}", text(&dry));
    eprintln!("npm install --dry-run (revoked token):\n{}", text(&dry));
    let dry = npm(p, &["install", "--dry-run"], None);
    assert!(
        !dry.status.success(),
        "dry run without a token: {}",
        text(&dry)
    );
    assert!(text(&dry).contains("E401"), "{}", text(&dry));
    let dry = npm(p, &["install", "--dry-run"], Some("bogus"));
    assert!(text(&dry).contains("E401"), "{}", text(&dry));

    let real = npm(p, &["install", "--loglevel=http"], Some(&good.token));
    assert!(real.status.success(), "install: {}", text(&real));
    eprintln!("npm install (good token):\n{}", text(&real));
    let index = p.join("node_modules/@agentward/private-pkg/index.js");
    let installed = std::fs::read_to_string(&index).unwrap();
    assert!(installed.contains(PRIVATE_PKG_MARKER), "{installed}");
}

/// Verdaccio's default ("legacy") tokens are the user name, password and
/// token key encrypted with the server's secret, and every request checks
/// that password against htpasswd again. So changing the password is what
/// kills login tokens (which have no key to revoke), and every npm token
/// minted under the old password dies with them.
#[test]
fn a_password_change_kills_every_token_minted_under_the_old_one() {
    let server = Verdaccio::new();
    let login = server.add_user(USER, PASSWORD);
    let minted = mint(&server, &login, false);
    assert_eq!(server.publish(&login).status, 201);
    assert_eq!(
        server.get(&packument_path(), Some(&minted.token)).status,
        200
    );
    let new_password = "rotator-pw-new-91d0";
    let body = serde_json::json!({ "password": { "old": PASSWORD, "new": new_password } });
    let changed = server.request(
        "POST",
        "/-/npm/v1/user",
        Some(&login),
        Some(&body.to_string()),
    );
    assert_eq!(changed.status, 200, "{changed:?}");

    // Both are now anonymous: whoami still answers 200, with no username
    // (a revoked npm token gets 403 instead), and the scope is closed.
    for old in [&login, &minted.token] {
        assert_eq!(server.whoami(old), (200, None));
        let status = server.get(&packument_path(), Some(old)).status;
        assert!(matches!(status, 401 | 403), "packument: {status}");
        assert_eq!(server.list_tokens(old).status, 401);
    }
    // A fresh login with the new password works again.
    let token = server.login(USER, new_password);
    assert_eq!(server.whoami(&token), (200, Some(USER.to_string())));
}
