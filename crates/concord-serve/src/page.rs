//! The control room: server-rendered HTML for `/`, `/items/{key}`,
//! `/repos/{name}` and `/sources/{name}`, plus the small stylesheet and
//! script served under `/static/`.
//!
//! Everything here is a pure function of the JSON the API returns (the
//! `serde_json::Value`s of `/api/v1/control-room`, which is
//! `/api/v1/summary` plus the job queue's `jobs` and `schedule`; of
//! `/api/v1/items/{key}` with `/api/v1/items/{key}/explain`'s report as
//! `explanation`; and of `/api/v1/repos/{name}` and `/api/v1/sources/{name}`),
//! so the page and the API cannot disagree. The pages work without JavaScript;
//! the script only adds live refresh and client-side journal filters.
//!
//! Hooks for browser tests (stable across releases):
//! - `#items-total`, `#drifting-total` (with `data-count`);
//! - `#counts`: one cell per source and status,
//!   `<td data-count-source="hub" data-status="done" data-count="7">`; a status
//!   that a source does not report is rendered as `0` (`class="zero"`); the
//!   per-source total is `<td data-total-source="hub">` (deliberately not a
//!   `data-count-source` cell);
//! - `#drift`: `<tr class="drift-row" data-key=…>` with a `.reason` cell;
//! - `#findings-chart`: an inline SVG with one `<g class="snapshot"
//!   data-snapshot=…>` per snapshot (or `.empty`);
//! - `#runs`: `<tr class="run" data-run-id=… data-outcome=…>`;
//! - `#journal`: `<tr class="event" data-key data-source data-actor>`;
//! - item links: `<a class="item-link" href="/items/{percent-encoded key}">`;
//! - `#counts` header: `<th class="workflow" data-workflow=… colspan=…>` per
//!   workflow (`data-workflow=""`: other statuses) above the status columns;
//!   source names link `a.source-link` to `/sources/{name}`;
//! - `#not-in-hub-total` (with `data-count`), `#not-in-hub`:
//!   `<tr class="not-in-hub-row" data-key=…>` with a `.marker.not-in-hub`;
//! - `#repos`: `<tr class="repo-row" data-repo=…>`, `a.repo-link` to
//!   `/repos/{name}`;
//! - `#mirrors`: `.mirror-rule[data-rule]` with `.chip[data-state]` and
//!   `.chip[data-owner]` counts, `<tr class="mirror-doc" data-path=…>`;
//! - `#trains`: `<tr class="live-row" data-repo data-kind>`,
//!   `<details class="train" data-train-id data-status>` with
//!   `<li class="step" data-outcome>`;
//! - times: `<time datetime=… title=…>`; the script sets `data-relative`;
//! - item page: `#hub` (`#hub-missing` when the hub has no value), `#sources`,
//!   `#history` (`<tr class="history-row">` in the order given), `#explain`
//!   (`article.decision[data-rule]`, `tr.reading[data-source]`,
//!   `dd[data-field=reason|winner|base]`);
//! - repo and source pages: `body[data-page=repo|source]`, `#listing-total`,
//!   `#listing-not-in-hub`, `<tr class="listed-item" data-key data-source
//!   data-repo data-status-value data-in-hub>`.
//!
//! Missing or `null` fields render as "—".

use serde_json::{Map, Value};
use std::fmt::Write as _;

/// Where [`SCRIPT`] is served.
pub const SCRIPT_PATH: &str = "/static/control-room.js";
/// Where [`STYLE`] is served.
pub const STYLE_PATH: &str = "/static/control-room.css";
/// What the script polls when server-sent events are unavailable.
pub const SUMMARY_URL: &str = "/api/v1/summary";
/// The server-sent event stream the script listens to (`run-finished`).
pub const STREAM_URL: &str = "/api/v1/stream";

/// Rendered for a missing or `null` value.
const MISSING: &str = "—";

/// Statuses in workflow order; other statuses follow alphabetically.
const STATUS_ORDER: &[&str] = &["todo", "in_progress", "blocked", "done", "cancelled"];
/// Severities, most severe first; always shown in the chart legend.
const SEVERITY_ORDER: &[&str] = &["error", "warning", "info"];

// ---------------------------------------------------------------------------
// escaping and encoding

/// Escapes text for HTML element content and (double- or single-quoted)
/// attribute values: `&`, `<`, `>`, `"` and `'`.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes every byte of the UTF-8 form of `s` outside the RFC 3986
/// unreserved set (`A-Z a-z 0-9 - . _ ~`); `/` becomes `%2F`, so the result
/// is one path segment.
pub fn encode_component(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// The page of one item: `/items/{percent-encoded key}` (not HTML-escaped;
/// it contains only URL-safe characters).
pub fn item_href(key: &str) -> String {
    format!("/items/{}", encode_component(key))
}

// ---------------------------------------------------------------------------
// reading values

/// A scalar as plain (unescaped) text; `None` for missing, `null`, arrays
/// and objects.
fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Any value as escaped text: scalars as themselves, arrays and objects as
/// compact JSON, missing or `null` as "—".
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => MISSING.to_owned(),
        Some(v @ (Value::Array(_) | Value::Object(_))) => escape_html(&v.to_string()),
        Some(v) => escape_html(&scalar(Some(v)).unwrap_or_default()),
    }
}

/// An escaped attribute value (empty when missing).
fn attr(v: Option<&Value>) -> String {
    escape_html(&scalar(v).unwrap_or_default())
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.get(name)
}

fn array<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    v.get(name)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A non-negative count as `f64` (for charts); 0 when not a number.
fn count_f64(v: Option<&Value>) -> f64 {
    v.and_then(Value::as_f64)
        .filter(|n| n.is_finite() && *n > 0.0)
        .unwrap_or(0.0)
}

/// Keys of several objects: the `preferred` ones first (in that order, and
/// only if present unless `always`), then the rest alphabetically.
fn ordered_keys<'a>(
    maps: impl Iterator<Item = &'a Map<String, Value>>,
    preferred: &[&str],
    always: bool,
) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    for m in maps {
        seen.extend(m.keys().cloned());
    }
    let mut out: Vec<String> = preferred
        .iter()
        .filter(|p| always || seen.contains(**p))
        .map(|p| (*p).to_owned())
        .collect();
    out.extend(
        seen.into_iter()
            .filter(|k| !preferred.contains(&k.as_str())),
    );
    out
}

// ---------------------------------------------------------------------------
// small fragments

/// A link to an item's page, or "—" without a key.
fn item_link(key: Option<&Value>) -> String {
    match scalar(key) {
        Some(k) => format!(
            r#"<a class="item-link" href="{}">{}</a>"#,
            escape_html(&item_href(&k)),
            escape_html(&k)
        ),
        None => MISSING.to_owned(),
    }
}

/// A timestamp as `<time datetime=… title=…>`, or "—". Without the script
/// it reads as the exact UTC time; the script makes the text relative
/// ("3 minutes ago") and the title the exact local time.
fn time(v: Option<&Value>) -> String {
    match scalar(v) {
        Some(t) => {
            let exact = escape_html(&exact_utc(&t));
            let t = escape_html(&t);
            format!(r#"<time datetime="{t}" title="{exact}">{exact}</time>"#)
        }
        None => MISSING.to_owned(),
    }
}

/// `2026-11-24T10:00:00.123+01:00` → "2026-11-24 09:00:00 UTC"; text that
/// is not RFC 3339 as itself.
fn exact_utc(t: &str) -> String {
    match humantime::parse_rfc3339_weak(t) {
        Ok(at) => humantime::format_rfc3339_seconds(at)
            .to_string()
            .replace('T', " ")
            .replace('Z', " UTC"),
        Err(_) => t.to_owned(),
    }
}

/// A status value as a badge (colour by `data-status-value`), or "—".
fn status_badge(v: Option<&Value>) -> String {
    match scalar(v) {
        Some(s) => {
            let s = escape_html(&s);
            format!(r#"<span class="status" data-status-value="{s}">{s}</span>"#)
        }
        None => MISSING.to_owned(),
    }
}

fn empty(message: &str) -> String {
    format!(r#"<p class="empty">{message}</p>"#)
}

/// `1234` → "1.2 s"; `850` → "850 ms"; `125000` → "2 min 05 s".
fn duration(ms: Option<&Value>) -> String {
    let Some(ms) = ms
        .and_then(Value::as_f64)
        .filter(|n| n.is_finite() && *n >= 0.0)
    else {
        return MISSING.to_owned();
    };
    if ms < 1000.0 {
        return format!("{ms:.0} ms");
    }
    let secs = ms / 1000.0;
    if secs < 60.0 {
        return format!("{secs:.1} s");
    }
    // Whole seconds from here on; truncation of the fraction is intended.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let secs = secs.round() as u64;
    if secs < 3600 {
        format!("{} min {:02} s", secs / 60, secs % 60)
    } else {
        format!("{} h {:02} min", secs / 3600, (secs % 3600) / 60)
    }
}

/// Marks the newest run, so the poller can tell when a run started or
/// finished: `"{id}@{finished_at}"` (empty parts when missing). The script
/// computes the same string from `/api/v1/summary`.
fn run_marker(runs: &[Value]) -> String {
    let Some(run) = runs.first() else {
        return String::new();
    };
    let id = match field(run, "id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let finished = field(run, "finished_at")
        .and_then(Value::as_str)
        .unwrap_or_default();
    format!("{id}@{finished}")
}

/// The document around a page's `<main>`.
fn layout(title: &str, body_attrs: &str, header: &str, main: &str, with_script: bool) -> String {
    let script = if with_script {
        format!(r#"<script src="{SCRIPT_PATH}" defer></script>"#)
    } else {
        String::new()
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{title}</title>
<link rel="stylesheet" href="{STYLE_PATH}">
{script}
</head>
<body{body_attrs}>
<header class="top">
{header}
</header>
<main>
{main}
</main>
<footer class="bottom"><p>concord control room · <a href="/">overview</a></p></footer>
</body>
</html>
"#
    )
}

// ---------------------------------------------------------------------------
// the control room

/// The control room of one workspace, from the JSON of `/api/v1/control-room`.
pub fn control_room(summary: &Value, workspace: &str) -> String {
    let ws = escape_html(workspace);
    let runs = array(summary, "runs");
    let drift = array(summary, "drift");

    let drifting = match field(summary, "drifting") {
        Some(v @ Value::Number(_)) => v.clone(),
        Some(Value::Null) | None if field(summary, "drift").is_some() => Value::from(drift.len()),
        other => other.cloned().unwrap_or(Value::Null),
    };
    let header = format!(
        r##"<h1><span class="workspace">{ws}</span> <span class="subtitle">control room</span></h1>
<p class="totals"><span class="total">items <strong id="items-total" data-count="{items_attr}">{items}</strong></span> <span class="total">drifting <strong id="drifting-total" data-count="{drifting_attr}">{drifting_text}</strong></span> <span class="total">not yet in the hub <strong id="not-in-hub-total" data-count="{not_in_hub_attr}">{not_in_hub}</strong></span> <span id="live-status" class="live" aria-live="polite" hidden></span></p>
<nav class="sections"><a href="#counts">counts</a> <a href="#repos">repositories</a> <a href="#drift">drift</a> <a href="#not-in-hub">not in the hub</a> <a href="#findings-chart">findings</a> <a href="#runs">runs</a> <a href="#mirrors">mirrors</a> <a href="#trains">trains</a> <a href="#journal">journal</a> <a href="#schedule">schedule</a></nav>"##,
        items_attr = attr(field(summary, "items")),
        items = text(field(summary, "items")),
        drifting_attr = attr(Some(&drifting)),
        drifting_text = text(Some(&drifting)),
        not_in_hub_attr = attr(field(summary, "not_in_hub")),
        not_in_hub = text(field(summary, "not_in_hub")),
    );

    let main = [
        counts_section(array(summary, "by_source"), array(summary, "workflows")),
        repos_section(array(summary, "sources")),
        drift_section(drift, drifting.as_u64()),
        not_in_hub_section(
            array(summary, "not_in_hub_items"),
            field(summary, "not_in_hub").and_then(Value::as_u64),
        ),
        // The summary's series; a bare `findings` array (older servers) too.
        findings_section(match field(summary, "findings_series") {
            Some(Value::Array(series)) => series,
            _ => array(summary, "findings"),
        }),
        runs_section(runs),
        mirrors_section(array(summary, "mirrors"), field(summary, "last_mirror")),
        trains_section(array(summary, "trains"), array(summary, "live")),
        journal_section(array(summary, "events")),
        schedule_section(array(summary, "schedule")),
    ]
    .join("\n");

    let body_attrs = format!(
        r#" data-page="control-room" data-workspace="{ws}" data-run-marker="{}" data-summary-url="{SUMMARY_URL}" data-stream-url="{STREAM_URL}""#,
        escape_html(&run_marker(runs))
    );
    layout(
        &format!("{ws} · concord control room"),
        &body_attrs,
        &header,
        &main,
        true,
    )
}

/// Status columns under their workflow: `(workflow name, statuses)` in
/// configuration order, each status under the first workflow that has it
/// and only if some source counts it; the rest under `None` (other).
fn status_groups(statuses: &[String], workflows: &[Value]) -> Vec<(Option<String>, Vec<String>)> {
    let mut claimed: Vec<&str> = Vec::new();
    let mut groups = Vec::new();
    for wf in workflows {
        let wanted: Vec<String> = array(wf, "statuses")
            .iter()
            .filter_map(|v| scalar(Some(v)))
            .filter(|st| statuses.contains(st) && !claimed.contains(&st.as_str()))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        claimed.extend(
            statuses
                .iter()
                .filter(|st| wanted.contains(st))
                .map(String::as_str),
        );
        groups.push((scalar(field(wf, "name")), wanted));
    }
    let rest: Vec<String> = statuses
        .iter()
        .filter(|st| !claimed.contains(&st.as_str()))
        .cloned()
        .collect();
    if !rest.is_empty() {
        groups.push((None, rest));
    }
    groups
}

/// The two header rows of the counts table: workflows, then statuses.
fn counts_head(groups: &[(Option<String>, Vec<String>)], grouped: bool) -> String {
    let mut s = String::from("<thead>");
    if grouped {
        s.push_str(r#"<tr><th scope="col" rowspan="2">source</th>"#);
        for (name, statuses) in groups {
            let (attr_name, label) = match name {
                Some(n) => (escape_html(n), escape_html(n)),
                None => (String::new(), "other".to_owned()),
            };
            let _ = write!(
                s,
                r#"<th scope="colgroup" colspan="{}" class="workflow" data-workflow="{attr_name}">{label}</th>"#,
                statuses.len()
            );
        }
        s.push_str(r#"<th scope="col" rowspan="2" class="num">total</th></tr><tr>"#);
    } else {
        s.push_str(r#"<tr><th scope="col">source</th>"#);
    }
    for (i, (_, statuses)) in groups.iter().enumerate() {
        for (j, st) in statuses.iter().enumerate() {
            let st = escape_html(st);
            let first = if i > 0 && j == 0 {
                r#" class="group-start""#
            } else {
                ""
            };
            let _ = write!(
                s,
                r#"<th scope="col"{first} data-status-value="{st}">{st}</th>"#
            );
        }
    }
    if !grouped {
        s.push_str(r#"<th scope="col" class="num">total</th>"#);
    }
    s.push_str("</tr></thead>");
    s
}

/// A link to a source's or repo's page (`/sources/…`, `/repos/…`).
fn scope_link(kind: &str, name: Option<&Value>) -> String {
    match scalar(name) {
        Some(n) => format!(
            r#"<a class="{kind}-link" href="/{kind}s/{}">{}</a>"#,
            escape_html(&encode_component(&n)),
            escape_html(&n)
        ),
        None => MISSING.to_owned(),
    }
}

fn counts_section(by_source: &[Value], workflows: &[Value]) -> String {
    let mut s =
        String::from(r#"<section id="counts" class="panel"><h2>Items by status, per source</h2>"#);
    let maps: Vec<Option<&Map<String, Value>>> = by_source
        .iter()
        .map(|src| field(src, "by_status").and_then(Value::as_object))
        .collect();
    let statuses = ordered_keys(maps.iter().flatten().copied(), STATUS_ORDER, false);
    if by_source.is_empty() {
        s.push_str(&empty(
            "no sources reported yet — run <code>concord sync</code>",
        ));
        s.push_str("</section>");
        return s;
    }
    let groups = status_groups(&statuses, workflows);
    let grouped = !workflows.is_empty();
    s.push_str(r#"<div class="scroll"><table class="counts">"#);
    s.push_str(&counts_head(&groups, grouped));
    s.push_str("<tbody>");
    for (src, map) in by_source.iter().zip(&maps) {
        let name = attr(field(src, "source"));
        let label = if name == concord_workspace::HUB_SOURCE {
            text(field(src, "source"))
        } else {
            scope_link("source", field(src, "source"))
        };
        let _ = write!(
            s,
            r#"<tr data-source="{name}"><th scope="row">{label}</th>"#
        );
        let mut total: u64 = 0;
        let mut total_known = map.is_some();
        for (i, (_, group)) in groups.iter().enumerate() {
            for (j, st) in group.iter().enumerate() {
                let st_attr = escape_html(st);
                let start = if i > 0 && j == 0 { " group-start" } else { "" };
                match map.and_then(|m| m.get(st.as_str())) {
                    None => {
                        let _ = write!(
                            s,
                            r#"<td class="num zero{start}" data-count-source="{name}" data-status="{st_attr}" data-count="0">0</td>"#
                        );
                    }
                    Some(v) => match v.as_u64() {
                        Some(n) => {
                            total = total.saturating_add(n);
                            let _ = write!(
                                s,
                                r#"<td class="num{start}" data-count-source="{name}" data-status="{st_attr}" data-count="{n}">{n}</td>"#
                            );
                        }
                        None => {
                            total_known = false;
                            let _ = write!(
                                s,
                                r#"<td class="num{start}" data-count-source="{name}" data-status="{st_attr}">{}</td>"#,
                                text(Some(v))
                            );
                        }
                    },
                }
            }
        }
        if total_known {
            let _ = write!(
                s,
                r#"<td class="num total" data-total-source="{name}" data-count="{total}">{total}</td></tr>"#
            );
        } else {
            let _ = write!(
                s,
                r#"<td class="num total" data-total-source="{name}">{MISSING}</td></tr>"#
            );
        }
    }
    s.push_str("</tbody></table></div></section>");
    s
}

/// Per repo, its sources and how many items each holds, linking the
/// per-repo and per-source pages.
fn repos_section(sources: &[Value]) -> String {
    let mut s = String::from(
        r#"<section id="repos" class="panel"><h2>Repositories</h2><p class="hint">Items per repository and source, as scanned; follow a name for its items.</p>"#,
    );
    let mut repos: Vec<(String, Vec<&Value>)> = Vec::new();
    for src in sources {
        let repo = scalar(field(src, "repo")).unwrap_or_default();
        match repos.iter_mut().find(|(r, _)| *r == repo) {
            Some((_, list)) => list.push(src),
            None => repos.push((repo, vec![src])),
        }
    }
    if repos.is_empty() {
        s.push_str(&empty("no repository scanned yet"));
        s.push_str("</section>");
        return s;
    }
    let total_of = |src: &Value| -> u64 {
        field(src, "by_status")
            .and_then(Value::as_object)
            .map_or(0, |m| m.values().filter_map(Value::as_u64).sum())
    };
    s.push_str(r#"<table class="repos"><thead><tr><th scope="col">repository</th><th scope="col">sources</th><th scope="col" class="num">items</th></tr></thead><tbody>"#);
    for (repo, list) in &repos {
        let repo_value = Value::from(repo.as_str());
        let mut items = String::from(r#"<ul class="inline">"#);
        let mut total = 0;
        for src in list {
            let n = total_of(src);
            total += n;
            let _ = write!(
                items,
                r#"<li data-source="{}">{} <span class="count">{n}</span></li>"#,
                attr(field(src, "source")),
                scope_link("source", field(src, "source")),
            );
        }
        items.push_str("</ul>");
        let _ = write!(
            s,
            r#"<tr class="repo-row" data-repo="{}"><th scope="row">{}</th><td>{items}</td><td class="num" data-count="{total}">{total}</td></tr>"#,
            escape_html(repo),
            scope_link("repo", Some(&repo_value)),
        );
    }
    s.push_str("</tbody></table></section>");
    s
}

/// Items some source holds that the hub has not recorded yet.
fn not_in_hub_section(items: &[Value], total: Option<u64>) -> String {
    let shown = items.len() as u64;
    let total = total.unwrap_or(shown).max(shown);
    let mut s = format!(
        r#"<section id="not-in-hub" class="panel"><h2>Not yet in the hub <span class="count">{total}</span></h2><p class="hint">Items the sources hold that the hub has no value for yet; they are counted in the items total. A sync records them once a rule that includes the hub covers their source.</p>"#
    );
    if total > shown {
        let _ = write!(
            s,
            r#"<p class="hint" id="not-in-hub-truncated">showing the first {shown} of {total}</p>"#
        );
    }
    if items.is_empty() {
        s.push_str(&empty("every item is in the hub"));
        s.push_str("</section>");
        return s;
    }
    s.push_str(r#"<table class="not-in-hub"><thead><tr><th scope="col">item</th><th scope="col">sources</th><th scope="col">hub</th></tr></thead><tbody>"#);
    for item in items {
        let _ = write!(
            s,
            r#"<tr class="not-in-hub-row" data-key="{}"><td class="key">{}</td><td>{}</td><td>{NOT_IN_HUB_MARK}</td></tr>"#,
            attr(field(item, "key")),
            item_link(field(item, "key")),
            source_values(field(item, "values")),
        );
    }
    s.push_str("</tbody></table></section>");
    s
}

/// The marker of an item the hub has not recorded yet.
const NOT_IN_HUB_MARK: &str = r#"<span class="marker not-in-hub">not yet in the hub</span>"#;

fn drift_section(drift: &[Value], drifting: Option<u64>) -> String {
    let shown = drift.len() as u64;
    let total = drifting.unwrap_or(shown).max(shown);
    let mut s = format!(
        r#"<section id="drift" class="panel"><h2>Drift <span class="count">{total}</span></h2><p class="hint">Items whose sources disagree, with the reason the last sync gave.</p>"#
    );
    if total > shown {
        let _ = write!(
            s,
            r#"<p class="hint" id="drift-truncated">showing the first {shown} of {total}</p>"#
        );
    }
    if drift.is_empty() {
        s.push_str(&empty("no drift — all sources agree"));
        s.push_str("</section>");
        return s;
    }
    s.push_str(r#"<div class="scroll"><table class="drift"><thead><tr><th scope="col">item</th><th scope="col">hub</th><th scope="col">sources</th><th scope="col">reason</th></tr></thead><tbody>"#);
    for d in drift {
        let _ = write!(
            s,
            r#"<tr class="drift-row" data-key="{}"><td class="key">{}</td><td class="labelled" data-source="hub" data-label="hub">{}</td><td>{}</td><td class="reason">{}</td></tr>"#,
            attr(field(d, "key")),
            item_link(field(d, "key")),
            status_badge(field(d, "hub")),
            source_values(field(d, "values")),
            text(field(d, "reason")),
        );
    }
    s.push_str("</tbody></table></div></section>");
    s
}

/// `{"workplans": "todo", …}` (or `[{"source":…, "status":…}]`) as a list.
fn source_values(v: Option<&Value>) -> String {
    let pairs: Vec<(Option<String>, Option<&Value>)> = match v {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (Some(k.clone()), Some(v))).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|e| {
                (
                    scalar(field(e, "source")),
                    field(e, "status").or_else(|| field(e, "value")),
                )
            })
            .collect(),
        None | Some(Value::Null) => return MISSING.to_owned(),
        Some(other) => return text(Some(other)),
    };
    if pairs.is_empty() {
        return MISSING.to_owned();
    }
    let mut s = String::from(r#"<ul class="values">"#);
    for (src, val) in pairs {
        let (src_attr, src_text) = match &src {
            Some(name) => (escape_html(name), escape_html(name)),
            None => (String::new(), MISSING.to_owned()),
        };
        let _ = write!(
            s,
            r#"<li data-source="{src_attr}"><span class="source">{src_text}</span> {}</li>"#,
            status_badge(val)
        );
    }
    s.push_str("</ul>");
    s
}

// ---------------------------------------------------------------------------
// findings over time

const CHART_W: f64 = 720.0;
const CHART_H: f64 = 260.0;
const PAD_LEFT: f64 = 48.0;
const PAD_RIGHT: f64 = 12.0;
const PAD_TOP: f64 = 14.0;
const PAD_BOTTOM: f64 = 40.0;
/// At most this many date labels under the bars.
const MAX_X_LABELS: usize = 8;

fn severity_class(sev: &str) -> &'static str {
    match sev {
        "error" => "sev-error",
        "warning" => "sev-warning",
        "info" => "sev-info",
        _ => "sev-other",
    }
}

fn severity_fill(sev: &str) -> &'static str {
    match sev {
        "error" => "#d1242f",
        "warning" => "#bf8700",
        "info" => "#0969da",
        _ => "#8250df",
    }
}

/// A round axis maximum at or above `max`, and its tick step.
fn nice_scale(max: f64) -> (f64, f64) {
    if max <= 0.0 {
        return (1.0, 1.0);
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
        .max(1.0);
    ((max / step).ceil() * step, step)
}

/// The date part of an RFC 3339 timestamp (the whole string otherwise).
fn date_label(t: &str) -> &str {
    match t.get(..10) {
        Some(d) if d.as_bytes().get(4) == Some(&b'-') => d,
        _ => t,
    }
}

fn short_commit(c: &str) -> String {
    c.chars().take(12).collect()
}

fn findings_section(findings: &[Value]) -> String {
    let mut s = String::from(
        r#"<section id="findings-chart" class="panel"><h2>Findings by severity over time</h2>"#,
    );
    if findings.is_empty() {
        s.push_str(&empty(
            "no check snapshots yet — run <code>concord check --snapshot</code>",
        ));
        s.push_str("</section>");
        return s;
    }
    let maps: Vec<Option<&Map<String, Value>>> = findings
        .iter()
        .map(|f| field(f, "by_severity").and_then(Value::as_object))
        .collect();
    let severities = ordered_keys(maps.iter().flatten().copied(), SEVERITY_ORDER, true);

    if let Some(latest) = findings.last() {
        let mut parts = Vec::new();
        for sev in &severities {
            let v = field(latest, "by_severity").and_then(|m| m.get(sev.as_str()));
            parts.push(format!(
                r#"<span class="sev {}" data-severity="{}">{} {}</span>"#,
                severity_class(sev),
                escape_html(sev),
                escape_html(sev),
                text(v)
            ));
        }
        let commit = match scalar(field(latest, "commit")) {
            Some(c) => format!(
                r#" · commit <code title="{}">{}</code>"#,
                escape_html(&c),
                escape_html(&short_commit(&c))
            ),
            None => String::new(),
        };
        let _ = write!(
            s,
            r#"<p class="latest">latest: snapshot {} at {}{commit} — {}</p>"#,
            text(field(latest, "snapshot")),
            time(field(latest, "taken_at")),
            parts.join(" · ")
        );
    }

    s.push_str(&findings_svg(findings, &maps, &severities));

    // The same numbers as a table, for screen readers and copy-paste.
    s.push_str(r#"<details class="chart-data"><summary>snapshot data</summary><div class="scroll"><table><thead><tr><th scope="col">snapshot</th><th scope="col">taken at</th><th scope="col">commit</th>"#);
    for sev in &severities {
        let _ = write!(s, r#"<th scope="col">{}</th>"#, escape_html(sev));
    }
    s.push_str("</tr></thead><tbody>");
    for (f, map) in findings.iter().zip(&maps) {
        let _ = write!(
            s,
            r#"<tr data-snapshot="{}"><td>{}</td><td>{}</td><td><code>{}</code></td>"#,
            attr(field(f, "snapshot")),
            text(field(f, "snapshot")),
            time(field(f, "taken_at")),
            text(field(f, "commit")),
        );
        for sev in &severities {
            let _ = write!(
                s,
                r#"<td class="num" data-severity="{}">{}</td>"#,
                escape_html(sev),
                text(map.and_then(|m| m.get(sev.as_str())))
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div></details></section>");
    s
}

/// Stacked bars, one per snapshot (oldest left), severities bottom-up in
/// `severities` order.
fn findings_svg(
    findings: &[Value],
    maps: &[Option<&Map<String, Value>>],
    severities: &[String],
) -> String {
    let n = findings.len();
    let plot_w = CHART_W - PAD_LEFT - PAD_RIGHT;
    let plot_h = CHART_H - PAD_TOP - PAD_BOTTOM;
    let bottom = PAD_TOP + plot_h;
    let totals: Vec<f64> = maps
        .iter()
        .map(|m| {
            severities
                .iter()
                .map(|sev| count_f64(m.and_then(|m| m.get(sev.as_str()))))
                .sum()
        })
        .collect();
    let (top, step) = nice_scale(totals.iter().copied().fold(0.0, f64::max));
    let y = |v: f64| bottom - v / top * plot_h;
    #[allow(clippy::cast_precision_loss)]
    let slot = plot_w / n as f64;
    let bar_w = (slot * 0.7).clamp(1.0, 48.0);
    let label_every = n.div_ceil(MAX_X_LABELS).max(1);

    let mut s = format!(
        r#"<svg class="chart" viewBox="0 0 {CHART_W} {CHART_H}" width="{CHART_W}" height="{CHART_H}" role="img" aria-labelledby="findings-chart-title" xmlns="http://www.w3.org/2000/svg"><title id="findings-chart-title">Findings by severity over {n} snapshot{}</title>"#,
        if n == 1 { "" } else { "s" }
    );

    // y axis: grid lines and labels
    s.push_str(r#"<g class="axis y-axis">"#);
    let mut tick = 0.0;
    while tick <= top + step / 2.0 {
        let ty = y(tick);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{PAD_LEFT}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}" stroke="currentColor" stroke-opacity="0.15"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11" fill="currentColor">{tick:.0}</text>"#,
            PAD_LEFT + plot_w,
            PAD_LEFT - 6.0,
            ty + 4.0
        );
        tick += step;
    }
    let _ = write!(
        s,
        r#"<line class="baseline" x1="{PAD_LEFT}" y1="{bottom:.1}" x2="{:.1}" y2="{bottom:.1}" stroke="currentColor" stroke-opacity="0.5"/></g>"#,
        PAD_LEFT + plot_w
    );

    // bars
    s.push_str(r#"<g class="bars">"#);
    for (i, ((f, map), total)) in findings.iter().zip(maps).zip(&totals).enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let cx = PAD_LEFT + slot * (i as f64 + 0.5);
        let x = cx - bar_w / 2.0;
        let snapshot = scalar(field(f, "snapshot")).unwrap_or_else(|| MISSING.to_owned());
        let taken = scalar(field(f, "taken_at"));
        let mut tip = format!("snapshot {snapshot}");
        if let Some(t) = &taken {
            tip.push_str(" · ");
            tip.push_str(t);
        }
        if let Some(c) = scalar(field(f, "commit")) {
            tip.push_str(" · commit ");
            tip.push_str(&short_commit(&c));
        }
        for sev in severities {
            let v = map.and_then(|m| m.get(sev.as_str()));
            let _ = write!(
                tip,
                "\n{sev}: {}",
                scalar(v).unwrap_or_else(|| MISSING.to_owned())
            );
        }
        let _ = write!(
            s,
            r#"<g class="snapshot" data-snapshot="{}" data-taken-at="{}" data-total="{total}"><rect class="hit" x="{:.1}" y="{PAD_TOP:.1}" width="{:.1}" height="{plot_h:.1}" fill="transparent"><title>{}</title></rect>"#,
            escape_html(&snapshot),
            escape_html(taken.as_deref().unwrap_or_default()),
            cx - slot / 2.0,
            slot,
            escape_html(&tip),
        );
        let mut base = 0.0;
        for sev in severities {
            let v = count_f64(map.and_then(|m| m.get(sev.as_str())));
            if v <= 0.0 {
                continue;
            }
            let (y1, y0) = (y(base + v), y(base));
            let _ = write!(
                s,
                r#"<rect class="bar {}" data-severity="{}" data-value="{v}" x="{x:.1}" y="{y1:.1}" width="{bar_w:.1}" height="{:.1}" fill="{}"><title>{}</title></rect>"#,
                severity_class(sev),
                escape_html(sev),
                y0 - y1,
                severity_fill(sev),
                escape_html(&format!("{sev}: {v} (snapshot {snapshot})")),
            );
            base += v;
        }
        if i % label_every == 0 {
            let label = match &taken {
                Some(t) => date_label(t).to_owned(),
                None => format!("#{snapshot}"),
            };
            let _ = write!(
                s,
                r#"<text class="x-label" x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="currentColor">{}</text>"#,
                bottom + 16.0,
                escape_html(&label)
            );
        }
        s.push_str("</g>");
    }
    s.push_str("</g>");

    // legend
    s.push_str(r#"<g class="legend">"#);
    let mut lx = PAD_LEFT;
    for sev in severities {
        let _ = write!(
            s,
            r#"<rect class="{}" x="{lx:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="11" fill="currentColor">{}</text>"#,
            severity_class(sev),
            CHART_H - 14.0,
            severity_fill(sev),
            lx + 14.0,
            CHART_H - 5.0,
            escape_html(sev)
        );
        #[allow(clippy::cast_precision_loss)]
        let width = sev.chars().count() as f64;
        lx += 28.0 + width * 7.0;
    }
    s.push_str("</g></svg>");
    s
}

// ---------------------------------------------------------------------------
// runs, journal, schedule

fn runs_section(runs: &[Value]) -> String {
    let newest = runs
        .first()
        .map(|r| attr(field(r, "id")))
        .unwrap_or_default();
    let mut s = format!(
        r#"<section id="runs" class="panel" data-newest-run="{newest}"><h2>Recent sync runs</h2>"#
    );
    if runs.is_empty() {
        s.push_str(&empty("no sync runs yet — run <code>concord sync</code>"));
        s.push_str("</section>");
        return s;
    }
    s.push_str(r#"<div class="scroll"><table class="runs"><thead><tr><th scope="col">run</th><th scope="col">command</th><th scope="col">actor</th><th scope="col">started</th><th scope="col">finished</th><th scope="col">outcome</th><th scope="col" class="num">duration</th></tr></thead><tbody>"#);
    for r in runs {
        let finished = field(r, "finished_at").filter(|v| !v.is_null());
        let outcome = match scalar(field(r, "outcome")) {
            Some(o) => Some(o),
            None if finished.is_none() => Some("running".to_owned()),
            None => None,
        };
        let outcome_attr = escape_html(outcome.as_deref().unwrap_or_default());
        let outcome_html = match &outcome {
            Some(o) => format!(
                r#"<span class="outcome" data-outcome="{outcome_attr}">{}</span>"#,
                escape_html(o)
            ),
            None => MISSING.to_owned(),
        };
        let _ = write!(
            s,
            r#"<tr class="run" data-run-id="{}" data-outcome="{outcome_attr}"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{outcome_html}</td><td class="num" data-duration-ms="{}">{}</td></tr>"#,
            attr(field(r, "id")),
            text(field(r, "id")),
            text(field(r, "command")),
            text(field(r, "actor")),
            time(field(r, "started_at")),
            time(finished),
            attr(field(r, "duration_ms")),
            duration(field(r, "duration_ms")),
        );
    }
    s.push_str("</tbody></table></div></section>");
    s
}

/// Chips of `{name: count}`, e.g. a rule's copies by state.
fn chips(v: Option<&Value>, attr_name: &str) -> String {
    let Some(map) = v.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return MISSING.to_owned();
    };
    let mut s = String::from(r#"<ul class="chips">"#);
    for (name, n) in map {
        let name = escape_html(name);
        let _ = write!(
            s,
            r#"<li class="chip" {attr_name}="{name}">{name} <strong>{}</strong></li>"#,
            text(Some(n))
        );
    }
    s.push_str("</ul>");
    s
}

/// Mirror health: per rule, copies by state, owners, and the documents
/// needing attention (stale, edited, missing copies).
fn mirrors_section(mirrors: &[Value], last: Option<&Value>) -> String {
    let mut s = String::from(
        r#"<section id="mirrors" class="panel"><h2>Mirrors</h2><p class="hint">Owned documents and their copies in the other repositories, as they stand now.</p>"#,
    );
    if let Some(run) = last.filter(|v| !v.is_null()) {
        let _ = write!(
            s,
            r#"<p class="latest" id="last-mirror">last run: rule <code>{}</code> {} — wrote {}, reported {}, failed {}</p>"#,
            text(field(run, "rule")),
            time(field(run, "at")),
            text(field(run, "written")),
            text(field(run, "reported")),
            text(field(run, "failed")),
        );
    }
    if mirrors.is_empty() {
        s.push_str(&empty("no <code>[[mirror]]</code> rules in the workspace"));
        s.push_str("</section>");
        return s;
    }
    for rule in mirrors {
        let total = field(rule, "attention_total").and_then(Value::as_u64);
        let attention = array(rule, "attention");
        let _ = write!(
            s,
            r#"<div class="mirror-rule" data-rule="{}"><h3>rule <code>{}</code> · {} documents</h3><dl class="facts"><dt>copies</dt><dd>{}</dd><dt>owners</dt><dd>{}</dd></dl>"#,
            attr(field(rule, "rule")),
            text(field(rule, "rule")),
            text(field(rule, "documents")),
            chips(field(rule, "by_state"), "data-state"),
            chips(field(rule, "owners"), "data-owner"),
        );
        if attention.is_empty() {
            s.push_str(&empty("every mirror is in sync with its owner"));
        } else {
            let shown = attention.len() as u64;
            let total = total.unwrap_or(shown).max(shown);
            let _ = write!(
                s,
                r#"<p class="hint">{total} need attention{}</p><table class="mirror-docs"><thead><tr><th scope="col">document</th><th scope="col">owner</th><th scope="col">copies</th></tr></thead><tbody>"#,
                if total > shown {
                    format!(" (showing {shown})")
                } else {
                    String::new()
                }
            );
            for doc in attention {
                let mut copies = String::from(r#"<ul class="values">"#);
                if let Some(map) = field(doc, "copies").and_then(Value::as_object) {
                    for (repo, state) in map {
                        let _ = write!(
                            copies,
                            r#"<li data-repo="{}"><span class="source">{}</span> <span class="state" data-state="{}">{}</span></li>"#,
                            escape_html(repo),
                            escape_html(repo),
                            attr(Some(state)),
                            text(Some(state)),
                        );
                    }
                }
                for problem in array(doc, "problems") {
                    let _ = write!(
                        copies,
                        r#"<li class="problem">{}</li>"#,
                        text(Some(problem))
                    );
                }
                copies.push_str("</ul>");
                let _ = write!(
                    s,
                    r#"<tr class="mirror-doc" data-path="{}"><td class="key"><code>{}</code></td><td>{}</td><td>{copies}</td></tr>"#,
                    attr(field(doc, "path")),
                    text(field(doc, "path")),
                    text(field(doc, "owner")),
                );
            }
            s.push_str("</tbody></table>");
        }
        s.push_str("</div>");
    }
    s.push_str("</section>");
    s
}

/// Release trains: what is live per repo, then each train's status,
/// frozen commits and journaled steps.
fn trains_section(trains: &[Value], live: &[Value]) -> String {
    let mut s = String::from(r#"<section id="trains" class="panel"><h2>Release trains</h2>"#);
    if trains.is_empty() && live.is_empty() {
        s.push_str(&empty(
            "no release trains yet — freeze one with <code>concord ship prepare</code>",
        ));
        s.push_str("</section>");
        return s;
    }
    s.push_str(r#"<h3>Live</h3>"#);
    if live.is_empty() {
        s.push_str(&empty("nothing published or deployed by a train yet"));
    } else {
        s.push_str(r#"<table class="live-releases"><thead><tr><th scope="col">repo</th><th scope="col">live</th><th scope="col">train</th><th scope="col">since</th></tr></thead><tbody>"#);
        for l in live {
            let what = match scalar(field(l, "kind")).as_deref() {
                Some("deploy") => format!(
                    "deployed <code>{}</code>",
                    escape_html(&short_commit(&scalar(field(l, "what")).unwrap_or_default()))
                ),
                _ => format!("published {}", text(field(l, "what"))),
            };
            let _ = write!(
                s,
                r#"<tr class="live-row" data-repo="{}" data-kind="{}"><td>{}</td><td>{what}</td><td>{} #{}</td><td>{}</td></tr>"#,
                attr(field(l, "repo")),
                attr(field(l, "kind")),
                text(field(l, "repo")),
                text(field(l, "train")),
                text(field(l, "train_id")),
                time(field(l, "at")),
            );
        }
        s.push_str("</tbody></table>");
    }
    for train in trains {
        s.push_str(&train_block(train));
    }
    s.push_str("</section>");
    s
}

fn train_block(train: &Value) -> String {
    let status = attr(field(train, "status"));
    let mut s = format!(
        r#"<details class="train" data-train-id="{}" data-status="{status}"{}><summary><strong>{}</strong> #{} <span class="outcome" data-outcome="{status}">{}</span> · {} · {}</summary>"#,
        attr(field(train, "id")),
        if status == "shipping" { " open" } else { "" },
        text(field(train, "name")),
        text(field(train, "id")),
        text(field(train, "status")),
        text(field(train, "actor")),
        time(field(train, "created_at")),
    );
    if let Some(frozen) = field(train, "frozen").and_then(Value::as_object)
        && !frozen.is_empty()
    {
        s.push_str(r#"<ul class="values frozen">"#);
        for (repo, f) in frozen {
            let version = match scalar(field(f, "version")) {
                Some(v) => format!(" {}", escape_html(&v)),
                None => String::new(),
            };
            let commit = scalar(field(f, "commit")).unwrap_or_default();
            let _ = write!(
                s,
                r#"<li data-repo="{}"><span class="source">{}</span>{version} <code title="{}">{}</code></li>"#,
                escape_html(repo),
                escape_html(repo),
                escape_html(&commit),
                escape_html(&short_commit(&commit)),
            );
        }
        s.push_str("</ul>");
    }
    let steps = array(train, "steps");
    if steps.is_empty() {
        s.push_str(&empty("no steps journaled yet"));
    } else {
        s.push_str(r#"<ol class="steps">"#);
        for step in steps {
            let detail = match scalar(field(step, "detail")) {
                Some(d) => format!(r#" <span class="note">{}</span>"#, escape_html(&d)),
                None => String::new(),
            };
            let _ = write!(
                s,
                r#"<li class="step" data-outcome="{}"><span class="outcome" data-outcome="{}">{}</span> {} {}{detail}</li>"#,
                attr(field(step, "outcome")),
                attr(field(step, "outcome")),
                text(field(step, "outcome")),
                text(field(step, "step")),
                time(field(step, "at")),
            );
        }
        s.push_str("</ol>");
    }
    s.push_str("</details>");
    s
}

/// Distinct non-empty values of one field, sorted, as `<option>`s.
fn datalist(id: &str, rows: &[Value], name: &str) -> String {
    let values: std::collections::BTreeSet<String> = rows
        .iter()
        .filter_map(|r| scalar(field(r, name)))
        .filter(|v| !v.is_empty())
        .collect();
    let mut s = format!(r#"<datalist id="{id}">"#);
    for v in values {
        let _ = write!(s, r#"<option value="{}"></option>"#, escape_html(&v));
    }
    s.push_str("</datalist>");
    s
}

fn journal_section(events: &[Value]) -> String {
    let mut s = String::from(
        r#"<section id="journal" class="panel"><h2>Journal</h2><p class="hint">Every change and logged event across repositories, newest first.</p>"#,
    );
    if events.is_empty() {
        s.push_str(&empty("no journal entries yet"));
        s.push_str("</section>");
        return s;
    }
    // Filters need the script; without it they stay hidden and every row shows.
    let _ = write!(
        s,
        r#"<form id="journal-filters" class="filters" role="search" hidden><label>key <input type="search" id="filter-key" name="key" data-filter="key" autocomplete="off" list="journal-keys"></label> <label>source <input type="search" id="filter-source" name="source" data-filter="source" autocomplete="off" list="journal-sources"></label> <label>actor <input type="search" id="filter-actor" name="actor" data-filter="actor" autocomplete="off" list="journal-actors"></label> <button type="reset">clear</button> <output id="journal-shown" aria-live="polite"></output>{}{}{}</form>"#,
        datalist("journal-keys", events, "key"),
        datalist("journal-sources", events, "source"),
        datalist("journal-actors", events, "actor"),
    );
    s.push_str(r#"<div class="scroll"><table class="journal"><thead><tr><th scope="col">when</th><th scope="col">item</th><th scope="col">source</th><th scope="col">what</th><th scope="col">actor</th></tr></thead><tbody>"#);
    for e in events {
        let _ = write!(
            s,
            r#"<tr class="event" data-event-id="{}" data-key="{}" data-source="{}" data-actor="{}"><td>{}</td><td class="key">{}</td><td>{}</td><td class="what">{}</td><td>{}</td></tr>"#,
            attr(field(e, "id")),
            attr(field(e, "key")),
            attr(field(e, "source")),
            attr(field(e, "actor")),
            time(field(e, "at")),
            item_link(field(e, "key")),
            text(field(e, "source")),
            text(field(e, "what")),
            text(field(e, "actor")),
        );
    }
    s.push_str(r#"</tbody></table></div><p id="journal-no-match" class="empty" hidden>no journal entries match the filters</p></section>"#);
    s
}

fn schedule_section(schedule: &[Value]) -> String {
    let mut s = String::from(r#"<section id="schedule" class="panel"><h2>Schedule</h2>"#);
    if schedule.is_empty() {
        s.push_str(&empty("no scheduled jobs"));
        s.push_str("</section>");
        return s;
    }
    s.push_str(r#"<div class="scroll"><table class="schedule"><thead><tr><th scope="col">job</th><th scope="col">every</th><th scope="col">next run</th><th scope="col">last run</th></tr></thead><tbody>"#);
    for j in schedule {
        let last = match field(j, "last_run") {
            None | Some(Value::Null) => "never".to_owned(),
            v => time(v),
        };
        let _ = write!(
            s,
            r#"<tr class="job" data-job="{}"><td>{}</td><td>{}</td><td>{}</td><td>{last}</td></tr>"#,
            attr(field(j, "job")),
            text(field(j, "job")),
            text(field(j, "every")),
            time(field(j, "next_run")),
        );
    }
    s.push_str("</tbody></table></div></section>");
    s
}

// ---------------------------------------------------------------------------
// the item page

/// The page of one item, from the JSON of `/api/v1/items/{key}`.
pub fn item_page(item: &Value, workspace: &str) -> String {
    let ws = escape_html(workspace);
    let key = scalar(field(item, "key"));
    let key_html = key
        .as_deref()
        .map_or_else(|| MISSING.to_owned(), escape_html);
    let hub = field(item, "hub").filter(|v| !v.is_null());
    let sources = array(item, "sources");

    // Do the hub and the sources agree?
    let mut statuses: Vec<String> = Vec::new();
    for v in hub
        .and_then(|h| field(h, "status"))
        .into_iter()
        .chain(sources.iter().filter_map(|s| field(s, "status")))
    {
        if let Some(st) = scalar(Some(v))
            && !statuses.contains(&st)
        {
            statuses.push(st);
        }
    }
    let agreement = if statuses.len() > 1 {
        let list: Vec<String> = statuses.iter().map(|s| escape_html(s)).collect();
        format!(
            r#"<p id="item-drift" class="drift-note" data-drifting="true">sources disagree: {}</p>"#,
            list.join(" / ")
        )
    } else {
        String::new()
    };
    let header = format!(
        r#"<p class="crumbs"><a href="/">← <span class="workspace">{ws}</span> control room</a></p>
<h1 class="item-key">{key_html}</h1>
{agreement}<span id="live-status" class="live" aria-live="polite" hidden></span>"#
    );

    let mut main = String::new();

    // hub
    main.push_str(r#"<section id="hub" class="panel"><h2>Hub</h2>"#);
    match hub {
        None => {
            let _ = write!(
                main,
                r#"<p id="hub-missing" class="empty">{NOT_IN_HUB_MARK} — the sources hold this item; a sync records it once a rule that includes the hub covers it</p>"#
            );
        }
        Some(h) => {
            let _ = write!(
                main,
                r#"<dl class="facts"><dt>status</dt><dd data-field="status">{}</dd><dt>version</dt><dd data-field="value_version">{}</dd><dt>updated</dt><dd data-field="updated_at">{}</dd><dt>by</dt><dd data-field="updated_by">{}</dd></dl>"#,
                status_badge(field(h, "status")),
                text(field(h, "value_version")),
                time(field(h, "updated_at")),
                text(field(h, "updated_by")),
            );
        }
    }
    main.push_str("</section>\n");

    // sources
    main.push_str(r#"<section id="sources" class="panel"><h2>Sources</h2>"#);
    if sources.is_empty() {
        main.push_str(&empty("no source has reported this item"));
    } else {
        main.push_str(r#"<div class="scroll"><table class="sources"><thead><tr><th scope="col">source</th><th scope="col">status</th><th scope="col">as written</th><th scope="col">where</th><th scope="col">observed</th></tr></thead><tbody>"#);
        for src in sources {
            let raw = match scalar(field(src, "raw_status")) {
                Some(r) => format!("<code>{}</code>", escape_html(&r)),
                None => MISSING.to_owned(),
            };
            let _ = write!(
                main,
                r#"<tr class="source-row" data-source="{}" data-status-value="{}"><td>{}</td><td>{}</td><td>{raw}</td><td>{}</td><td>{}</td></tr>"#,
                attr(field(src, "source")),
                attr(field(src, "status")),
                text(field(src, "source")),
                status_badge(field(src, "status")),
                location(src),
                time(field(src, "observed_at")),
            );
        }
        main.push_str("</tbody></table></div>");
    }
    main.push_str("</section>\n");

    // history
    let history = array(item, "history");
    main.push_str(r#"<section id="history" class="panel"><h2>History</h2>"#);
    if history.is_empty() {
        main.push_str(&empty("no history yet"));
    } else {
        main.push_str(r#"<div class="scroll"><table class="history"><thead><tr><th scope="col">#</th><th scope="col">when</th><th scope="col">who</th><th scope="col">kind</th><th scope="col">what</th><th scope="col">why</th></tr></thead><tbody>"#);
        for h in history {
            let _ = write!(
                main,
                r#"<tr class="history-row" data-history-id="{}" data-kind="{}"><td class="num">{}</td><td>{}</td><td>{}</td><td>{}</td><td class="what">{}</td><td class="reason">{}</td></tr>"#,
                attr(field(h, "id")),
                attr(field(h, "kind")),
                text(field(h, "id")),
                time(field(h, "at")),
                text(field(h, "actor")),
                text(field(h, "kind")),
                history_what(h),
                history_why(h),
            );
        }
        main.push_str("</tbody></table></div>");
    }
    main.push_str("</section>\n");

    main.push_str(&explain_section(item));

    let title = format!("{key_html} · {ws} · concord");
    let body_attrs = format!(
        r#" data-page="item" data-workspace="{ws}" data-item-key="{}" data-summary-url="{SUMMARY_URL}" data-stream-url="{STREAM_URL}""#,
        key.as_deref().map(escape_html).unwrap_or_default()
    );
    layout(&title, &body_attrs, &header, &main, true)
}

/// The explanation as text: per rule, the decision and its reason, each
/// source's value and base, and what would be written or held. From
/// `explanation` (the report of `/api/v1/items/{key}/explain`) when the
/// page has it, else from the item view's `explain` (bases and the last
/// decision).
fn explain_section(item: &Value) -> String {
    let mut s = String::from(r#"<section id="explain" class="panel"><h2>Explanation</h2>"#);
    let full = field(item, "explanation").filter(|v| v.is_object());
    match (full, field(item, "explain")) {
        (Some(full), _) => s.push_str(&explanation_text(full)),
        (None, Some(Value::String(text))) => {
            let _ = write!(
                s,
                r#"<p id="explain-text" class="prose">{}</p>"#,
                escape_html(text)
            );
        }
        (None, Some(brief @ Value::Object(_))) => s.push_str(&brief_explanation(brief)),
        _ => s.push_str(&empty("no explanation available")),
    }
    s.push_str("</section>");
    s
}

/// A value of the engine's (`{"status": …, "rank": …}`) as a badge.
fn engine_value(v: Option<&Value>) -> String {
    match v {
        Some(obj @ Value::Object(_)) => status_badge(field(obj, "status")),
        other => status_badge(other),
    }
}

/// `Reason` codes as words: `AHEAD_WINS` → "ahead wins".
fn reason_words(v: Option<&Value>) -> String {
    match scalar(v) {
        Some(code) => format!(
            r#"<span class="reason-code" title="{}">{}</span>"#,
            escape_html(&code),
            escape_html(&code.to_ascii_lowercase().replace('_', " "))
        ),
        None => MISSING.to_owned(),
    }
}

fn explanation_text(full: &Value) -> String {
    let decisions = array(full, "decisions");
    let bases = array(full, "bases");
    let readings = array(full, "readings");
    let mut s = String::from(r#"<div id="explain-text" class="prose">"#);
    if decisions.is_empty() {
        s.push_str(&empty("no sync rule covers this item"));
    }
    for d in decisions {
        let rule = scalar(field(d, "rule")).unwrap_or_default();
        let of_rule = |b: &&Value| scalar(field(b, "rule")).as_deref() == Some(rule.as_str());
        let base = bases
            .iter()
            .filter(of_rule)
            .find(|b| scalar(field(b, "field")).as_deref() == Some("status"))
            .or_else(|| bases.iter().find(of_rule));
        let base_text = match base {
            Some(b) => format!(
                "{} (agreed {})",
                status_badge(field(b, "value")),
                time(field(b, "agreed_at"))
            ),
            None => "none yet: the sources have never agreed under this rule".to_owned(),
        };
        let _ = write!(
            s,
            r#"<article class="decision" data-rule="{}"><h3>Rule <code>{}</code></h3><p class="decision-line">{}</p><dl class="facts"><dt>decision</dt><dd data-field="reason">{}</dd><dt>agreed value</dt><dd data-field="winner">{}</dd><dt>base</dt><dd data-field="base">{base_text}</dd></dl>"#,
            escape_html(&rule),
            escape_html(&rule),
            text(field(d, "explanation")),
            reason_words(field(d, "reason")),
            engine_value(field(d, "winner")),
        );
        let changes = array(d, "changes");
        let holds = array(d, "holds");
        // Only the rule's own sources: those it found agreeing, would
        // write or holds. A decision naming none (undecided) shows all.
        let named: Vec<String> = array(d, "agreeing")
            .iter()
            .filter_map(|a| scalar(Some(a)))
            .chain(
                changes
                    .iter()
                    .chain(holds)
                    .filter_map(|c| scalar(field(c, "source"))),
            )
            .collect();
        let of_rule: Vec<Value> = readings
            .iter()
            .filter(|r| {
                named.is_empty()
                    || scalar(field(r, "source")).is_some_and(|name| named.contains(&name))
            })
            .cloned()
            .collect();
        if of_rule.is_empty() && !readings.is_empty() {
            s.push_str(&empty("under this rule only the hub holds the item"));
        } else {
            s.push_str(&readings_table(&of_rule, &rule));
        }
        if !changes.is_empty() || !holds.is_empty() {
            s.push_str(r#"<ul class="consequences">"#);
            for c in changes {
                let _ = write!(
                    s,
                    r#"<li class="change" data-source="{}">write {} to <strong>{}</strong> (was {}), from {} — {}</li>"#,
                    attr(field(c, "source")),
                    engine_value(field(c, "to")),
                    text(field(c, "source")),
                    engine_value(field(c, "from")),
                    text(field(c, "origin")),
                    reason_words(field(c, "reason")),
                );
            }
            for h in holds {
                let _ = write!(
                    s,
                    r#"<li class="hold" data-source="{}"><strong>{}</strong> is left alone — {}: {}</li>"#,
                    attr(field(h, "source")),
                    text(field(h, "source")),
                    reason_words(field(h, "reason")),
                    text(field(h, "detail")),
                );
            }
            s.push_str("</ul>");
        }
        s.push_str("</article>");
    }
    s.push_str("</div>");
    s
}

/// Each source's reading and the base it last agreed on under `rule`.
fn readings_table(readings: &[Value], rule: &str) -> String {
    if readings.is_empty() {
        return empty("no source holds the item");
    }
    let mut s = String::from(
        r#"<table class="readings"><thead><tr><th scope="col">source</th><th scope="col">value</th><th scope="col">its base</th><th scope="col">where</th></tr></thead><tbody>"#,
    );
    for r in readings {
        let own = field(r, "own_bases").and_then(|b| b.get(rule));
        let blocked = match scalar(field(r, "blocked")) {
            Some(b) => format!(
                r#" <span class="note">not written now: {}</span>"#,
                escape_html(&b)
            ),
            None => String::new(),
        };
        let _ = write!(
            s,
            r#"<tr class="reading" data-source="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}{blocked}</td></tr>"#,
            attr(field(r, "source")),
            text(field(r, "source")),
            status_badge(field(r, "status")),
            match own {
                Some(Value::Null) | None => "never agreed".to_owned(),
                v => status_badge(v),
            },
            location(r),
        );
    }
    s.push_str("</tbody></table>");
    s
}

/// The item view's own `explain`: the bases and the last decision.
fn brief_explanation(brief: &Value) -> String {
    let mut s = String::from(r#"<div id="explain-text" class="prose">"#);
    match field(brief, "last_decision").filter(|v| !v.is_null()) {
        Some(d) => {
            let _ = write!(
                s,
                r#"<p class="decision-line">Last decision {}: {} in {}, by {} — {}</p>"#,
                time(field(d, "at")),
                status_badge(field(d, "to")),
                text(field(d, "target")),
                text(field(d, "actor")),
                text(field(d, "reason")),
            );
        }
        None => s.push_str(&empty("no status decision journaled yet")),
    }
    for b in array(brief, "bases") {
        let _ = write!(
            s,
            r#"<p class="base" data-rule="{}">Under rule <code>{}</code> the sources last agreed on {} for <code>{}</code> {}.</p>"#,
            attr(field(b, "rule")),
            text(field(b, "rule")),
            status_badge(field(b, "value")),
            text(field(b, "field")),
            time(field(b, "agreed_at")),
        );
    }
    if let Some(full) = scalar(field(brief, "full")) {
        let _ = write!(
            s,
            r#"<p class="hint">The full report as JSON: <a href="{}">{}</a></p>"#,
            escape_html(&full),
            escape_html(&full)
        );
    }
    s.push_str("</div>");
    s
}

/// `repo:path:line`, with whatever parts are known.
fn location(src: &Value) -> String {
    let repo = scalar(field(src, "repo"));
    let path = scalar(field(src, "path"));
    let line = scalar(field(src, "line"));
    let mut s = String::new();
    if let Some(r) = &repo {
        s.push_str(r);
    }
    if let Some(p) = &path {
        if !s.is_empty() {
            s.push(':');
        }
        s.push_str(p);
    }
    if let (Some(l), false) = (&line, s.is_empty()) {
        s.push(':');
        s.push_str(l);
    }
    if s.is_empty() {
        MISSING.to_owned()
    } else {
        format!("<code>{}</code>", escape_html(&s))
    }
}

/// "status: todo → done in workplans", or the event type for events.
fn history_what(h: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(t) = scalar(field(h, "event_type")) {
        parts.push(format!(
            r#"<span class="event-type">{}</span>"#,
            escape_html(&t)
        ));
    }
    let has_change = ["field", "from", "to"]
        .iter()
        .any(|f| field(h, f).is_some_and(|v| !v.is_null()));
    if has_change {
        let name = match scalar(field(h, "field")) {
            Some(f) => format!("<code>{}</code>: ", escape_html(&f)),
            None => String::new(),
        };
        parts.push(format!(
            r#"{name}<span class="from">{}</span> → <span class="to">{}</span>"#,
            status_badge(field(h, "from")),
            status_badge(field(h, "to")),
        ));
    }
    if let Some(t) = scalar(field(h, "target")) {
        parts.push(format!(
            r#"<span class="target">in {}</span>"#,
            escape_html(&t)
        ));
    }
    if parts.is_empty() {
        MISSING.to_owned()
    } else {
        parts.join(" ")
    }
}

/// The reason, then any note.
fn history_why(h: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(r) = scalar(field(h, "reason")) {
        parts.push(escape_html(&r));
    }
    if let Some(n) = scalar(field(h, "note")) {
        parts.push(format!(r#"<span class="note">{}</span>"#, escape_html(&n)));
    }
    if parts.is_empty() {
        MISSING.to_owned()
    } else {
        parts.join(" ")
    }
}

// ---------------------------------------------------------------------------
// per-repo and per-source pages

/// The items of one repo or source, from the JSON of
/// `/api/v1/repos/{name}` or `/api/v1/sources/{name}`.
pub fn listing_page(listing: &Value, workspace: &str) -> String {
    let ws = escape_html(workspace);
    let kind = match scalar(field(listing, "kind")).as_deref() {
        Some("source") => "source",
        _ => "repo",
    };
    let other = if kind == "repo" { "source" } else { "repo" };
    let name = scalar(field(listing, "name")).unwrap_or_default();
    let name_html = escape_html(&name);
    let items = array(listing, "items");
    let mut covers: Vec<String> = array(listing, "covers")
        .iter()
        .map(|c| scope_link(other, Some(c)))
        .collect();
    if covers.is_empty() {
        covers.push(MISSING.to_owned());
    }
    let header = format!(
        r#"<p class="crumbs"><a href="/">← <span class="workspace">{ws}</span> control room</a></p>
<h1 class="scope-name"><span class="subtitle">{kind}</span> {name_html}</h1>
<p class="totals"><span class="total">items <strong id="listing-total" data-count="{n}">{n}</strong></span> <span class="total">not yet in the hub <strong id="listing-not-in-hub" data-count="{nih_attr}">{nih}</strong></span> <span class="total">{other}s: {}</span></p>"#,
        covers.join(", "),
        n = items.len(),
        nih_attr = attr(field(listing, "not_in_hub")),
        nih = text(field(listing, "not_in_hub")),
    );
    let mut main = String::from(r#"<section id="listing-counts" class="panel"><h2>By status</h2>"#);
    main.push_str(&chips(field(listing, "by_status"), "data-status"));
    main.push_str("</section>\n");
    main.push_str(r#"<section id="listing" class="panel"><h2>Items</h2>"#);
    if items.is_empty() {
        main.push_str(&empty("no items"));
    } else {
        let _ = write!(
            main,
            r#"<table class="listing"><thead><tr><th scope="col">item</th><th scope="col">{other}</th><th scope="col">status</th><th scope="col">hub</th><th scope="col">where</th></tr></thead><tbody>"#
        );
        for item in items {
            let in_hub = field(item, "in_hub")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let hub = if in_hub {
                status_badge(field(item, "hub"))
            } else {
                NOT_IN_HUB_MARK.to_owned()
            };
            let raw = match scalar(field(item, "raw")) {
                Some(r) => format!(
                    r#" <code class="raw" title="as written">{}</code>"#,
                    escape_html(&r)
                ),
                None => String::new(),
            };
            let _ = write!(
                main,
                r#"<tr class="listed-item" data-key="{}" data-source="{}" data-repo="{}" data-status-value="{}" data-in-hub="{in_hub}"><td class="key">{}</td><td>{}</td><td>{}{raw}</td><td class="labelled" data-label="hub">{hub}</td><td>{}</td></tr>"#,
                attr(field(item, "key")),
                attr(field(item, "source")),
                attr(field(item, "repo")),
                attr(field(item, "status")),
                item_link(field(item, "key")),
                scope_link(other, field(item, other)),
                status_badge(field(item, "status")),
                location(item),
            );
        }
        main.push_str("</tbody></table>");
    }
    main.push_str("</section>");
    let body_attrs = format!(
        r#" data-page="{kind}" data-workspace="{ws}" data-scope-name="{name_html}" data-summary-url="{SUMMARY_URL}" data-stream-url="{STREAM_URL}""#
    );
    layout(
        &format!("{kind} {name_html} · {ws} · concord"),
        &body_attrs,
        &header,
        &main,
        true,
    )
}

// ---------------------------------------------------------------------------
// error pages

/// A 404 page; `what` names what was not found (an item key, a path).
pub fn not_found_page(what: &str) -> String {
    let what = escape_html(what);
    let main = format!(
        r#"<section id="not-found" class="panel"><h2>Not found</h2><p>Nothing here for <code>{what}</code>.</p><p><a href="/">Back to the control room</a></p></section>"#
    );
    layout(
        "not found · concord",
        r#" data-page="not-found""#,
        "<h1>concord</h1>",
        &main,
        false,
    )
}

/// Shown instead of a page when reading needs a token the request lacked.
pub fn login_hint_page() -> String {
    login_page(None)
}

/// The sign-in page: a form that trades a token for a cookie (reads only),
/// with `problem` said above it when the last try failed.
pub fn login_page(problem: Option<&str>) -> String {
    let problem = problem.map_or_else(String::new, |p| {
        format!(
            r#"<p id="login-problem" class="problem">{}</p>"#,
            escape_html(p)
        )
    });
    let main = format!(
        r#"<section id="login-hint" class="panel"><h2>A token is needed</h2>
<p>This server only answers requests that carry an API token.</p>
{problem}<form id="login" method="post" action="/login">
<label for="login-token">API token</label>
<input id="login-token" name="token" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p>Signing in keeps the token in a cookie this server only accepts for reading (<code>HttpOnly</code>, <code>SameSite=Strict</code>); writes always need the header. Tokens are <strong>not</strong> accepted in the address: <code>?token=…</code> ends up in browser history, server logs and <code>Referer</code> headers.</p>
<p>Otherwise:</p>
<ul>
<li>send the token in a header, <code>Authorization: Bearer &lt;token&gt;</code> — for example <code>curl -H &quot;Authorization: Bearer $CONCORD_TOKEN&quot; https://…/api/v1/summary</code>; or</li>
<li>run the server with <code>concord serve --public-read</code> so that anyone who can reach it may read the control room and the API without a token.</li>
</ul></section>"#
    );
    layout(
        "token needed · concord",
        r#" data-page="login-hint""#,
        "<h1>concord</h1>",
        &main,
        false,
    )
}

// ---------------------------------------------------------------------------
// static assets

/// The progressive script served at [`SCRIPT_PATH`]: live refresh (server-sent
/// events, falling back to polling the summary every 10 s) and client-side
/// journal filters. The pages are complete without it.
pub const SCRIPT: &str = r#"// concord control room: live refresh and journal filters.
// No framework and no build step; the page is complete without this file.
(function () {
  "use strict";
  var body = document.body;
  if (!body) return;

  var SUMMARY_URL = body.getAttribute("data-summary-url") || "/api/v1/summary";
  var STREAM_URL = body.getAttribute("data-stream-url") || "/api/v1/stream";
  var POLL_MS = 10000;
  var FILTER_STORE = "concord.journal-filters";

  // --- timestamps: relative text, the exact local time on hover ----------
  // Without this the page shows the exact UTC time; see page.rs `time`.
  var RELATIVE_MS = 30000;
  var UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
               ["hour", 3600], ["minute", 60], ["second", 1]];
  var relative = (typeof Intl === "object" && Intl.RelativeTimeFormat)
    ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
  function ago(date, now) {
    var secs = Math.round((date.getTime() - now) / 1000);
    if (Math.abs(secs) < 10) return "just now";
    for (var u = 0; u < UNITS.length; u++) {
      if (Math.abs(secs) >= UNITS[u][1] || UNITS[u][1] === 1) {
        var n = Math.round(secs / UNITS[u][1]);
        if (relative) return relative.format(n, UNITS[u][0]);
        var abs = Math.abs(n) + " " + UNITS[u][0] + (Math.abs(n) === 1 ? "" : "s");
        return n < 0 ? abs + " ago" : "in " + abs;
      }
    }
    return date.toLocaleString();
  }
  function refreshTimes() {
    var times = document.querySelectorAll("time[datetime]");
    var now = Date.now();
    for (var t = 0; t < times.length; t++) {
      var d = new Date(times[t].getAttribute("datetime"));
      if (isNaN(d.getTime())) continue;
      times[t].title = d.toLocaleString(undefined, { dateStyle: "full", timeStyle: "long" });
      times[t].textContent = ago(d, now);
      times[t].setAttribute("data-relative", "true");
    }
  }
  refreshTimes();
  window.setInterval(refreshTimes, RELATIVE_MS);

  // --- journal filters ----------------------------------------------------
  function setupFilters() {
    var form = document.getElementById("journal-filters");
    var journal = document.getElementById("journal");
    if (!form || !journal) return;
    var rows = journal.querySelectorAll("tbody tr[data-key]");
    var inputs = form.querySelectorAll("input[data-filter]");
    var shown = document.getElementById("journal-shown");
    var noMatch = document.getElementById("journal-no-match");

    function current() {
      var f = {};
      for (var i = 0; i < inputs.length; i++) {
        f[inputs[i].getAttribute("data-filter")] = inputs[i].value;
      }
      return f;
    }
    function save(f) {
      try { window.sessionStorage.setItem(FILTER_STORE, JSON.stringify(f)); } catch (e) { /* storage off */ }
    }
    function restore() {
      var f = null;
      try { f = JSON.parse(window.sessionStorage.getItem(FILTER_STORE) || "null"); } catch (e) { f = null; }
      if (!f || typeof f !== "object") return;
      for (var i = 0; i < inputs.length; i++) {
        var v = f[inputs[i].getAttribute("data-filter")];
        if (typeof v === "string") inputs[i].value = v;
      }
    }
    function apply() {
      var f = current();
      var n = 0;
      for (var i = 0; i < rows.length; i++) {
        var row = rows[i];
        var ok = true;
        for (var name in f) {
          if (!Object.prototype.hasOwnProperty.call(f, name)) continue;
          var want = f[name].trim().toLowerCase();
          if (!want) continue;
          var have = (row.getAttribute("data-" + name) || "").toLowerCase();
          if (have.indexOf(want) === -1) { ok = false; break; }
        }
        row.hidden = !ok;
        if (ok) n++;
      }
      if (shown) {
        shown.textContent = n === rows.length
          ? rows.length + (rows.length === 1 ? " entry" : " entries")
          : n + " of " + rows.length + " shown";
      }
      if (noMatch) noMatch.hidden = n !== 0;
      save(f);
    }

    restore();
    form.addEventListener("input", apply);
    form.addEventListener("submit", function (e) { e.preventDefault(); apply(); });
    form.addEventListener("reset", function () { window.setTimeout(apply, 0); });
    form.hidden = false;
    apply();
  }
  setupFilters();

  // --- live refresh ---------------------------------------------------------
  var live = document.getElementById("live-status");
  function setStatus(state, label) {
    if (!live) return;
    live.hidden = false;
    live.setAttribute("data-state", state);
    live.textContent = label;
  }

  var reloadPending = false;
  function reload() {
    if (document.hidden) { reloadPending = true; return; }
    window.location.reload();
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && reloadPending) { reloadPending = false; window.location.reload(); }
  });

  // The newest run as "{id}@{finished_at}", exactly as the server renders
  // data-run-marker: a change means a run started or finished.
  function markerOf(summary) {
    var runs = summary && summary.runs;
    var run = runs && runs.length ? runs[0] : null;
    if (!run || typeof run !== "object") return "";
    var id = typeof run.id === "string" ? run.id : (typeof run.id === "number" ? String(run.id) : "");
    var finished = typeof run.finished_at === "string" ? run.finished_at : "";
    return id + "@" + finished;
  }
  var known = body.hasAttribute("data-run-marker") ? body.getAttribute("data-run-marker") : null;

  var pollTimer = null;
  function poll() {
    if (!window.fetch) return;
    window.fetch(SUMMARY_URL, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (summary) {
        var m = markerOf(summary);
        if (known === null) {
          known = m;
        } else if (m !== known) {
          known = m;
          reload();
          return;
        }
        if (pollTimer) setStatus("polling", "polling every " + POLL_MS / 1000 + " s");
      })
      .catch(function () { setStatus("offline", "offline, retrying"); });
  }
  function startPolling() {
    if (pollTimer) return;
    pollTimer = window.setInterval(poll, POLL_MS);
    setStatus("polling", "polling every " + POLL_MS / 1000 + " s");
    poll();
  }
  function stopPolling() {
    if (!pollTimer) return;
    window.clearInterval(pollTimer);
    pollTimer = null;
  }

  function connect() {
    if (typeof window.EventSource !== "function") { startPolling(); return; }
    var es;
    try { es = new window.EventSource(STREAM_URL); } catch (e) { startPolling(); return; }
    var hadError = false;
    es.addEventListener("run-finished", function () { reload(); });
    // A plain "message" carrying {"type": "run-finished"} counts too.
    es.onmessage = function (e) {
      var data = null;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      if (data && (data.type === "run-finished" || data.event === "run-finished")) reload();
    };
    es.onopen = function () {
      stopPolling();
      setStatus("live", "live");
      // A run may have finished while the stream was down.
      if (hadError) { hadError = false; poll(); }
    };
    es.onerror = function () {
      hadError = true;
      // CLOSED: the browser gives up (no stream, 401, 404...); otherwise it
      // reconnects on its own. Poll in the meantime either way.
      if (es.readyState === 2) es.close();
      startPolling();
    };
  }
  connect();
})();
"#;

/// The stylesheet served at [`STYLE_PATH`]; light and dark.
pub const STYLE: &str = r#"/* concord control room */
:root {
  color-scheme: light dark;
  --bg: #f6f8fa;
  --panel: #ffffff;
  --fg: #1f2328;
  --muted: #59636e;
  --border: #d1d9e0;
  --accent: #0969da;
  --ok: #1a7f37;
  --warn: #9a6700;
  --bad: #d1242f;
  --info: #0969da;
  --other: #8250df;
  --chip: #eff2f5;
  --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117;
    --panel: #151b23;
    --fg: #e6edf3;
    --muted: #9198a1;
    --border: #3d444d;
    --accent: #4493f8;
    --ok: #3fb950;
    --warn: #d29922;
    --bad: #f85149;
    --info: #4493f8;
    --other: #ab7df8;
    --chip: #262c36;
  }
}
[hidden] { display: none !important; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0;
  background: var(--bg);
  color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
a { color: var(--accent); text-decoration: none; }
a:hover, a:focus-visible { text-decoration: underline; }
code, pre, time { font-family: var(--mono); font-size: 0.9em; }
header.top, main, footer.bottom { max-width: 80rem; margin: 0 auto; padding: 0 1rem; }
header.top { padding-top: 1rem; }
h1 { font-size: 1.6rem; margin: 0.25rem 0; overflow-wrap: anywhere; }
h1 .subtitle { color: var(--muted); font-weight: 400; }
h2 { font-size: 1.1rem; margin: 0 0 0.5rem; }
h2 .count { color: var(--muted); font-weight: 400; }
.totals { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; margin: 0.25rem 0; }
.totals strong { font-size: 1.2rem; }
nav.sections { display: flex; flex-wrap: wrap; gap: 0.75rem; margin: 0.5rem 0 1rem; }
.crumbs { margin: 0; }
.live { font-size: 0.8rem; padding: 0.1rem 0.5rem; border-radius: 999px; background: var(--chip); color: var(--muted); }
.live::before { content: "\25CF\00A0"; }
.live[data-state="live"]::before { color: var(--ok); }
.live[data-state="polling"]::before { color: var(--warn); }
.live[data-state="offline"]::before { color: var(--bad); }
main { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 34rem), 1fr)); }
.panel {
  background: var(--panel);
  border: 1px solid var(--border);
  border-radius: 8px;
  padding: 1rem;
  min-width: 0;
}
#counts, #drift, #findings-chart, #runs, #journal, #history, #explain, #listing { grid-column: 1 / -1; }
.hint, .empty, .latest { color: var(--muted); margin: 0 0 0.5rem; }
.empty { font-style: italic; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.3rem 0.6rem; border-bottom: 1px solid var(--border); vertical-align: top; }
thead th { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.03em; color: var(--muted); font-weight: 600; }
tbody tr:hover { background: var(--chip); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.zero { color: var(--muted); }
td.total { font-weight: 600; }
td.key, td.what, td.reason { overflow-wrap: anywhere; }
ul.values { list-style: none; margin: 0; padding: 0; }
ul.values .source { color: var(--muted); }
.status, .outcome {
  display: inline-block;
  padding: 0 0.45rem;
  border-radius: 999px;
  background: var(--chip);
  font-size: 0.85em;
  white-space: nowrap;
}
.status[data-status-value="done"] { color: var(--ok); }
.status[data-status-value="in_progress"] { color: var(--info); }
.status[data-status-value="blocked"] { color: var(--warn); }
.status[data-status-value="cancelled"] { color: var(--muted); text-decoration: line-through; }
.outcome[data-outcome="clean"] { color: var(--ok); }
.outcome[data-outcome="drift"] { color: var(--warn); }
.outcome[data-outcome="failed"] { color: var(--bad); font-weight: 600; }
.outcome[data-outcome="running"] { color: var(--info); }
.drift-note { color: var(--warn); font-weight: 600; margin: 0.25rem 0; }
.sev { white-space: nowrap; }
.sev.sev-error { color: var(--bad); }
.sev.sev-warning { color: var(--warn); }
.sev.sev-info { color: var(--info); }
svg.chart { display: block; width: 100%; max-width: 60rem; height: auto; color: var(--fg); }
svg.chart .sev-error { fill: var(--bad); }
svg.chart .sev-warning { fill: var(--warn); }
svg.chart .sev-info { fill: var(--info); }
svg.chart .sev-other { fill: var(--other); }
svg.chart .snapshot:hover .hit { fill: var(--chip); }
.chart-data { margin-top: 0.5rem; }
.chart-data summary { cursor: pointer; color: var(--muted); }
.filters { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: center; margin-bottom: 0.5rem; }
.filters input {
  font: inherit;
  padding: 0.2rem 0.4rem;
  border: 1px solid var(--border);
  border-radius: 6px;
  background: var(--bg);
  color: var(--fg);
}
.filters button {
  font: inherit;
  padding: 0.2rem 0.6rem;
  border: 1px solid var(--border);
  border-radius: 6px;
  background: var(--chip);
  color: var(--fg);
  cursor: pointer;
}
#journal-shown { color: var(--muted); font-size: 0.9em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
pre {
  margin: 0;
  padding: 0.75rem;
  overflow: auto;
  background: var(--bg);
  border: 1px solid var(--border);
  border-radius: 6px;
  max-height: 40rem;
}
.history .from, .history .to { white-space: nowrap; }
.history .target, .history .note { color: var(--muted); }
footer.bottom { color: var(--muted); font-size: 0.85rem; padding-top: 1rem; padding-bottom: 2rem; }
h3 { font-size: 1rem; margin: 0.75rem 0 0.4rem; }
th.workflow { text-align: center; border-bottom: 2px solid var(--border); color: var(--fg); }
th.group-start, td.group-start { border-left: 2px solid var(--border); }
table.counts th[data-status-value] { text-transform: none; letter-spacing: 0; }
ul.inline { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.2rem 0.9rem; }
ul.inline .count, .chip strong { color: var(--muted); font-weight: 600; font-variant-numeric: tabular-nums; }
ul.chips { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.3rem; }
.chip { padding: 0 0.5rem; border-radius: 999px; background: var(--chip); font-size: 0.85em; white-space: nowrap; }
.chip[data-state="stale"], .chip[data-state="missing"], .state[data-state="stale"], .state[data-state="missing"] { color: var(--warn); }
.chip[data-state="edited"], .state[data-state="edited"], .chip[data-state="orphaned"], .state[data-state="orphaned"] { color: var(--bad); }
.chip[data-state="in_sync"], .chip[data-state="owner"] { color: var(--ok); }
.marker.not-in-hub { display: inline-block; padding: 0 0.45rem; border-radius: 999px; border: 1px dashed var(--warn); color: var(--warn); font-size: 0.85em; white-space: nowrap; }
.problem { color: var(--bad); }
.mirror-rule + .mirror-rule { border-top: 1px solid var(--border); margin-top: 0.75rem; }
details.train { border-top: 1px solid var(--border); padding: 0.4rem 0; }
details.train summary { cursor: pointer; }
ol.steps { margin: 0.4rem 0 0; padding-left: 1.4rem; }
ol.steps li { margin: 0.1rem 0; }
.outcome[data-outcome="done"], .outcome[data-outcome="shipped"] { color: var(--ok); }
.outcome[data-outcome="aborted"] { color: var(--bad); }
.outcome[data-outcome="shipping"], .outcome[data-outcome="started"] { color: var(--info); }
.outcome[data-outcome="skipped"], .outcome[data-outcome="prepared"] { color: var(--muted); }
.prose { max-width: 60rem; }
article.decision + article.decision { border-top: 1px solid var(--border); margin-top: 0.75rem; }
.decision-line { margin: 0 0 0.5rem; }
ul.consequences { margin: 0.5rem 0 0; padding-left: 1.2rem; }
.reason-code { font-weight: 600; }
time { white-space: nowrap; }
td code { overflow-wrap: anywhere; }
@media (max-width: 40rem) {
  body { font-size: 14px; }
  th, td { padding: 0.25rem 0.4rem; }
  /* One column: list rows become wrapped lines of their cells, so nothing
     scrolls sideways; only the counts table keeps its columns (it scrolls
     inside its panel). */
  :is(table.drift, table.not-in-hub, table.runs, table.journal, table.mirror-docs,
      table.live-releases, table.listing, table.sources, table.history, table.readings,
      table.repos, table.schedule) thead { display: none; }
  :is(table.drift, table.not-in-hub, table.runs, table.journal, table.mirror-docs,
      table.live-releases, table.listing, table.sources, table.history, table.readings,
      table.repos, table.schedule) tr {
    display: flex; flex-wrap: wrap; gap: 0.1rem 0.6rem; align-items: baseline;
    padding: 0.4rem 0; border-bottom: 1px solid var(--border);
  }
  :is(table.drift, table.not-in-hub, table.runs, table.journal, table.mirror-docs,
      table.live-releases, table.listing, table.sources, table.history, table.readings,
      table.repos, table.schedule) :is(td, th) { display: block; border: 0; padding: 0; }
  table :is(td.what, td.reason) { flex-basis: 100%; }
  /* Without the header row, say what a bare value is. */
  td.labelled::before { content: attr(data-label) " "; color: var(--muted); font-size: 0.85em; }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EVIL: &str = r#"<script>alert("x")</script>&'"#;
    const EVIL_TEXT: &str = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;";
    const EVIL_HREF: &str = "/items/%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%26%27";

    fn summary() -> Value {
        json!({
            "items": 120,
            "drifting": 2,
            "by_source": [
                {"source": "hub", "by_status": {"todo": 3, "done": 7}},
                {"source": "workplans", "by_status": {"todo": 4, "in_progress": 1, "done": 6, "parked": 2}}
            ],
            "drift": [
                {"key": "app/T1", "hub": "done", "values": {"workplans": "todo", "issues": "done"},
                 "reason": "kept done: workplans is behind (stale checkout)"},
                {"key": EVIL, "hub": null, "values": {"workplans": "todo"}, "reason": "conflict <both> changed"}
            ],
            "findings": [
                {"snapshot": 2, "taken_at": "2026-11-22T10:00:00Z", "commit": "aaa111", "by_severity": {"error": 4, "warning": 5, "info": 1}},
                {"snapshot": 3, "taken_at": "2026-11-23T10:00:00Z", "commit": "bbb222", "by_severity": {"error": 3, "warning": 5}},
                {"snapshot": 4, "taken_at": "2026-11-24T10:00:00Z", "commit": "abc1234567890def", "by_severity": {"error": 2, "warning": 5, "info": 0}}
            ],
            "runs": [
                {"id": "r-3", "command": "sync", "actor": "serve", "started_at": "2026-11-24T10:00:00Z",
                 "finished_at": null, "outcome": null, "duration_ms": null},
                {"id": "r-2", "command": "sync", "actor": "ann", "started_at": "2026-11-24T09:00:00Z",
                 "finished_at": "2026-11-24T09:00:01Z", "outcome": "drift", "duration_ms": 1234},
                {"id": "r-1", "command": "sync", "actor": "serve", "started_at": "2026-11-24T08:00:00Z",
                 "finished_at": "2026-11-24T08:02:05Z", "outcome": "failed", "duration_ms": 125_000}
            ],
            "events": [
                {"id": 17, "at": "2026-11-24T09:00:01Z", "key": EVIL, "source": "workplans",
                 "what": "status: todo -> done (AHEAD_WINS)", "actor": "ann"},
                {"id": 16, "at": "2026-11-24T08:00:00Z", "key": "app/T1", "source": "hub",
                 "what": "status: todo -> done", "actor": "bob"}
            ],
            "schedule": [{"job": "sync", "every": "1h", "next_run": "2026-11-24T11:00:00Z", "last_run": null}],
            "sources": [
                {"repo": "app", "source": "workplans", "by_status": {"todo": 4, "done": 6}},
                {"repo": "app", "source": EVIL, "by_status": {"done": 1}},
                {"repo": "story", "source": "notes", "by_status": {"todo": 2}}
            ],
            "workflows": [
                {"name": "task", "statuses": ["todo", "in_progress", "blocked", "done", "cancelled"], "sources": ["workplans"]},
                {"name": "lifecycle", "statuses": ["research", "done"], "sources": []}
            ],
            "not_in_hub": 3,
            "not_in_hub_items": [
                {"key": "app/T9", "values": {"workplans": "todo"}},
                {"key": EVIL, "values": {EVIL: "done"}}
            ],
            "last_mirror": {"at": "2026-11-24T09:00:00Z", "rule": "features", "written": 2,
                            "reported": 1, "failed": 0, "commits": {}},
            "mirrors": [{
                "rule": "features", "documents": 3,
                "by_state": {"owner": 3, "in_sync": 1, "stale": 1, "edited": 1},
                "owners": {"app": 2, "(unknown)": 1},
                "attention_total": 2,
                "attention": [
                    {"path": ".claude/features/a/state.json", "owner": "app",
                     "copies": {"app": "owner", "story": "stale"}, "problems": []},
                    {"path": EVIL, "owner": null, "copies": {"story": "edited"},
                     "problems": ["OWNER_UNKNOWN: <nobody>"]}
                ]
            }],
            "trains": [{
                "id": 7, "name": "spring", "status": "shipping", "created_at": "2026-11-24T08:00:00Z",
                "updated_at": "2026-11-24T08:30:00Z", "actor": "ann",
                "frozen": {"lib": {"commit": "0123456789abcdef", "version": "1.4.2"}, "app": {"commit": "fedcba9876543210", "version": null}},
                "steps": [
                    {"seq": 1, "step": "publish lib 1.4.2", "outcome": "done", "at": "2026-11-24T08:10:00Z", "detail": null},
                    {"seq": 2, "step": "deploy app", "outcome": "failed", "at": "2026-11-24T08:20:00Z", "detail": "exit 1 <boom>"}
                ]
            }],
            "live": [
                {"repo": "lib", "kind": "publish", "what": "1.4.2", "train": "spring", "train_id": 7, "at": "2026-11-24T08:10:00Z"},
                {"repo": "app", "kind": "deploy", "what": "aaaabbbbccccdddd", "train": "winter", "train_id": 6, "at": "2026-10-01T08:10:00Z"}
            ]
        })
    }

    fn item(key: &str) -> Value {
        json!({
            "key": key,
            "hub": {"status": "done", "value_version": 3, "updated_at": "2026-11-24T09:00:01Z", "updated_by": "ann"},
            "sources": [
                {"source": "workplans", "status": "todo", "raw_status": "[ ]", "repo": "app",
                 "path": "docs/plan.md", "line": 12, "observed_at": "2026-11-24T09:00:00Z"},
                {"source": "issues", "status": "done", "raw_status": "closed", "repo": null,
                 "path": null, "line": null, "observed_at": null}
            ],
            "history": [
                {"id": 1, "at": "2026-11-20T09:00:00Z", "actor": "ann", "kind": "event", "field": null,
                 "from": null, "to": null, "target": null, "reason": null, "note": "started <b>work</b>",
                 "event_type": "started"},
                {"id": 5, "at": "2026-11-24T09:00:01Z", "actor": "serve", "kind": "change", "field": "status",
                 "from": "todo", "to": "done", "target": "hub", "reason": "AHEAD_WINS: workplans is ahead",
                 "note": null, "event_type": null},
                {"id": 9, "at": "2026-11-24T09:30:00Z", "actor": "bob", "kind": "change", "field": "status",
                 "from": "done", "to": "todo", "target": "workplans", "reason": "REGRESSION_BLOCKED", "note": null,
                 "event_type": null}
            ],
            "explain": {
                "bases": [{"rule": "tasks", "key": key, "field": "status", "value": "todo",
                           "versions": "{}", "version": 2, "agreed_at": "2026-11-20T09:00:00Z"}],
                "last_decision": {"at": "2026-11-24T09:00:01Z", "to": "done", "target": "hub",
                                  "reason": "AHEAD_WINS: workplans <is> ahead", "actor": "serve"},
                "full": "/api/v1/items/x/explain"
            },
            "explanation": explanation(key)
        })
    }

    /// `/api/v1/items/{key}/explain`'s report.
    fn explanation(key: &str) -> Value {
        json!({
            "version": 1, "key": key,
            "decisions": [{
                "rule": "tasks", "key": key, "reason": "AHEAD_WINS",
                "winner": {"status": "done", "rank": 2},
                "changes": [{"source": "workplans", "from": {"status": "todo", "rank": 0},
                             "to": {"status": "done", "rank": 2}, "reason": "AHEAD_WINS", "origin": "issues"}],
                "holds": [{"source": "plan", "reason": "REGRESSION_BLOCKED", "detail": "plan <reopened> it"}],
                "new_base": {"status": "done", "rank": 2}, "agreeing": ["issues"],
                "explanation": "issues moved todo -> done since the base; done wins & goes to workplans"
            }],
            "bases": [{"rule": "tasks", "key": key, "field": "status", "value": "todo",
                       "versions": {}, "version": 2, "agreed_at": "2026-11-20T09:00:00Z"}],
            "readings": [
                {"source": "workplans", "repo": "app", "path": "docs/plan.md", "line": 12,
                 "status": "[ ]", "replica": null, "blocked": null, "own_bases": {"tasks": "todo"}},
                {"source": "issues", "repo": "app", "path": "x.json", "line": 1,
                 "status": "closed", "replica": null, "blocked": "STALE_CHECKOUT", "own_bases": {"tasks": null}}
            ]
        })
    }

    /// Checks that every non-void element is closed in order, that no tag
    /// contains a stray `<`, and that `<main>` appears exactly once.
    fn assert_well_formed(html: &str) {
        const VOID: &[&str] = &[
            "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
            "track", "wbr",
        ];
        let mut stack: Vec<String> = Vec::new();
        let mut rest = html;
        let mut mains = 0;
        while let Some(start) = rest.find('<') {
            let after = &rest[start + 1..];
            let end = after
                .find('>')
                .unwrap_or_else(|| panic!("unterminated tag near {:?}", &rest[start..]));
            let tag = &after[..end];
            assert!(!tag.contains('<'), "stray '<' inside tag {tag:?}");
            rest = &after[end + 1..];
            if tag.starts_with('!') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                let name = name.trim().to_ascii_lowercase();
                let open = stack
                    .pop()
                    .unwrap_or_else(|| panic!("</{name}> closes nothing"));
                assert_eq!(open, name, "</{name}> closes <{open}>");
                continue;
            }
            let name: String = tag
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '/')
                .collect::<String>()
                .to_ascii_lowercase();
            assert!(!name.is_empty(), "empty tag name in {tag:?}");
            if name == "main" {
                mains += 1;
            }
            if tag.ends_with('/') || VOID.contains(&name.as_str()) {
                continue;
            }
            stack.push(name);
        }
        assert!(stack.is_empty(), "unclosed elements: {stack:?}");
        assert!(
            !rest.contains('>'),
            "stray '>' after the last tag: {rest:?}"
        );
        assert_eq!(mains, 1, "exactly one <main>");
    }

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn page_escape_html_escapes_the_five_characters() {
        assert_eq!(escape_html(EVIL), EVIL_TEXT);
        assert_eq!(escape_html("plain — ünïcode"), "plain — ünïcode");
        assert_eq!(escape_html(""), "");
    }

    #[test]
    fn page_encode_component_encodes_everything_but_unreserved() {
        assert_eq!(item_href(EVIL), EVIL_HREF);
        assert_eq!(encode_component("app/T1"), "app%2FT1");
        assert_eq!(encode_component("wp#42 x"), "wp%2342%20x");
        assert_eq!(encode_component("A-z_0.9~"), "A-z_0.9~");
        assert_eq!(encode_component("é"), "%C3%A9");
        assert_eq!(encode_component("%2F"), "%252F");
    }

    #[test]
    fn page_control_room_escapes_keys_in_text_and_href() {
        let html = control_room(&summary(), EVIL);
        assert!(!html.contains("<script>alert"), "raw key leaked");
        assert!(!html.contains(r#"alert("x")"#), "raw quotes leaked");
        assert!(html.contains(&format!(
            r#"<a class="item-link" href="{EVIL_HREF}">{EVIL_TEXT}</a>"#
        )));
        assert!(html.contains(&format!(r#"data-key="{EVIL_TEXT}""#)));
        // the workspace name is escaped too
        assert!(html.contains(&format!(r#"data-workspace="{EVIL_TEXT}""#)));
        assert!(html.contains("conflict &lt;both&gt; changed"));
        assert_well_formed(&html);
    }

    #[test]
    fn page_item_page_escapes_the_key() {
        let html = item_page(&item(EVIL), "ws");
        assert!(!html.contains("<script>alert"));
        assert!(html.contains(&format!(r#"<h1 class="item-key">{EVIL_TEXT}</h1>"#)));
        assert!(html.contains(&format!(r#"data-item-key="{EVIL_TEXT}""#)));
        assert!(html.contains("started &lt;b&gt;work&lt;/b&gt;"));
        assert_well_formed(&html);
    }

    #[test]
    fn page_counts_group_status_columns_per_workflow() {
        let html = control_room(&summary(), "main");
        // todo, in_progress, done under `task` (done is claimed by the
        // first workflow listing it); parked under "other"
        assert!(html.contains(
            r#"<th scope="colgroup" colspan="3" class="workflow" data-workflow="task">task</th>"#
        ));
        assert!(
            !html.contains(r#"data-workflow="lifecycle""#),
            "no column of its own"
        );
        assert!(html.contains(
            r#"<th scope="colgroup" colspan="1" class="workflow" data-workflow="">other</th>"#
        ));
        assert!(html.contains(
            r#"<th scope="col" class="group-start" data-status-value="parked">parked</th>"#
        ));
        assert!(html.contains(
            r#"<td class="num group-start" data-count-source="workplans" data-status="parked" data-count="2">2</td>"#
        ));
        // sources link their page; the hub has none
        assert!(html.contains(
            r#"<th scope="row"><a class="source-link" href="/sources/workplans">workplans</a></th>"#
        ));
        assert!(html.contains(r#"<tr data-source="hub"><th scope="row">hub</th>"#));
        // without workflows (an older server): one header row
        let mut plain = summary();
        plain["workflows"] = json!([]);
        let html = control_room(&plain, "main");
        assert!(!html.contains("colgroup"));
        assert!(html.contains(r#"<th scope="col" data-status-value="todo">todo</th>"#));
        assert_well_formed(&html);
    }

    #[test]
    fn page_repos_link_repo_and_source_pages() {
        let html = control_room(&summary(), "main");
        assert!(html.contains(r#"<tr class="repo-row" data-repo="app"><th scope="row"><a class="repo-link" href="/repos/app">app</a></th>"#));
        assert!(html.contains(r#"<a class="source-link" href="/sources/workplans">workplans</a> <span class="count">10</span>"#));
        assert!(html.contains(&format!(
            r#"<li data-source="{EVIL_TEXT}"><a class="source-link" href="/sources/{}">{EVIL_TEXT}</a>"#,
            EVIL_HREF.trim_start_matches("/items/")
        )));
        assert!(html.contains(r#"<td class="num" data-count="11">11</td>"#));
        assert!(html.contains(r#"<tr class="repo-row" data-repo="story">"#));
        assert_well_formed(&html);
    }

    #[test]
    fn page_not_in_hub_rows_are_marked() {
        let html = control_room(&summary(), "main");
        assert!(html.contains(r#"id="not-in-hub-total" data-count="3">3<"#));
        assert!(html.contains(r#"Not yet in the hub <span class="count">3</span>"#));
        assert!(html.contains("showing the first 2 of 3"));
        assert!(html.contains(r#"<tr class="not-in-hub-row" data-key="app/T9"><td class="key"><a class="item-link" href="/items/app%2FT9">app/T9</a></td>"#));
        assert_eq!(count(&html, r#"class="not-in-hub-row""#), 2);
        assert_eq!(
            count(
                &html,
                r#"<td><span class="marker not-in-hub">not yet in the hub</span></td>"#
            ),
            2
        );
        assert!(html.contains(&format!(
            r#"<tr class="not-in-hub-row" data-key="{EVIL_TEXT}">"#
        )));
        let html = control_room(&json!({"not_in_hub": 0, "not_in_hub_items": []}), "w");
        assert!(html.contains("every item is in the hub"));
        assert_well_formed(&html);
    }

    #[test]
    fn page_mirrors_show_owners_and_states() {
        let html = control_room(&summary(), "main");
        assert!(html.contains(r#"<div class="mirror-rule" data-rule="features"><h3>rule <code>features</code> · 3 documents</h3>"#));
        assert!(
            html.contains(r#"<li class="chip" data-state="stale">stale <strong>1</strong></li>"#)
        );
        assert!(
            html.contains(r#"<li class="chip" data-state="edited">edited <strong>1</strong></li>"#)
        );
        assert!(html.contains(r#"<li class="chip" data-owner="app">app <strong>2</strong></li>"#));
        assert!(html.contains(
            r#"<li class="chip" data-owner="(unknown)">(unknown) <strong>1</strong></li>"#
        ));
        assert!(
            html.contains(r#"<tr class="mirror-doc" data-path=".claude/features/a/state.json">"#)
        );
        assert!(html.contains(r#"<li data-repo="story"><span class="source">story</span> <span class="state" data-state="stale">stale</span></li>"#));
        assert!(html.contains(&format!(
            r#"<tr class="mirror-doc" data-path="{EVIL_TEXT}">"#
        )));
        assert!(html.contains(r#"<li class="problem">OWNER_UNKNOWN: &lt;nobody&gt;</li>"#));
        assert!(html.contains(
            r#"<p class="latest" id="last-mirror">last run: rule <code>features</code> <time"#
        ));
        assert!(html.contains("wrote 2, reported 1, failed 0"));
        let html = control_room(&json!({"mirrors": []}), "w");
        assert!(html.contains("no <code>[[mirror]]</code> rules"));
        assert!(!html.contains("last-mirror"));
        assert_well_formed(&html);
    }

    #[test]
    fn page_trains_show_status_steps_and_live() {
        let html = control_room(&summary(), "main");
        // next to the runs: runs, mirrors, trains in that order
        let runs = html.find(r#"<section id="runs""#).unwrap();
        let mirrors = html.find(r#"<section id="mirrors""#).unwrap();
        let trains = html.find(r#"<section id="trains""#).unwrap();
        assert!(runs < mirrors && mirrors < trains);
        // a shipping train is open
        assert!(html.contains(r#"<details class="train" data-train-id="7" data-status="shipping" open><summary><strong>spring</strong> #7 <span class="outcome" data-outcome="shipping">shipping</span> · ann · <time"#));
        assert!(html.contains(r#"<li data-repo="lib"><span class="source">lib</span> 1.4.2 <code title="0123456789abcdef">0123456789ab</code></li>"#));
        assert!(html.contains(r#"<li class="step" data-outcome="failed"><span class="outcome" data-outcome="failed">failed</span> deploy app <time"#));
        assert!(html.contains("exit 1 &lt;boom&gt;"));
        assert!(html.contains(r#"<tr class="live-row" data-repo="lib" data-kind="publish"><td>lib</td><td>published 1.4.2</td><td>spring #7</td>"#));
        assert!(html.contains(r#"<td>deployed <code>aaaabbbbcccc</code></td>"#));
        let html = control_room(&json!({"trains": [], "live": []}), "w");
        assert!(html.contains("no release trains yet"));
        assert_well_formed(&html);
    }

    #[test]
    fn page_times_show_exact_utc_and_carry_it_in_the_title() {
        let html = control_room(&summary(), "main");
        assert!(html.contains(
            r#"<time datetime="2026-11-24T09:00:01Z" title="2026-11-24 09:00:01 UTC">2026-11-24 09:00:01 UTC</time>"#
        ));
        assert_eq!(
            exact_utc("2026-11-24T09:00:01.123456Z"),
            "2026-11-24 09:00:01 UTC"
        );
        assert_eq!(exact_utc("yesterday <noon>"), "yesterday <noon>");
        assert_eq!(
            time(Some(&json!("yesterday <noon>"))),
            r#"<time datetime="yesterday &lt;noon&gt;" title="yesterday &lt;noon&gt;">yesterday &lt;noon&gt;</time>"#
        );
        assert!(
            SCRIPT.contains("RelativeTimeFormat") && SCRIPT.contains("setInterval(refreshTimes")
        );
    }

    fn listing(kind: &str, name: &str) -> Value {
        json!({
            "version": 1, "workspace": "w", "kind": kind, "name": name,
            "covers": ["workplans", EVIL],
            "by_status": {"todo": 1, "done": 1},
            "not_in_hub": 1,
            "items": [
                {"key": "app/T1", "source": "workplans", "repo": "app", "status": "done", "raw": "complete",
                 "path": "docs/plan.md", "line": 3, "hub": "done", "in_hub": true},
                {"key": EVIL, "source": EVIL, "repo": "app", "status": "todo", "raw": null,
                 "path": "docs/plan.md", "line": 9, "hub": null, "in_hub": false}
            ]
        })
    }

    #[test]
    fn page_listing_pages_mark_items_not_in_the_hub() {
        let html = listing_page(&listing("repo", "app"), "w");
        assert!(html.contains(r#"data-page="repo""#));
        assert!(
            html.contains(r#"<h1 class="scope-name"><span class="subtitle">repo</span> app</h1>"#)
        );
        assert!(html.contains(r#"id="listing-total" data-count="2">2<"#));
        assert!(html.contains(r#"id="listing-not-in-hub" data-count="1">1<"#));
        assert!(html.contains(
            r#"sources: <a class="source-link" href="/sources/workplans">workplans</a>"#
        ));
        assert!(html.contains(r#"<tr class="listed-item" data-key="app/T1" data-source="workplans" data-repo="app" data-status-value="done" data-in-hub="true">"#));
        assert!(html.contains(r#"<code class="raw" title="as written">complete</code>"#));
        assert!(html.contains(&format!(r#"data-key="{EVIL_TEXT}" data-source="{EVIL_TEXT}" data-repo="app" data-status-value="todo" data-in-hub="false">"#)));
        assert_eq!(count(&html, r#"<span class="marker not-in-hub">"#), 1);
        assert!(!html.contains("<script>alert"));
        assert_well_formed(&html);
        // a source page links the repos
        let html = listing_page(&listing("source", EVIL), "w");
        assert!(html.contains(r#"data-page="source""#));
        assert!(html.contains(r#"<a class="repo-link" href="/repos/app">app</a>"#));
        assert!(!html.contains("<script>alert"));
        assert_well_formed(&html);
        assert_well_formed(&listing_page(&Value::Null, "w"));
    }

    #[test]
    fn page_counts_carry_source_and_status() {
        let html = control_room(&summary(), "main");
        assert!(html.contains(
            r#"<td class="num" data-count-source="hub" data-status="done" data-count="7">7</td>"#
        ));
        assert!(html.contains(
            r#"<td class="num" data-count-source="hub" data-status="todo" data-count="3">3</td>"#
        ));
        assert!(html.contains(
            r#"<td class="num group-start" data-count-source="workplans" data-status="parked" data-count="2">2</td>"#
        ));
        // a status the hub does not report is an explicit zero
        assert!(html.contains(
            r#"<td class="num zero" data-count-source="hub" data-status="in_progress" data-count="0">0</td>"#
        ));
        assert!(html.contains(r#"data-total-source="hub" data-count="10">10<"#));
        assert!(html.contains(r#"data-total-source="workplans" data-count="13">13<"#));
        // 2 sources x 4 statuses (todo, in_progress, done, parked)
        assert_eq!(count(&html, "data-count-source="), 8);
        // workflow order first, unknown statuses after
        let todo = html
            .find(r#"<th scope="col" data-status-value="todo">"#)
            .unwrap();
        let prog = html.find(r#"data-status-value="in_progress">"#).unwrap();
        let done = html
            .find(r#"<th scope="col" data-status-value="done">"#)
            .unwrap();
        let parked = html
            .find(r#"<th scope="col" class="group-start" data-status-value="parked">"#)
            .unwrap();
        assert!(todo < prog && prog < done && done < parked);
        assert!(html.contains(r#"id="items-total" data-count="120">120<"#));
        assert!(html.contains(r#"id="drifting-total" data-count="2">2<"#));
    }

    #[test]
    fn page_drift_rows_include_reason_and_values() {
        let html = control_room(&summary(), "main");
        assert!(html.contains(r#"<section id="drift""#));
        assert_eq!(count(&html, r#"class="drift-row""#), 2);
        assert!(html.contains(
            r#"<td class="reason">kept done: workplans is behind (stale checkout)</td>"#
        ));
        assert!(html.contains(r#"<a class="item-link" href="/items/app%2FT1">app/T1</a>"#));
        assert!(html.contains(r#"<li data-source="issues"><span class="source">issues</span> <span class="status" data-status-value="done">done</span></li>"#));
        // a null hub value renders as a dash
        assert!(html.contains(r#"<td class="labelled" data-source="hub" data-label="hub">—</td>"#));
        assert!(!html.contains("drift-truncated"));
        let mut s = summary();
        s["drifting"] = json!(40);
        let html = control_room(&s, "main");
        assert!(html.contains(r#"Drift <span class="count">40</span>"#));
        assert!(html.contains("showing the first 2 of 40"));
    }

    #[test]
    fn page_runs_show_outcome_and_duration() {
        let html = control_room(&summary(), "main");
        assert!(html.contains(r#"<section id="runs" class="panel" data-newest-run="r-3">"#));
        assert!(html.contains(r#"data-run-marker="r-3@""#));
        assert!(html.contains(r#"<tr class="run" data-run-id="r-3" data-outcome="running">"#));
        assert!(html.contains(r#"<tr class="run" data-run-id="r-2" data-outcome="drift">"#));
        assert!(html.contains(r#"data-duration-ms="1234">1.2 s<"#));
        assert!(html.contains(r#"data-duration-ms="125000">2 min 05 s<"#));
        assert!(html.contains(r#"data-outcome="failed">failed</span>"#));
    }

    #[test]
    fn page_journal_rows_are_filterable() {
        let html = control_room(&summary(), "main");
        assert!(html.contains(r#"<section id="journal""#));
        assert!(html.contains(
            r#"<tr class="event" data-event-id="16" data-key="app/T1" data-source="hub" data-actor="bob">"#
        ));
        assert!(
            html.contains(r#"<form id="journal-filters" class="filters" role="search" hidden>"#)
        );
        for f in ["key", "source", "actor"] {
            assert!(html.contains(&format!(r#"id="filter-{f}" name="{f}" data-filter="{f}""#)));
        }
        // newest first, as given
        assert!(html.find(r#"data-event-id="17""#) < html.find(r#"data-event-id="16""#));
        assert!(html.contains(r#"<option value="workplans"></option>"#));
    }

    #[test]
    fn page_static_assets_are_linked() {
        for html in [control_room(&summary(), "w"), item_page(&item("k"), "w")] {
            assert!(html.contains(r#"<script src="/static/control-room.js" defer></script>"#));
            assert!(html.contains(r#"<link rel="stylesheet" href="/static/control-room.css">"#));
        }
        assert!(SCRIPT.contains("new window.EventSource(STREAM_URL)"));
        assert!(SCRIPT.contains(r#""run-finished""#));
        assert!(SCRIPT.contains("/api/v1/summary") && SCRIPT.contains("/api/v1/stream"));
        assert!(SCRIPT.contains("POLL_MS = 10000"));
        assert!(SCRIPT.contains(r#"getAttribute("data-" + name)"#));
        assert!(STYLE.contains("prefers-color-scheme: dark"));
    }

    #[test]
    fn page_empty_states() {
        let html = control_room(&json!({}), "empty");
        assert!(html.contains("no sync runs yet"));
        assert!(
            html.contains("no check snapshots yet — run <code>concord check --snapshot</code>")
        );
        assert!(html.contains("no journal entries yet"));
        assert!(html.contains("no drift"));
        assert!(html.contains("no scheduled jobs"));
        assert!(html.contains(r#"id="items-total" data-count="">—<"#));
        assert!(!html.contains("<svg"));
        assert!(!html.contains(r#"class="run""#));
        assert_well_formed(&html);

        let explicit = json!({"items": 0, "drifting": 0, "by_source": [], "drift": [],
                              "findings": [], "runs": [], "events": [], "schedule": []});
        let html = control_room(&explicit, "empty");
        assert!(html.contains("no sync runs yet"));
        assert!(html.contains("no check snapshots yet"));
        assert!(html.contains("no journal entries yet"));
        assert!(html.contains(r#"data-newest-run="""#));
        assert_well_formed(&html);

        // not an object at all
        assert_well_formed(&control_room(&Value::Null, "x"));
        assert_well_formed(&item_page(&Value::Null, "x"));
    }

    #[test]
    fn page_missing_fields_render_as_dash() {
        let s = json!({
            "by_source": [{"source": "hub"}],
            "drift": [{"key": "k"}],
            "runs": [{"id": "r-1", "finished_at": "2026-01-01T00:00:00Z"}],
            "events": [{}],
            "findings": [{}],
            "schedule": [{"job": "sync"}]
        });
        let html = control_room(&s, "w");
        assert!(html.contains(r#"<td class="reason">—</td>"#));
        assert!(html.contains(r#"data-outcome="">"#));
        assert!(html.contains(r#"<td>never</td>"#));
        assert_eq!(count(&html, r#"class="snapshot""#), 1);
        assert_well_formed(&html);
    }

    #[test]
    fn page_chart_has_one_bar_per_snapshot() {
        let html = control_room(&summary(), "main");
        assert!(html.contains(r#"<section id="findings-chart""#));
        assert_eq!(count(&html, "<svg"), 1);
        assert_eq!(count(&html, r#"<g class="snapshot""#), 3);
        for (snap, date) in [(2, "2026-11-22"), (3, "2026-11-23"), (4, "2026-11-24")] {
            assert!(html.contains(&format!(r#"<g class="snapshot" data-snapshot="{snap}""#)));
            assert!(
                html.contains(&format!(">{date}</text>")),
                "axis label {date}"
            );
        }
        // one rect per non-zero severity; info=0 and a missing info draw nothing
        assert_eq!(count(&html, r#"<rect class="bar sev-error""#), 3);
        assert_eq!(count(&html, r#"<rect class="bar sev-warning""#), 3);
        assert_eq!(count(&html, r#"<rect class="bar sev-info""#), 1);
        assert!(html.contains("<title>error: 2 (snapshot 4)</title>"));
        assert!(html.contains(
            "snapshot 4 · 2026-11-24T10:00:00Z · commit abc123456789\nerror: 2\nwarning: 5\ninfo: 0"
        ));
        // latest summary line
        assert!(html.contains(r#"commit <code title="abc1234567890def">abc123456789</code>"#));
        assert_well_formed(&html);
    }

    #[test]
    fn page_chart_scales_and_thins_labels() {
        let findings: Vec<Value> = (0..40)
            .map(|i| {
                json!({"snapshot": i, "taken_at": format!("2026-10-{:02}T00:00:00Z", i % 28 + 1),
                       "by_severity": {"error": i, "warning": 0, "critical": 1}})
            })
            .collect();
        let html = control_room(&json!({ "findings": findings }), "w");
        assert_eq!(count(&html, r#"<g class="snapshot""#), 40);
        assert!(count(&html, r#"class="x-label""#) <= MAX_X_LABELS);
        assert!(html.contains(r#"<rect class="bar sev-other" data-severity="critical""#));
        assert_eq!(nice_scale(0.0), (1.0, 1.0));
        assert_eq!(nice_scale(7.0), (8.0, 2.0));
        assert_eq!(nice_scale(40.0), (40.0, 10.0));
        assert_eq!(nice_scale(3.0), (3.0, 1.0));
        assert_well_formed(&html);
    }

    #[test]
    fn page_item_page_shows_history_in_order_and_explain() {
        let html = item_page(&item("app/T1"), "main");
        assert!(html.contains(r#"<h1 class="item-key">app/T1</h1>"#));
        let ids: Vec<usize> = ["1", "5", "9"]
            .iter()
            .map(|id| {
                html.find(&format!(
                    r#"<tr class="history-row" data-history-id="{id}""#
                ))
                .unwrap_or_else(|| panic!("history row {id}"))
            })
            .collect();
        assert!(
            ids[0] < ids[1] && ids[1] < ids[2],
            "history keeps its order"
        );
        assert!(html.contains(r#"data-kind="change""#));
        assert!(html.contains(r#"<span class="event-type">started</span>"#));
        assert!(html.contains(r#"<td class="reason">AHEAD_WINS: workplans is ahead</td>"#));
        assert!(html.contains(r#"<span class="target">in hub</span>"#));
        assert!(html.contains(r#"<section id="explain""#));
        // the explanation is text, not a JSON dump
        assert!(!html.contains("<pre"));
        assert!(html.contains(
            r#"<article class="decision" data-rule="tasks"><h3>Rule <code>tasks</code></h3>"#
        ));
        assert!(html.contains(
            "issues moved todo -&gt; done since the base; done wins &amp; goes to workplans"
        ));
        assert!(html.contains(
            r#"<dd data-field="reason"><span class="reason-code" title="AHEAD_WINS">ahead wins</span></dd>"#
        ));
        assert!(html.contains(
            r#"<dd data-field="winner"><span class="status" data-status-value="done">done</span></dd>"#
        ));
        assert!(html.contains(r#"<dd data-field="base"><span class="status" data-status-value="todo">todo</span> (agreed <time"#));
        assert!(html.contains(r#"<tr class="reading" data-source="issues"><td>issues</td><td><span class="status" data-status-value="closed">closed</span></td><td>never agreed</td>"#));
        assert!(html.contains("not written now: STALE_CHECKOUT"));
        assert!(html.contains(r#"<li class="change" data-source="workplans">write <span class="status" data-status-value="done">done</span> to <strong>workplans</strong>"#));
        assert!(html.contains("plan &lt;reopened&gt; it"));
        assert!(html.contains(r#"<dd data-field="value_version">3</dd>"#));
        assert!(html.contains("<code>app:docs/plan.md:12</code>"));
        assert!(
            html.contains(
                r#"<tr class="source-row" data-source="issues" data-status-value="done">"#
            )
        );
        assert!(html.contains(r#"id="item-drift""#), "todo vs done is drift");
        assert_well_formed(&html);
    }

    /// A rule lists only its own sources' readings: under a rule of the
    /// hub alone, the plan's reading of another rule is not shown.
    #[test]
    fn page_explanation_lists_only_the_rules_own_sources() {
        let mut full = explanation("wp#42");
        full["decisions"]
            .as_array_mut()
            .expect("decisions")
            .push(json!({
                "rule": "hub-only", "key": "wp#42", "reason": "IN_SYNC",
                "winner": {"status": "done", "rank": 2}, "changes": [], "holds": [],
                "new_base": {"status": "done", "rank": 2}, "agreeing": ["hub"],
                "explanation": "every source agrees on done"
            }));
        let html = explanation_text(&full);
        let hub_only = &html[html.find(r#"data-rule="hub-only""#).expect("the rule")..];
        assert!(
            !hub_only.contains(r#"data-source="workplans""#),
            "{hub_only}"
        );
        assert!(
            hub_only.contains("only the hub holds the item"),
            "{hub_only}"
        );
        let tasks = &html[..html.find(r#"data-rule="hub-only""#).expect("the rule")];
        assert!(tasks.contains(r#"<tr class="reading" data-source="workplans">"#));
        assert!(tasks.contains(r#"<tr class="reading" data-source="issues">"#));
    }

    #[test]
    fn page_item_page_without_hub_history_or_explain() {
        let html = item_page(
            &json!({"key": "k", "hub": null, "sources": [], "history": [], "explain": null}),
            "w",
        );
        assert!(html.contains(r#"<p id="hub-missing" class="empty"><span class="marker not-in-hub">not yet in the hub</span>"#));
        assert!(html.contains("no history yet"));
        assert!(html.contains("no explanation available"));
        assert!(!html.contains("item-drift"));
        assert!(!html.contains("<pre"));
        assert_well_formed(&html);
        let html = item_page(&json!({"key": "k", "explain": "line 1\n<line 2>"}), "w");
        assert!(html.contains("<p id=\"explain-text\" class=\"prose\">line 1\n&lt;line 2&gt;</p>"));
        // without the full report: the item view's bases and last decision
        let mut brief = item("k");
        if let Some(fields) = brief.as_object_mut() {
            fields.remove("explanation");
        }
        let html = item_page(&brief, "w");
        assert!(html.contains(r#"<p class="decision-line">Last decision <time"#));
        assert!(html.contains("AHEAD_WINS: workplans &lt;is&gt; ahead"));
        assert!(html.contains(r#"<p class="base" data-rule="tasks">Under rule <code>tasks</code> the sources last agreed on <span class="status" data-status-value="todo">todo</span>"#));
        assert!(html.contains(r#"<a href="/api/v1/items/x/explain">"#));
        assert_well_formed(&html);
    }

    #[test]
    fn page_error_pages() {
        let html = not_found_page(EVIL);
        assert!(html.contains(EVIL_TEXT));
        assert!(!html.contains("<script"));
        assert_well_formed(&html);
        let html = login_hint_page();
        assert!(html.contains("?token="));
        assert!(html.contains("not</strong> accepted"));
        assert!(html.contains("Authorization: Bearer"));
        assert!(html.contains("--public-read"));
        assert!(html.contains(r#"<form id="login" method="post" action="/login">"#));
        assert!(!html.contains("<script"));
        assert_well_formed(&html);
        let html = login_page(Some("unknown <token>"));
        assert!(html.contains("unknown &lt;token&gt;"));
        assert_well_formed(&html);
    }

    #[test]
    fn page_durations() {
        assert_eq!(duration(Some(&json!(850))), "850 ms");
        assert_eq!(duration(Some(&json!(1234))), "1.2 s");
        assert_eq!(duration(Some(&json!(125_000))), "2 min 05 s");
        assert_eq!(duration(Some(&json!(3_720_000))), "1 h 02 min");
        assert_eq!(duration(Some(&Value::Null)), "—");
        assert_eq!(duration(Some(&json!(-5))), "—");
        assert_eq!(duration(None), "—");
    }

    fn percent_decode(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn page_encoded_keys_round_trip(key in "\\PC{0,24}") {
            let enc = encode_component(&key);
            proptest::prop_assert!(enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
            proptest::prop_assert_eq!(percent_decode(&enc), key.as_bytes().to_vec());
        }

        #[test]
        fn page_any_text_keeps_pages_well_formed(
            key in "[<>&\"' a-z/]{0,12}",
            text in "[<>&\"' a-z]{0,12}",
        ) {
            let s = json!({
                "by_source": [{"source": text.clone(), "by_status": {text.clone(): 1}}],
                "drift": [{"key": key.clone(), "hub": text.clone(), "values": {text.clone(): text.clone()}, "reason": text.clone()}],
                "findings": [{"snapshot": text.clone(), "taken_at": text.clone(), "by_severity": {text.clone(): 2}}],
                "runs": [{"id": text.clone(), "outcome": text.clone()}],
                "events": [{"key": key.clone(), "source": text.clone(), "actor": text.clone(), "what": text.clone()}],
                "schedule": [{"job": text.clone(), "every": text.clone()}],
                "sources": [{"repo": text.clone(), "source": text.clone(), "by_status": {text.clone(): 1}}],
                "workflows": [{"name": text.clone(), "statuses": [text.clone()]}],
                "not_in_hub_items": [{"key": key.clone(), "values": {text.clone(): text.clone()}}],
                "mirrors": [{"rule": text.clone(), "by_state": {text.clone(): 1}, "owners": {text.clone(): 1},
                             "attention": [{"path": key.clone(), "owner": text.clone(), "copies": {text.clone(): text.clone()},
                                            "problems": [text.clone()]}]}],
                "trains": [{"id": text.clone(), "name": text.clone(), "status": text.clone(),
                            "frozen": {text.clone(): {"commit": text.clone(), "version": text.clone()}},
                            "steps": [{"step": text.clone(), "outcome": text.clone(), "at": text.clone(), "detail": text.clone()}]}],
                "live": [{"repo": text.clone(), "kind": text.clone(), "what": text.clone(), "train": text.clone()}]
            });
            assert_well_formed(&control_room(&s, &text));
            let l = json!({"kind": text.clone(), "name": text.clone(), "covers": [text.clone()],
                           "by_status": {text.clone(): 1},
                           "items": [{"key": key.clone(), "source": text.clone(), "repo": text.clone(),
                                      "status": text.clone(), "raw": text.clone(), "hub": text.clone(), "in_hub": false}]});
            assert_well_formed(&listing_page(&l, &text));
            let i = json!({"key": key.clone(), "hub": {"status": text.clone()},
                           "sources": [{"source": text.clone(), "status": text.clone(), "path": text.clone()}],
                           "history": [{"actor": text.clone(), "field": text.clone(), "reason": text.clone()}],
                           "explain": {"k": text.clone()},
                           "explanation": {"decisions": [{"rule": text.clone(), "reason": text.clone(), "explanation": text.clone(),
                                                          "winner": {"status": text.clone()},
                                                          "changes": [{"source": text.clone(), "to": text.clone(), "origin": text.clone()}],
                                                          "holds": [{"source": text.clone(), "detail": text.clone()}]}],
                                           "bases": [{"rule": text.clone(), "field": "status", "value": text.clone()}],
                                           "readings": [{"source": text.clone(), "status": text.clone(), "blocked": text.clone(),
                                                         "own_bases": {text.clone(): text.clone()}}]}});
            assert_well_formed(&item_page(&i, &text));
            assert_well_formed(&not_found_page(&key));
        }
    }
}
