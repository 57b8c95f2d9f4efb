//! `[[checks.rule]]`: team-defined rules. Their conditions are written in
//! the Common Expression Language (CEL, <https://cel.dev>) and compiled here,
//! when the configuration loads, so that a typo is a configuration error at
//! the expression's line and column instead of a surprise at check time.
//!
//! Why CEL rather than a language of our own or JSON Logic: it is specified
//! (one meaning across implementations), side-effect free and always
//! terminating, reads like the conditions people write in code review
//! (`doc.current_phase == "complete" && !has(doc.case_study)`), has the
//! list macros rules need (`all`, `exists`, `exists_one`, `filter`, `map`,
//! `size`), and lets us register the helpers that need the file system or
//! git. JSON Logic would make every rule a nested JSON tree, which is hard
//! to write and review inside TOML.

use crate::ConfigError;
use crate::checks_config::{
    CHECK_CODES, Exemption, FIRST_COMMIT, MessagePart, RawRule, TeamRule, scope,
};
use crate::config::{Errors, Repo};
use toml::Spanned;

/// Checks one `[[checks.rule]]` table and compiles its expressions.
pub(crate) fn validate_rule(
    raw: &RawRule,
    repos: &[Repo],
    earlier: &[TeamRule],
    errors: &Errors<'_>,
) -> Result<TeamRule, ConfigError> {
    let code = raw.code.get_ref();
    let well_formed = code.len() >= 2
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        return Err(errors.at(
            raw.code.span(),
            format!("rule code `{code}` must be UPPER_SNAKE (letters, digits, `_`)"),
        ));
    }
    if CHECK_CODES.contains(&code.as_str()) {
        return Err(errors.with_help(
            raw.code.span(),
            format!("rule code `{code}` is a built-in check code"),
            Some("give the team rule its own code".into()),
        ));
    }
    if earlier.iter().any(|r| &r.code == code) {
        return Err(errors.at(
            raw.code.span(),
            format!("rule code `{code}` is defined twice"),
        ));
    }
    let severity = match &raw.severity {
        Some(level) if matches!(level.get_ref().as_str(), "error" | "warning" | "advisory") => {
            level.get_ref().clone()
        }
        Some(level) => {
            return Err(errors.at(
                level.span(),
                format!(
                    "severity `{}` for {code}: expected error, warning or advisory",
                    level.get_ref()
                ),
            ));
        }
        None => "error".into(),
    };
    compile(&raw.when, raw.when.get_ref(), 0, errors)?;
    if let Some(key) = &raw.key {
        compile(key, key.get_ref(), 0, errors)?;
    }
    let message = message_parts(&raw.message, errors)?;
    let items = raw
        .items
        .as_ref()
        .map(|p| json_pointer(p, errors))
        .transpose()?;
    let since = raw
        .since
        .as_ref()
        .map(|s| crate::checks_config::validated_since(s, errors))
        .transpose()?;
    let since_field = match &raw.since_field {
        Some(field) if field.get_ref() == FIRST_COMMIT => Some(FIRST_COMMIT.to_string()),
        Some(field) => Some(json_pointer(field, errors)?),
        None => None,
    };
    if since.is_some() != since_field.is_some() {
        return Err(errors.at(
            raw.code.span(),
            format!("rule {code}: `since` and `since_field` go together"),
        ));
    }
    let mut exempt = Vec::new();
    for marker in raw
        .exempt
        .as_ref()
        .map(Spanned::get_ref)
        .into_iter()
        .flatten()
    {
        let (pointer, value) = match marker.split_once('=') {
            Some((p, v)) => (p, Some(v.to_string())),
            None => (marker.as_str(), None),
        };
        if !pointer.starts_with('/') {
            let span = raw.exempt.as_ref().map_or(raw.code.span(), Spanned::span);
            return Err(errors.at(
                span,
                format!("exempt `{marker}`: expected `/pointer` or `/pointer=value`"),
            ));
        }
        exempt.push(Exemption {
            pointer: pointer.to_string(),
            value,
        });
    }
    Ok(TeamRule {
        code: code.clone(),
        severity,
        message,
        scope: scope(&raw.glob, raw.repos.as_deref(), repos, errors)?,
        items,
        when: raw.when.get_ref().clone(),
        key: raw.key.as_ref().map(|k| k.get_ref().clone()),
        since,
        since_field,
        exempt,
        description: raw.description.clone(),
        fix: raw.fix.clone(),
    })
}

fn json_pointer(text: &Spanned<String>, errors: &Errors<'_>) -> Result<String, ConfigError> {
    if text.get_ref().starts_with('/') {
        Ok(text.get_ref().clone())
    } else {
        Err(errors.with_help(
            text.span(),
            format!("`{}` is not a JSON pointer", text.get_ref()),
            Some(format!("write it as \"/{}\"", text.get_ref())),
        ))
    }
}

/// Splits a message template into text and `{expression}` parts, each
/// expression compiled.
fn message_parts(
    message: &Spanned<String>,
    errors: &Errors<'_>,
) -> Result<Vec<MessagePart>, ConfigError> {
    let text = message.get_ref();
    let mut parts = Vec::new();
    let mut rest = text.as_str();
    let mut offset = 0;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return Err(errors.at(
                message.span(),
                "message: `{` without a closing `}`".to_string(),
            ));
        };
        if open > 0 {
            parts.push(MessagePart::Text(rest[..open].to_string()));
        }
        let expr = &rest[open + 1..open + close];
        compile(message, expr, offset + open + 1, errors)?;
        parts.push(MessagePart::Expr(expr.trim().to_string()));
        offset += open + close + 1;
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(MessagePart::Text(rest.to_string()));
    }
    Ok(parts)
}

/// Compiles `expr` (found at byte `within` of the string value `value`);
/// a syntax error points at its line and column in the configuration file.
fn compile(
    value: &Spanned<String>,
    expr: &str,
    within: usize,
    errors: &Errors<'_>,
) -> Result<(), ConfigError> {
    let Err(parse) = cel::Program::compile(expr) else {
        return Ok(());
    };
    let first = parse.errors.first();
    // cel reports 1-based lines and columns.
    let (line, column) = first.map_or((1, 0), |e| (e.pos.0.max(1), (e.pos.1 - 1).max(0)));
    let offset_in_expr = offset_of(expr, line, column);
    let span = value.span();
    // The expression's text in the file: after the opening quote(s) of the
    // string, when it is written without escapes (the usual case).
    let raw = errors.text.get(span.clone()).unwrap_or_default();
    let start = raw
        .find(expr)
        .map(|found| span.start + found + offset_in_expr)
        .unwrap_or(span.start + within.min(1));
    let reason = first.map_or_else(|| parse.to_string(), |e| e.msg.clone());
    Err(errors.at(
        start..start + 1,
        format!("invalid CEL expression `{expr}`: {reason}"),
    ))
}

/// The byte offset of a 1-based line and 0-based (character) column in `text`.
fn offset_of(text: &str, line: isize, column: isize) -> usize {
    let mut offset = 0;
    for (index, l) in text.split_inclusive('\n').enumerate() {
        if isize::try_from(index + 1).unwrap_or(isize::MAX) == line {
            let column = usize::try_from(column).unwrap_or(0);
            return offset
                + l.char_indices()
                    .nth(column)
                    .map_or(l.len(), |(byte, _)| byte);
        }
        offset += l.len();
    }
    0
}
