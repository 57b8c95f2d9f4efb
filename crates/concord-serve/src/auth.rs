//! The security core of `concord serve`: bearer tokens, webhook signatures
//! and log redaction. Everything here is pure (no I/O besides the system
//! random source) so the HTTP layer stays thin and this part stays testable.
//!
//! Token format: `cct_` followed by 64 lowercase hex digits (32 random bytes
//! from the OS). Hex rather than base64 keeps it copy-paste safe, avoids an
//! extra dependency and makes `redact` simple. Only the SHA-256 of the whole
//! string (prefix included) is stored, as lowercase hex. Tokens carry 256 bits
//! of entropy, so a plain fast hash is enough: there is nothing to brute-force.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// Every concord token starts with this, so it can be spotted (and redacted)
/// in logs, config files and secret scanners.
pub const TOKEN_PREFIX: &str = "cct_";

/// Number of random bytes in a token.
const TOKEN_BYTES: usize = 32;

/// How many characters after `cct_` `token list` shows to tell tokens apart.
const DISPLAY_PREFIX_LEN: usize = 8;

/// What `redact` puts in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// Failure to create a token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The OS random source failed; we must not fall back to anything weaker.
    #[error("could not read the system random source: {0}")]
    Random(getrandom::Error),
}

/// A freshly generated token. `secret` is shown to the user once and then
/// dropped; only `hash` (and `prefix`, for display) is persisted.
pub struct NewToken {
    /// The full token, e.g. `cct_0123…`. Shown once, never stored or logged.
    pub secret: String,
    /// Lowercase hex SHA-256 of `secret`: what the token store keeps.
    pub hash: String,
    /// First 8 characters after `cct_`, for `token list`.
    pub prefix: String,
}

impl NewToken {
    /// The record to persist for this token.
    pub fn stored(&self, name: impl Into<String>, read_only: bool) -> StoredToken {
        StoredToken {
            name: name.into(),
            hash: self.hash.clone(),
            read_only,
            revoked: false,
        }
    }
}

// Hand-written so that `{:?}` in a log line or a panic message can never
// reveal the secret.
impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("secret", &REDACTED)
            .field("hash", &self.hash)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// A token as kept in the token store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    pub name: String,
    /// Lowercase hex SHA-256 of the secret (see [`hash_token`]).
    pub hash: String,
    #[serde(default)]
    pub read_only: bool,
    /// Revoked tokens are kept (not deleted) so `token list` can show them
    /// and a revoked token gets a clearer error than an unknown one.
    #[serde(default)]
    pub revoked: bool,
}

/// What a request needs to be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Who an authorized request is acting as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    pub name: String,
    pub read_only: bool,
}

/// Why a request was refused. Carries no data, so neither its `Display`
/// message nor its `Debug` output can contain the presented token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("authentication required: send an `Authorization` header with a `Bearer` token")]
    Missing,
    #[error(
        "malformed `Authorization` header: expected the `Bearer` scheme, one space and one token"
    )]
    Malformed,
    #[error("unknown token")]
    Unknown,
    #[error("this token has been revoked")]
    Revoked,
    #[error("this token is read-only and cannot be used for changes")]
    ReadOnly,
}

impl Denied {
    /// HTTP status: 401 when we don't know who you are, 403 when we do but
    /// the token isn't allowed to do this.
    pub fn status(self) -> u16 {
        match self {
            Denied::Missing | Denied::Malformed | Denied::Unknown | Denied::Revoked => 401,
            Denied::ReadOnly => 403,
        }
    }

    /// The user-facing message (same as `Display`).
    pub fn message(self) -> String {
        self.to_string()
    }
}

/// Generate a new random token.
pub fn generate_token() -> Result<NewToken, AuthError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(AuthError::Random)?;
    let body = hex::encode(bytes);
    let prefix = body[..DISPLAY_PREFIX_LEN].to_owned();
    let secret = format!("{TOKEN_PREFIX}{body}");
    let hash = hash_token(&secret);
    Ok(NewToken {
        secret,
        hash,
        prefix,
    })
}

/// Lowercase hex SHA-256 of a token: the only form in which tokens are stored.
pub fn hash_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Does `secret` hash to `stored_hash`? Compares digest bytes in constant time.
/// A `stored_hash` that is not 64 hex digits never matches.
pub fn token_matches(secret: &str, stored_hash: &str) -> bool {
    let digest = sha256(secret.as_bytes());
    bool::from(matches_digest(&digest, stored_hash))
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Constant-time comparison of a digest with a stored hex hash. Decoding the
/// stored hash is not secret-dependent (it is our own data), only the
/// comparison is.
fn matches_digest(digest: &[u8; 32], stored_hash: &str) -> Choice {
    let mut stored = [0u8; 32];
    match hex::decode_to_slice(stored_hash, &mut stored) {
        Ok(()) => digest.ct_eq(&stored),
        Err(_) => Choice::from(0),
    }
}

/// Check an `Authorization` header value against the token store.
///
/// The presented token is hashed once and compared in constant time against
/// every stored hash, with no early exit, so timing doesn't reveal which
/// entry (if any) matched.
pub fn authorize(
    header: Option<&str>,
    tokens: &[StoredToken],
    need: Access,
) -> Result<TokenIdentity, Denied> {
    let header = header.ok_or(Denied::Missing)?;
    let presented = parse_bearer(header).ok_or(Denied::Malformed)?;
    let digest = sha256(presented.as_bytes());

    // Index of the matching entry, or u64::MAX; selected branch-free.
    let mut found = u64::MAX;
    for (i, stored) in tokens.iter().enumerate() {
        let hit = matches_digest(&digest, &stored.hash);
        found.conditional_assign(&(i as u64), hit);
    }
    let token = usize::try_from(found)
        .ok()
        .and_then(|i| tokens.get(i))
        .ok_or(Denied::Unknown)?;

    if token.revoked {
        return Err(Denied::Revoked);
    }
    if need == Access::Write && token.read_only {
        return Err(Denied::ReadOnly);
    }
    Ok(TokenIdentity {
        name: token.name.clone(),
        read_only: token.read_only,
    })
}

/// `Bearer <token>`: scheme case-insensitive (RFC 9110), exactly one space,
/// then one non-empty token of visible ASCII. Anything else is rejected
/// rather than guessed at.
fn parse_bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some(token)
}

/// Why a webhook signature was rejected. All of these mean 401 and no action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    #[error("malformed X-Hub-Signature-256 header: expected `sha256=<64 hex digits>`")]
    Malformed,
    #[error("webhook signature does not match")]
    Mismatch,
    /// The configured secret is empty. Refused: an empty HMAC key would let
    /// anyone forge a valid signature.
    #[error("no webhook secret is configured")]
    EmptySecret,
}

impl SignatureError {
    /// HTTP status for a rejected webhook.
    pub fn status(self) -> u16 {
        401
    }
}

const GITHUB_SIG_PREFIX: &str = "sha256=";

fn github_mac(secret: &[u8], body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length (long ones are hashed), so this never
    // fails; the key is our configured secret, not outside input.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac
}

/// Verify GitHub's `X-Hub-Signature-256` header over the raw request body.
pub fn verify_github_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::EmptySecret);
    }
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_sig = header
        .strip_prefix(GITHUB_SIG_PREFIX)
        .ok_or(SignatureError::Malformed)?;
    let mut tag = [0u8; 32];
    // decode_to_slice also rejects any length other than 64 digits.
    hex::decode_to_slice(hex_sig, &mut tag).map_err(|_| SignatureError::Malformed)?;
    // verify_slice compares in constant time.
    github_mac(secret, body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

/// The `X-Hub-Signature-256` value GitHub would send for `body`.
pub fn sign_github(secret: &[u8], body: &[u8]) -> String {
    let tag = github_mac(secret, body).finalize().into_bytes();
    format!("{GITHUB_SIG_PREFIX}{}", hex::encode(tag))
}

/// Constant-time check of a shared webhook secret. An empty `expected` never
/// matches, so an unconfigured hook can't be called with an empty secret.
pub fn verify_shared_secret(expected: &str, presented: Option<&str>) -> bool {
    let Some(presented) = presented else {
        return false;
    };
    if expected.is_empty() {
        return false;
    }
    // Compare fixed-size digests so the timing doesn't reveal the length of
    // the expected secret either.
    let a = sha256(expected.as_bytes());
    let b = sha256(presented.as_bytes());
    bool::from(a.ct_eq(&b))
}

/// Replace anything that looks like a concord token (`cct_…`) or the value
/// of a `Bearer …` credential with `[redacted]`, for log lines. Errs on the
/// side of redacting too much.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // Only match at the start of a word, so e.g. `acct_id` is left alone.
    let mut at_word_start = true;
    while let Some(c) = rest.chars().next() {
        if at_word_start {
            if let Some(len) = concord_token_len(rest) {
                out.push_str(REDACTED);
                rest = &rest[len..];
                at_word_start = true;
                continue;
            }
            if let Some((keep, len)) = bearer_len(rest) {
                out.push_str(&rest[..keep]);
                out.push_str(REDACTED);
                rest = &rest[len..];
                at_word_start = true;
                continue;
            }
        }
        out.push(c);
        at_word_start = !is_word_char(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Byte length of a `cct_…` token at the start of `s` (prefix matched
/// case-insensitively; body is the base64url/hex alphabet).
fn concord_token_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let head = bytes.get(..TOKEN_PREFIX.len())?;
    if !head.eq_ignore_ascii_case(TOKEN_PREFIX.as_bytes()) {
        return None;
    }
    let body = bytes[TOKEN_PREFIX.len()..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
        .count();
    (body > 0).then_some(TOKEN_PREFIX.len() + body)
}

/// For `Bearer <value>` at the start of `s`: (bytes to keep = scheme plus
/// whitespace, total bytes consumed). The value runs to whitespace or a
/// quote/separator, so JSON or key=value structure around it survives.
fn bearer_len(s: &str) -> Option<(usize, usize)> {
    const SCHEME: &[u8] = b"bearer";
    let bytes = s.as_bytes();
    if !bytes.get(..SCHEME.len())?.eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let spaces = bytes[SCHEME.len()..]
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    if spaces == 0 {
        return None;
    }
    let keep = SCHEME.len() + spaces;
    let value = &s[keep..];
    let value_len = value
        .char_indices()
        .find(|&(_, c)| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | ',' | ';' | '\\'))
        .map_or(value.len(), |(i, _)| i);
    (value_len > 0).then_some((keep, keep + value_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GH_SECRET: &[u8] = b"It's a Secret to Everybody";
    const GH_BODY: &[u8] = b"Hello, World!";
    const GH_SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn store(new: &NewToken, name: &str, read_only: bool) -> Vec<StoredToken> {
        let other = generate_token().expect("rng");
        vec![other.stored("other", false), new.stored(name, read_only)]
    }

    #[test]
    fn github_known_answer() {
        assert_eq!(sign_github(GH_SECRET, GH_BODY), GH_SIG);
        assert_eq!(
            verify_github_signature(GH_SECRET, GH_BODY, Some(GH_SIG)),
            Ok(())
        );
    }

    #[test]
    fn github_signature_uppercase_hex_ok() {
        let upper = format!("sha256={}", GH_SIG["sha256=".len()..].to_uppercase());
        assert_eq!(
            verify_github_signature(GH_SECRET, GH_BODY, Some(&upper)),
            Ok(())
        );
    }

    #[test]
    fn github_signature_rejections() {
        let v = |h: Option<&str>| verify_github_signature(GH_SECRET, GH_BODY, h);
        assert_eq!(v(None), Err(SignatureError::Missing));
        for bad in [
            "",
            "sha256=",
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17aa",
            "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            " sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ] {
            assert_eq!(v(Some(bad)), Err(SignatureError::Malformed), "{bad:?}");
        }
        let wrong = "sha256=857107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(v(Some(wrong)), Err(SignatureError::Mismatch));
        assert_eq!(
            verify_github_signature(b"another secret", GH_BODY, Some(GH_SIG)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_github_signature(b"", GH_BODY, Some(GH_SIG)),
            Err(SignatureError::EmptySecret)
        );
        assert_eq!(SignatureError::Mismatch.status(), 401);
    }

    #[test]
    fn replayed_signature_for_other_body_fails() {
        let sig_a = sign_github(GH_SECRET, b"{\"ref\":\"refs/heads/main\"}");
        assert_eq!(
            verify_github_signature(GH_SECRET, b"{\"ref\":\"refs/heads/evil\"}", Some(&sig_a)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn shared_secret() {
        assert!(verify_shared_secret("s3cret", Some("s3cret")));
        assert!(!verify_shared_secret("s3cret", Some("s3cre")));
        assert!(!verify_shared_secret("s3cret", Some("s3cret ")));
        assert!(!verify_shared_secret("s3cret", Some("")));
        assert!(!verify_shared_secret("s3cret", None));
        assert!(!verify_shared_secret("", Some("")));
        assert!(!verify_shared_secret("", None));
    }

    #[test]
    fn token_shape() {
        let t = generate_token().expect("rng");
        let body = t.secret.strip_prefix("cct_").expect("prefix");
        assert_eq!(body.len(), 64);
        assert!(
            body.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(t.prefix, body[..8]);
        assert_eq!(t.hash, hash_token(&t.secret));
        assert_eq!(t.hash.len(), 64);
        assert!(!t.hash.contains(body));
        assert!(token_matches(&t.secret, &t.hash));
        assert!(token_matches(&t.secret, &t.hash.to_uppercase()));
        assert!(!token_matches(&t.secret, "not hex"));
        assert!(!token_matches(&t.secret, ""));
        let u = generate_token().expect("rng");
        assert_ne!(t.secret, u.secret);
        assert!(!token_matches(&u.secret, &t.hash));
    }

    #[test]
    fn debug_redacts_secret() {
        let t = generate_token().expect("rng");
        let dbg = format!("{t:?}");
        assert!(!dbg.contains(&t.secret), "{dbg}");
        assert!(!dbg.contains(&t.secret["cct_".len()..]), "{dbg}");
        assert!(dbg.contains(REDACTED));
    }

    #[test]
    fn authorize_ok_read_and_write() {
        let t = generate_token().expect("rng");
        let tokens = store(&t, "ci", false);
        let header = format!("Bearer {}", t.secret);
        for need in [Access::Read, Access::Write] {
            assert_eq!(
                authorize(Some(&header), &tokens, need),
                Ok(TokenIdentity {
                    name: "ci".into(),
                    read_only: false
                })
            );
        }
        // Scheme is case-insensitive.
        let lower = format!("bearer {}", t.secret);
        assert!(authorize(Some(&lower), &tokens, Access::Write).is_ok());
        let upper = format!("BEARER {}", t.secret);
        assert!(authorize(Some(&upper), &tokens, Access::Write).is_ok());
    }

    #[test]
    fn authorize_wrong_token() {
        let t = generate_token().expect("rng");
        let tokens = store(&t, "ci", false);
        let stranger = generate_token().expect("rng");
        let header = format!("Bearer {}", stranger.secret);
        assert_eq!(
            authorize(Some(&header), &tokens, Access::Read),
            Err(Denied::Unknown)
        );
        assert_eq!(
            authorize(Some(&header), &[], Access::Read),
            Err(Denied::Unknown)
        );
        // The hash itself is not a credential.
        let header = format!("Bearer {}", t.hash);
        assert_eq!(
            authorize(Some(&header), &tokens, Access::Read),
            Err(Denied::Unknown)
        );
        assert_eq!(Denied::Unknown.status(), 401);
    }

    #[test]
    fn authorize_revoked() {
        let t = generate_token().expect("rng");
        let mut tokens = store(&t, "ci", false);
        tokens[1].revoked = true;
        let header = format!("Bearer {}", t.secret);
        for need in [Access::Read, Access::Write] {
            assert_eq!(
                authorize(Some(&header), &tokens, need),
                Err(Denied::Revoked)
            );
        }
        assert_eq!(Denied::Revoked.status(), 401);
    }

    #[test]
    fn authorize_read_only() {
        let t = generate_token().expect("rng");
        let tokens = store(&t, "viewer", true);
        let header = format!("Bearer {}", t.secret);
        assert_eq!(
            authorize(Some(&header), &tokens, Access::Read),
            Ok(TokenIdentity {
                name: "viewer".into(),
                read_only: true
            })
        );
        let denied = authorize(Some(&header), &tokens, Access::Write).unwrap_err();
        assert_eq!(denied, Denied::ReadOnly);
        assert_eq!(denied.status(), 403);
    }

    #[test]
    fn authorize_missing_and_malformed() {
        let t = generate_token().expect("rng");
        let tokens = store(&t, "ci", false);
        assert_eq!(authorize(None, &tokens, Access::Read), Err(Denied::Missing));
        let s = &t.secret;
        let malformed = [
            String::new(),
            "Bearer".into(),
            "Bearer ".into(),
            "Basic abc".into(),
            "Bearer a b".into(),
            format!("Basic {s}"),
            format!("Bearer  {s}"),
            format!("Bearer {s} "),
            format!("Bearer\t{s}"),
            format!("Bearer {s} extra"),
            format!("Bearer{s}"),
            s.clone(),
        ];
        for h in &malformed {
            let denied = authorize(Some(h), &tokens, Access::Read).unwrap_err();
            assert_eq!(denied, Denied::Malformed, "{h:?}");
            assert_eq!(denied.status(), 401);
        }
        assert_eq!(Denied::Missing.status(), 401);
    }

    #[test]
    fn denied_messages_never_contain_token() {
        let t = generate_token().expect("rng");
        let header = format!("Bearer {}", t.secret);
        for need in [Access::Read, Access::Write] {
            let mut tokens = store(&t, "ci", true);
            for revoked in [false, true] {
                tokens[1].revoked = revoked;
                if let Err(d) = authorize(Some(&header), &tokens, need) {
                    let msg = d.message();
                    assert!(!msg.contains(&t.secret[4..12]), "{msg}");
                    assert!(!format!("{d:?}").contains(&t.secret[4..12]));
                }
            }
        }
    }

    #[test]
    fn own_messages_survive_redaction() {
        // Otherwise the error a client sees and the one we log would differ.
        for d in [
            Denied::Missing,
            Denied::Malformed,
            Denied::Unknown,
            Denied::Revoked,
            Denied::ReadOnly,
        ] {
            assert_eq!(redact(&d.message()), d.message());
        }
        for e in [
            SignatureError::Missing,
            SignatureError::Malformed,
            SignatureError::Mismatch,
            SignatureError::EmptySecret,
        ] {
            assert_eq!(redact(&e.to_string()), e.to_string());
        }
    }

    #[test]
    fn redact_tokens_and_bearer_values() {
        let t = generate_token().expect("rng");
        let line = format!("request with {} failed", t.secret);
        assert_eq!(redact(&line), "request with [redacted] failed");
        let line = format!("Authorization: Bearer {}", t.secret);
        assert_eq!(redact(&line), "Authorization: Bearer [redacted]");
        assert_eq!(
            redact("{\"authorization\":\"bearer abc.def~x\"}"),
            "{\"authorization\":\"bearer [redacted]\"}"
        );
        assert_eq!(redact("token=cct_abc,next"), "token=[redacted],next");
        assert_eq!(redact("CCT_ABC"), "[redacted]");
        assert_eq!(redact("Bearer\tsecret!x y"), "Bearer\t[redacted] y");
        // Not tokens: left as is.
        assert_eq!(redact("acct_id=7 cct_ Bearer"), "acct_id=7 cct_ Bearer");
        assert_eq!(redact("unbearer x"), "unbearer x");
        assert_eq!(redact("héllo wörld"), "héllo wörld");
        assert_eq!(redact(""), "");
    }

    proptest! {
        #[test]
        fn sign_then_verify_and_tamper(
            secret in proptest::collection::vec(any::<u8>(), 1..80),
            body in proptest::collection::vec(any::<u8>(), 1..300),
            pos in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let sig = sign_github(&secret, &body);
            prop_assert_eq!(verify_github_signature(&secret, &body, Some(&sig)), Ok(()));
            let mut tampered = body.clone();
            let i = pos.index(tampered.len());
            tampered[i] ^= flip;
            prop_assert_eq!(
                verify_github_signature(&secret, &tampered, Some(&sig)),
                Err(SignatureError::Mismatch)
            );
        }

        #[test]
        fn redact_removes_any_token(prefix in "[ -~]{0,20}", suffix in "[ -~]{0,20}") {
            let t = generate_token().expect("rng");
            let line = format!("{prefix} {} {suffix}", t.secret);
            prop_assert!(!redact(&line).contains(&t.secret[4..]));
            let line = format!("{prefix} Authorization: Bearer {} {suffix}", t.secret);
            prop_assert!(!redact(&line).contains(&t.secret[4..]));
        }
    }
}
