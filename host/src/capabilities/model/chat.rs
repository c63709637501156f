//! The OpenAI-compatible chat-completions API, which hosted providers and
//! local servers (llama.cpp, vLLM, Ollama) all accept: the request body the
//! host sends, and what it takes from the answer. Nothing here touches the
//! network or the policy.

use serde_json::{json, Value};

/// How an endpoint is asked for output that follows a JSON schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Structured {
    /// OpenAI's `{"type": "json_schema", "json_schema": {…}}`.
    JsonSchema,
    /// llama.cpp's server: `{"type": "json_object", "schema": …}`.
    JsonObject,
}

impl Structured {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Structured::JsonSchema => "json_schema",
            Structured::JsonObject => "json_object",
        }
    }
}

/// One message of a prompt.
pub(crate) struct Message<'a> {
    pub role: &'a str,
    pub content: &'a str,
}

/// What a role asks for, as the endpoint will read it.
pub(crate) struct Ask<'a> {
    pub model: &'a str,
    pub messages: Vec<Message<'a>>,
    pub max_tokens: u32,
    pub temperature: f32,
    pub stop: &'a [String],
    /// Parsed already: a schema that is not JSON never gets this far.
    pub schema: Option<Value>,
    pub structured: Structured,
}

impl Ask<'_> {
    pub(crate) fn body(&self) -> Value {
        let messages: Vec<Value> = self
            .messages
            .iter()
            .map(|m| json!({ "role": m.role, "content": m.content }))
            .collect();
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": false,
        });
        if !self.stop.is_empty() {
            body["stop"] = json!(self.stop);
        }
        if let Some(schema) = &self.schema {
            body["response_format"] = match self.structured {
                Structured::JsonSchema => json!({
                    "type": "json_schema",
                    "json_schema": { "name": "output", "schema": schema, "strict": true },
                }),
                Structured::JsonObject => json!({ "type": "json_object", "schema": schema }),
            };
        }
        body
    }
}

/// What the host takes from an answer.
#[derive(Debug, PartialEq)]
pub(crate) struct Answer {
    pub text: String,
    pub tokens_in: u32,
    pub tokens_out: u32,
    pub model: String,
    pub finish_reason: String,
}

/// The first choice of a chat-completions answer, or what is missing.
pub(crate) fn parse_answer(body: &[u8]) -> Result<Answer, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let choice = &value["choices"][0];
    let text = choice["message"]["content"]
        .as_str()
        .ok_or("the answer has no choices[0].message.content")?;
    let count = |field: &str| {
        value["usage"][field]
            .as_u64()
            .map(|n| n.min(u32::MAX as u64) as u32)
            .ok_or(format!("the answer has no usage.{field}"))
    };
    Ok(Answer {
        text: text.to_string(),
        tokens_in: count("prompt_tokens")?,
        tokens_out: count("completion_tokens")?,
        model: value["model"].as_str().unwrap_or_default().to_string(),
        finish_reason: choice["finish_reason"]
            .as_str()
            .unwrap_or("unknown")
            .to_string(),
    })
}

/// The model ids a `GET …/models` answer lists.
pub(crate) fn parse_models(body: &[u8]) -> Result<Vec<String>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the model list is not JSON: {e}"))?;
    let data = value["data"]
        .as_array()
        .ok_or("the model list has no `data` array")?;
    Ok(data
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect())
}

/// The message of an error answer (`{"error": {"message": …}}`), if any.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let message = value["error"]["message"]
        .as_str()
        .or_else(|| value["error"].as_str())?;
    Some(message.lines().next().unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_carries_the_schema_in_the_endpoints_dialect() {
        let stop = vec!["\n\n".to_string()];
        let ask = |structured| Ask {
            model: "m",
            messages: vec![Message {
                role: "user",
                content: "hi",
            }],
            max_tokens: 5,
            temperature: 0.0,
            stop: &stop,
            schema: Some(json!({"type": "object"})),
            structured,
        };
        let openai = ask(Structured::JsonSchema).body();
        assert_eq!(openai["response_format"]["type"], "json_schema");
        assert_eq!(
            openai["response_format"]["json_schema"]["schema"]["type"],
            "object"
        );
        assert_eq!(openai["stop"][0], "\n\n");
        let llama = ask(Structured::JsonObject).body();
        assert_eq!(llama["response_format"]["schema"]["type"], "object");
        assert_eq!(llama["messages"][0]["content"], "hi");
    }

    #[test]
    fn an_answer_gives_text_tokens_model_and_reason() {
        let body = br#"{"model":"smollm2","choices":[{"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":1}}"#;
        assert_eq!(
            parse_answer(body).unwrap(),
            Answer {
                text: "ok".into(),
                tokens_in: 7,
                tokens_out: 1,
                model: "smollm2".into(),
                finish_reason: "stop".into(),
            }
        );
        assert!(parse_answer(b"{}").unwrap_err().contains("choices[0]"));
        assert_eq!(
            parse_models(br#"{"data":[{"id":"a"},{"id":"b"}]}"#).unwrap(),
            ["a", "b"]
        );
        assert_eq!(
            error_message(br#"{"error":{"message":"bad\nmore"}}"#).as_deref(),
            Some("bad")
        );
    }
}
