//! Credentials never reach output or logs.

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &rest[at..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_hidden_and_the_rest_kept() {
        assert_eq!(
            redact_url("postgres://concord:s3cret@db:5432/hub?sslmode=require"),
            "postgres://concord:***@db:5432/hub?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://concord@db/hub"),
            "postgres://concord@db/hub"
        );
        assert_eq!(
            redact_url("sqlite://.concord/hub.db"),
            "sqlite://.concord/hub.db"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
