//! The HTTP layer every tracker client shares: one agent, credentials that
//! are never printed, retries with backoff on 429 and 5xx honouring
//! `Retry-After` (and GitHub's rate-limit reset), bodies checked to be the
//! JSON they claim to be, and errors that name the request.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a client proves who it is. `Debug` never shows the secret.
#[derive(Clone)]
pub enum Auth {
    None,
    /// HTTP basic (OpenProject: user `apikey`, password the token).
    Basic {
        user: String,
        password: String,
    },
    /// `Authorization: Bearer <token>` (GitHub).
    Bearer(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => write!(f, "Auth::None"),
            Auth::Basic { user, .. } => write!(f, "Auth::Basic({user}:***)"),
            Auth::Bearer(_) => write!(f, "Auth::Bearer(***)"),
        }
    }
}

impl Auth {
    fn header(&self) -> Option<String> {
        match self {
            Auth::None => None,
            Auth::Basic { user, password } => Some(format!(
                "Basic {}",
                base64_encode(format!("{user}:{password}").as_bytes())
            )),
            Auth::Bearer(token) => Some(format!("Bearer {token}")),
        }
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// When and how often to try again.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The first backoff; it doubles each time.
    pub base_delay: Duration,
    /// No single wait is longer, whatever the server asks.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(60),
        }
    }
}

/// What a client did, for reports and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    /// Conditional requests answered `304 Not Modified` (free on GitHub).
    pub not_modified: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{method} {url}: {message}")]
    Transport {
        method: String,
        url: String,
        message: String,
    },
    #[error("{method} {url}: HTTP {status}: {message}")]
    Status {
        method: String,
        url: String,
        status: u16,
        /// The server's own message when its error body has one.
        message: String,
        body: String,
    },
    #[error("{method} {url}: expected JSON but the server sent `{content_type}`: {snippet}")]
    NotJson {
        method: String,
        url: String,
        content_type: String,
        snippet: String,
    },
    #[error("{method} {url}: the JSON body is invalid at line {line}, column {column}: {message}")]
    BadJson {
        method: String,
        url: String,
        line: usize,
        column: usize,
        message: String,
    },
}

impl HttpError {
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's message, or the whole error when it has none.
    pub fn message(&self) -> String {
        match self {
            HttpError::Status { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// A response read whole.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    method: String,
    url: String,
}

impl Response {
    /// The first value of a header (names are case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, after checking it claims to be JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        let content_type = self.header("content-type").unwrap_or("").to_string();
        let is_json = content_type.contains("json");
        if !is_json {
            return Err(HttpError::NotJson {
                method: self.method.clone(),
                url: self.url.clone(),
                content_type: if content_type.is_empty() {
                    "(no content type)".into()
                } else {
                    content_type
                },
                snippet: snippet(&self.body),
            });
        }
        serde_json::from_slice(&self.body).map_err(|e| HttpError::BadJson {
            method: self.method.clone(),
            url: self.url.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// A base URL must say how to reach the server.
pub fn check_base_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim().trim_end_matches('/');
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        return Err(format!(
            "`{url}` has no scheme: write it as https://{}",
            trimmed.trim_start_matches('/')
        ));
    };
    if !matches!(scheme, "http" | "https") {
        return Err(format!("`{url}`: only http:// and https:// are supported"));
    }
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("`{url}` names no host"));
    }
    Ok(trimmed.to_string())
}

/// One tracker's connection: base URL, credentials, retry policy.
#[derive(Clone)]
pub struct HttpClient {
    agent: ureq::Agent,
    base: String,
    auth: Auth,
    retry: RetryPolicy,
    stats: Arc<Stats>,
    extra_headers: Vec<(String, String)>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("base", &self.base)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// Bodies larger than this are refused rather than held in memory.
const MAX_BODY: u64 = 64 << 20;

impl HttpClient {
    pub fn new(base: &str, auth: Auth) -> Result<HttpClient, String> {
        let base = check_base_url(base)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .user_agent(concat!("concord/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(HttpClient {
            agent,
            base,
            auth,
            retry: RetryPolicy::default(),
            stats: Arc::new(Stats::default()),
            extra_headers: Vec::new(),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// A header sent with every request (e.g. GitHub's API version).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.extra_headers.push((name.into(), value.into()));
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// `path` is appended to the base URL unless it is absolute already
    /// (pagination links are).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Send a request, retrying on 429, 502, 503, 504 (and other 5xx and
    /// connection failures for methods that are safe to repeat). Any status
    /// that is left is returned as is, 4xx included: callers decide.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Response, HttpError> {
        let url = self.url(path);
        let repeatable = !method.eq_ignore_ascii_case("POST");
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = self.send_once(method, &url, headers, body);
            let last = attempt >= self.retry.attempts;
            let wait = match &outcome {
                Ok(response) => match response.status {
                    429 => Some(self.server_wait(response, attempt)),
                    403 if rate_limited(response) => Some(self.server_wait(response, attempt)),
                    500..=599 if repeatable || response.status == 503 => {
                        Some(self.server_wait(response, attempt))
                    }
                    _ => None,
                },
                Err(_) if repeatable => Some(self.backoff(attempt)),
                Err(_) => None,
            };
            match (wait, last) {
                (Some(wait), false) => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(wait);
                }
                _ => {
                    let response = outcome?;
                    if response.status == 304 {
                        self.stats.not_modified.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(response);
                }
            }
        }
    }

    /// Like [`send`](Self::send), but any status outside 2xx and 304 is an
    /// [`HttpError::Status`] carrying the server's message.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Response, HttpError> {
        let response = self.send(method, path, headers, body)?;
        if (200..300).contains(&response.status) || response.status == 304 {
            Ok(response)
        } else {
            Err(status_error(&response))
        }
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Response, HttpError> {
        let transport = |e: ureq::Error| HttpError::Transport {
            method: method.to_string(),
            url: url.to_string(),
            message: e.to_string(),
        };
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("accept", "application/json");
        if let Some(auth) = self.auth.header() {
            request = request.header("authorization", auth);
        }
        for (name, value) in &self.extra_headers {
            request = request.header(name.as_str(), value.as_str());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let bytes = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                serde_json::to_vec(json).unwrap_or_default()
            }
            None => Vec::new(),
        };
        let request = request.body(bytes).map_err(|e| HttpError::Transport {
            method: method.to_string(),
            url: url.to_string(),
            message: format!("invalid request: {e}"),
        })?;
        let mut response = self.agent.run(request).map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(transport)?;
        Ok(Response {
            status,
            headers,
            body,
            method: method.to_string(),
            url: url.to_string(),
        })
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.retry
            .base_delay
            .saturating_mul(factor)
            .min(self.retry.max_delay)
    }

    /// `Retry-After` (seconds), else a rate-limit reset time, else backoff.
    fn server_wait(&self, response: &Response, attempt: u32) -> Duration {
        if let Some(seconds) = response
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            return Duration::from_secs(seconds).min(self.retry.max_delay);
        }
        if let Some(reset) = response
            .header("x-ratelimit-reset")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            return Duration::from_secs(reset.saturating_sub(now).max(1)).min(self.retry.max_delay);
        }
        self.backoff(attempt)
    }
}

/// GitHub answers an exhausted rate limit with 403 and no tokens left.
fn rate_limited(response: &Response) -> bool {
    response.header("x-ratelimit-remaining") == Some("0")
}

/// The error for a response whose status is not a success.
pub fn status_error(response: &Response) -> HttpError {
    let body = String::from_utf8_lossy(&response.body).into_owned();
    let message = serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            let text = snippet(&response.body);
            if text.is_empty() {
                reason(response.status).to_string()
            } else {
                text
            }
        });
    HttpError::Status {
        method: response.method.clone(),
        url: response.url.clone(),
        status: response.status,
        message,
        body,
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "bad request",
        401 => "unauthorized: the token was not accepted",
        403 => "forbidden: the token may not do this",
        404 => "not found",
        409 => "conflict",
        422 => "unprocessable",
        429 => "too many requests",
        500..=599 => "server error",
        _ => "unexpected status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let auth = Auth::Basic {
            user: "apikey".into(),
            password: "s3cret".into(),
        };
        assert!(!format!("{auth:?}").contains("s3cret"));
        assert!(!format!("{:?}", Auth::Bearer("ghp_x".into())).contains("ghp_x"));
        let client = HttpClient::new("https://op.example.com/", auth).expect("client");
        assert!(!format!("{client:?}").contains("s3cret"));
        assert_eq!(client.base(), "https://op.example.com");
    }

    #[test]
    fn base_urls_need_a_scheme_and_a_host() {
        assert!(
            check_base_url("op.example.com")
                .unwrap_err()
                .contains("https://op.example.com")
        );
        assert!(check_base_url("ftp://x").is_err());
        assert!(check_base_url("https://").is_err());
        assert_eq!(
            check_base_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
    }
}
