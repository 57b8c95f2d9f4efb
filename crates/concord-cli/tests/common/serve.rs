//! A real `concord serve` for the tests that talk to it over HTTP.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `concord serve`, killed when dropped (also on a panic).
pub struct Server {
    child: Child,
    pub url: String,
    /// Its standard error: the access log.
    log: PathBuf,
}

impl Server {
    /// `concord serve --bind 127.0.0.1:0 ARGS` in `dir` with `env` set;
    /// waits for its "listening on http://ADDR" line.
    pub fn start(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Server {
        Server::start_exe(Path::new(env!("CARGO_BIN_EXE_concord")), dir, env, args)
    }

    /// As [`Server::start`], with the `concord` binary at `exe`.
    pub fn start_exe(exe: &Path, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Server {
        let log = dir.join(format!("serve-{:08x}.log", fastrand::u32(..)));
        let child = Command::new(exe)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env_remove("CONCORD_CONFIG")
            .env_remove("CONCORD_HUB_URL")
            .env_remove("CONCORD_HUB")
            .env_remove("CONCORD_WEBHOOK_SECRET")
            .envs(env.iter().copied())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start concord serve");
        let mut server = Server {
            child,
            url: String::new(),
            log,
        };
        let stdout = server.child.stdout.take().expect("stdout");
        let (lines, received) = mpsc::channel();
        // Reads stdout to its end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Once the address is read nobody listens; keep draining.
                let _ = lines.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("concord serve: listening on ") {
                        let url = rest.split_whitespace().next().unwrap_or_default();
                        assert!(url.starts_with("http://"), "odd line: {line}");
                        server.url = url.to_string();
                        return server;
                    }
                }
                Err(e) => panic!(
                    "concord serve did not say where it listens ({e}); its log:\n{}",
                    server.log()
                ),
            }
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP request; the body read as JSON (a string when it is not).
pub fn http(
    method: &str,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> (u16, Value, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(body.unwrap_or_default().to_vec())
        .expect("request");
    let mut response = agent.run(request).expect("HTTP request");
    let status = response.status().as_u16();
    let auth = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value, auth)
}

/// `GET url`.
pub fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    let (status, value, _) = http("GET", url, token, &[], None);
    (status, value)
}

/// `method url` with a JSON body.
pub fn send(method: &str, url: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let bytes = body.to_string().into_bytes();
    let (status, value, _) = http(
        method,
        url,
        token,
        &[("Content-Type", "application/json")],
        Some(&bytes),
    );
    (status, value)
}
