//! Helpers shared by the emulator's integration tests.
#![allow(dead_code)]

use cloudflare_images_emulator::{Config, Emulator, EmulatorHandle};
use hmac::{Hmac, Mac};
use reqwest::multipart::{Form, Part};
use reqwest::RequestBuilder;
use serde_json::Value;
use sha2::Sha256;

pub const TOKEN: &str = "test-token";

/// A running emulator plus an HTTP client.
pub struct Ctx {
    pub emu: EmulatorHandle,
    pub http: reqwest::Client,
    /// `<base>/accounts/<id>/images`
    pub api: String,
}

/// The answer to one request: status, headers and the JSON body (Null if not JSON).
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
}

impl Answer {
    pub fn code(&self) -> u64 {
        self.json["errors"][0]["code"].as_u64().unwrap_or(0)
    }

    pub fn result(&self) -> &Value {
        &self.json["result"]
    }

    /// Asserts a failure envelope with this status and error code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: u64) {
        assert_eq!(self.status, status, "body: {}", self.json);
        assert_eq!(
            self.json["success"],
            Value::Bool(false),
            "body: {}",
            self.json
        );
        assert_eq!(self.code(), code, "body: {}", self.json);
        assert_eq!(self.json["result"], Value::Null);
        assert!(self.json["messages"].is_array());
    }

    /// Asserts a 200 success envelope and returns the result.
    #[track_caller]
    pub fn assert_ok(&self) -> &Value {
        assert_eq!(self.status, 200, "body: {}", self.json);
        assert_eq!(
            self.json["success"],
            Value::Bool(true),
            "body: {}",
            self.json
        );
        assert_eq!(self.json["errors"], serde_json::json!([]));
        &self.json["result"]
    }
}

impl Ctx {
    pub async fn new() -> Ctx {
        Self::with(Config {
            api_token: Some(TOKEN.into()),
            ..Config::default()
        })
        .await
    }

    pub async fn with(config: Config) -> Ctx {
        let emu = Emulator::start_with(config).await.expect("emulator starts");
        let api = format!("{}/accounts/{}/images", emu.base_url(), emu.account_id());
        Ctx {
            emu,
            http: reqwest::Client::new(),
            api,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.api, path)
    }

    /// Sends with the bearer token.
    pub async fn send(&self, rb: RequestBuilder) -> Answer {
        Self::raw(rb.bearer_auth(TOKEN)).await
    }

    /// Sends as is.
    pub async fn raw(rb: RequestBuilder) -> Answer {
        let resp = rb.send().await.expect("request succeeds");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(self.http.delete(self.url(path))).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(self.http.patch(self.url(path)).json(&body)).await
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Answer {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    pub async fn upload(&self, form: Form) -> Answer {
        self.send(self.http.post(self.url("v1")).multipart(form))
            .await
    }

    /// Uploads a small PNG with extra text fields; asserts success; returns the image.
    pub async fn upload_png(&self, fields: &[(&str, &str)]) -> Value {
        let mut form = file_form(png(), "pic.png");
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let answer = self.upload(form).await;
        answer.assert_ok().clone()
    }

    /// GET on a delivery path (relative to the origin).
    pub async fn deliver(&self, path_and_query: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{}", self.emu.origin(), path_and_query))
            .send()
            .await
            .expect("delivery request")
    }
}

/// The workspace's one 1x1 PNG ([`cloudflare_images_emulator::fixtures::PIXEL_PNG`]), owned.
/// The ids a listing answer (v1 page or v2) holds, in order.
pub fn listed_ids(result: &Value) -> Vec<String> {
    result["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

pub fn png() -> Vec<u8> {
    cloudflare_images_emulator::fixtures::PIXEL_PNG.to_vec()
}

/// A multipart form with a `file` part.
pub fn file_form(bytes: Vec<u8>, name: &str) -> Form {
    Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()))
}

/// Percent-encodes an id for one path segment (slashes included).
pub fn enc(id: &str) -> String {
    let mut out = String::new();
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Lowercase hex HMAC-SHA256, computed independently of the emulator.
pub fn hmac_hex(key: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(message.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The emulator binary running in a child process; killed (and reaped) when dropped, also
/// when an assertion fails.
pub struct Binary(pub std::process::Child);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Binary {
    /// Starts the binary with `args` and reads the first `lines` lines of its banner.
    pub async fn start(args: &[&str], lines: usize) -> (Binary, Vec<String>) {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        let child = Command::new(env!("CARGO_BIN_EXE_cloudflare-images-emulator"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let mut binary = Binary(child);
        let stdout = binary.0.stdout.take().expect("stdout");
        let banner = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            (0..lines)
                .map(|_| {
                    let mut line = String::new();
                    reader.read_line(&mut line).map(|_| line.trim().to_owned())
                })
                .collect::<std::io::Result<Vec<_>>>()
        })
        .await
        .expect("join")
        .expect("the banner");
        (binary, banner)
    }
}
