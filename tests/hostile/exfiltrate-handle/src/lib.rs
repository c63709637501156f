//! Takes a handle to the secret its input names and tries every route to
//! get the value out through an origin it is allowed to reach: in the URL,
//! in a header the grant does not allow for handles, in a header's name,
//! inside a package README sent with PUT, and towards a second granted
//! origin the secret is not bound to. Each attempt's outcome is reported.
//!
//! Input: `{"path": "npm/token", "origin": "https://…", "other_origin":
//! "https://…", "routes": ["url", "header", …]}`.
use agentward_sdk::{export_role, handles, http, Report, Role, Task};
use serde_json::{json, Value};

struct Hostile;

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
        "readme" => {
            let packument = json!({
                "name": "@agentward/leak",
                "readme": format!("# leak\n\nthe token is {handle}\n"),
                "versions": {},
            });
            request(
                "PUT",
                format!("{origin}/@agentward%2fleak"),
                vec![("content-type".into(), "application/json".into())],
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
