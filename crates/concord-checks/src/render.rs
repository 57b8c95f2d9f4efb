//! Renderers for findings: compiler-like text with the offending span
//! underlined, a stable JSON document, and SARIF 2.1.0 for code scanning.
//!
//! Every renderer orders findings the same way (path, line, column, code, ...)
//! so output is stable whatever order the checks ran in. Findings that have
//! no fingerprint yet get one (on a copy) before rendering.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::finding::{Delta, FINGERPRINT_VERSION, Finding, Severity, assign_fingerprints};

/// Version of the JSON document produced by [`json`].
pub const JSON_VERSION: u32 = 1;
/// `$schema` of the SARIF output.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// `tool.driver.informationUri`. A placeholder on the reserved `.invalid`
/// domain until the project has a public home (GitHub only checks that it
/// is an absolute URI); replace it then.
pub const INFORMATION_URI: &str = "https://concord.invalid/docs/checks";

/// Description of one finding code, for SARIF `rules[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub id: String,
    pub short: String,
    pub full: String,
    pub help: String,
    pub default_severity: Severity,
}

impl RuleInfo {
    pub fn new(
        id: impl Into<String>,
        default_severity: Severity,
        short: impl Into<String>,
        full: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        RuleInfo {
            id: id.into(),
            short: short.into(),
            full: full.into(),
            help: help.into(),
            default_severity,
        }
    }
}

/// Rules for the codes produced by [`crate::finding::apply_suppressions`].
pub fn suppression_rules() -> Vec<RuleInfo> {
    use crate::finding::{SUPPRESSION_MALFORMED, SUPPRESSION_WITHOUT_REASON, UNUSED_SUPPRESSION};
    let syntax = "Write `<!-- concord-ignore CODE[, CODE]: reason -->` on its own line, \
                  directly above the line it applies to.";
    vec![
        RuleInfo::new(
            SUPPRESSION_WITHOUT_REASON,
            Severity::Warning,
            "Suppression marker without a reason",
            "A concord-ignore marker names codes but gives no reason; it suppresses nothing.",
            syntax,
        ),
        RuleInfo::new(
            SUPPRESSION_MALFORMED,
            Severity::Warning,
            "Suppression marker that cannot be read",
            "A concord-ignore marker names no code or has words that are not codes before \
             the colon; it suppresses nothing.",
            syntax,
        ),
        RuleInfo::new(
            UNUSED_SUPPRESSION,
            Severity::Advisory,
            "Suppression that matched nothing",
            "A concord-ignore marker (or one of its codes) matched no finding on the line it \
             applies to.",
            "Remove the stale code from the marker, or the whole marker.",
        ),
    ]
}

/// Counts by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub advisories: usize,
    pub total: usize,
    /// Findings that fail the check (errors).
    pub gating: usize,
}

pub fn summarize(findings: &[Finding]) -> Summary {
    let mut s = Summary::default();
    for f in findings {
        match f.severity {
            Severity::Error => s.errors += 1,
            Severity::Warning => s.warnings += 1,
            Severity::Advisory => s.advisories += 1,
        }
        if f.severity.gates() {
            s.gating += 1;
        }
        s.total += 1;
    }
    s
}

impl fmt::Display for Summary {
    /// `1 error, 2 warnings, 0 advisories`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural =
            |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        write!(
            f,
            "{} {}, {} {}, {} {}",
            self.errors,
            plural(self.errors, "error", "errors"),
            self.warnings,
            plural(self.warnings, "warning", "warnings"),
            self.advisories,
            plural(self.advisories, "advisory", "advisories"),
        )
    }
}

/// The output order: path, line (file-level first), column, code, then the
/// rest so that equal-looking findings still come out the same way.
pub fn output_order(a: &Finding, b: &Finding) -> Ordering {
    (&a.path, a.line, a.column, &a.code, a.end_column, &a.repo)
        .cmp(&(&b.path, b.line, b.column, &b.code, b.end_column, &b.repo))
        .then_with(|| a.fingerprint.cmp(&b.fingerprint))
        .then_with(|| a.message.cmp(&b.message))
}

/// References to `findings` in output order.
pub fn sorted(findings: &[Finding]) -> Vec<&Finding> {
    let mut v: Vec<&Finding> = findings.iter().collect();
    v.sort_by(|a, b| output_order(a, b));
    v
}

/// The findings with fingerprints: borrowed when all have one, else a copy
/// fingerprinted as a whole (so duplicate numbering stays consistent).
fn ready(findings: &[Finding]) -> Cow<'_, [Finding]> {
    if findings.iter().all(|f| !f.fingerprint.is_empty()) {
        Cow::Borrowed(findings)
    } else {
        let mut owned = findings.to_vec();
        assign_fingerprints(&mut owned);
        Cow::Owned(owned)
    }
}

// ---------------------------------------------------------------------------
// Text

struct Palette {
    on: bool,
}

impl Palette {
    fn paint(&self, style: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{style}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn severity_style(sev: Severity) -> &'static str {
        match sev {
            Severity::Error => "1;31",
            Severity::Warning => "1;33",
            Severity::Advisory => "1;36",
        }
    }
}

const BOLD: &str = "1";
const GUTTER: &str = "1;34";

/// Replaces control characters (other than tab) so that file content and
/// messages cannot drive the terminal; one character in, one out, so
/// columns keep pointing at the same characters.
fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\t' => '\t',
                '\n' | '\r' | '\u{b}' | '\u{c}' => ' ',
                c if c.is_control() => '\u{fffd}',
                c => c,
            })
            .collect(),
    )
}

/// Terminal cells taken by a character: a small table for the common
/// zero-width (combining marks, joiners, BOM) and wide (CJK, emoji) ranges;
/// exact widths would need a Unicode width table.
fn cells(c: char) -> usize {
    match c as u32 {
        0x0300..=0x036F
        | 0x1AB0..=0x1AFF
        | 0x1DC0..=0x1DFF
        | 0x200B..=0x200F
        | 0x20D0..=0x20FF
        | 0xFE00..=0xFE0F
        | 0xFE20..=0xFE2F
        | 0xFEFF => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// The line `n` (1-based) of `text`, without its line ending.
fn nth_line(text: &str, n: u32) -> Option<&str> {
    let idx = usize::try_from(n.checked_sub(1)?).ok()?;
    text.lines().nth(idx)
}

/// Padding and carets under `line` for the 1-based character columns
/// `column..end_column` (end exclusive; one caret when there is no end or it
/// is not after the start). Tabs in the padding are kept as tabs so the
/// carets line up however the terminal expands them.
pub fn underline(line: &str, column: u32, end_column: Option<u32>) -> (String, String) {
    let chars: Vec<char> = line.chars().collect();
    let to_index = |c: u32| usize::try_from(c.saturating_sub(1)).unwrap_or(usize::MAX);
    let start = to_index(column).min(chars.len());
    let end = match end_column {
        Some(e) if e > column => to_index(e).min(chars.len()),
        _ => start + 1,
    }
    .max(start + 1);
    let mut pad = String::new();
    for &c in &chars[..start] {
        if c == '\t' {
            pad.push('\t');
        } else {
            pad.extend(std::iter::repeat_n(' ', cells(c)));
        }
    }
    let mut carets = String::new();
    for i in start..end {
        let n = chars
            .get(i)
            .map_or(1, |&c| if c == '\t' { 1 } else { cells(c) });
        carets.extend(std::iter::repeat_n('^', n));
    }
    if carets.is_empty() {
        carets.push('^');
    }
    (pad, carets)
}

/// Compiler-like text:
///
/// ```text
/// plans/q3.md:5:7: error[OWNER_MISSING]: item PLAN-1 has no owner
///  5 | - [ ] PLAN-1 ship it
///    |       ^^^^^^
///    = item: PLAN-1
/// ```
///
/// then `N errors, N warnings, N advisories`. `sources(path)` gives a file's
/// text when it is available (else the snippet is left out); each path is
/// asked once. ANSI colours only when `color`.
pub fn text(
    findings: &[Finding],
    sources: &dyn Fn(&str) -> Option<String>,
    color: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    let p = Palette { on: color };
    let mut cache: HashMap<&str, Option<String>> = HashMap::new();
    for f in sorted(findings) {
        let sev_style = Palette::severity_style(f.severity);
        let mut location = if f.path.is_empty() {
            "(workspace)".to_string()
        } else {
            f.path.clone()
        };
        if let Some(line) = f.line {
            location.push_str(&format!(":{line}"));
            if let Some(col) = f.column {
                location.push_str(&format!(":{col}"));
            }
        }
        writeln!(
            out,
            "{} {}{}",
            p.paint(BOLD, &format!("{}:", sanitize(&location))),
            p.paint(sev_style, &format!("{}[{}]", f.severity, sanitize(&f.code))),
            p.paint(BOLD, &format!(": {}", sanitize(&f.message))),
        )?;

        let snippet = match (f.line, f.path.is_empty()) {
            (Some(n), false) => {
                let text = cache
                    .entry(f.path.as_str())
                    .or_insert_with(|| sources(&f.path));
                text.as_deref()
                    .and_then(|t| nth_line(t, n))
                    .map(|l| (n, sanitize(l).into_owned()))
            }
            _ => None,
        };
        let width = snippet.as_ref().map_or(1, |(n, _)| n.to_string().len());
        let blank = " ".repeat(width);
        let mut extra = false;
        if let Some((n, src)) = &snippet {
            extra = true;
            writeln!(out, "{} {}", p.paint(GUTTER, &format!(" {n} |")), src)?;
            if let Some(col) = f.column {
                let (pad, carets) = underline(src, col, f.end_column);
                writeln!(
                    out,
                    "{} {pad}{}",
                    p.paint(GUTTER, &format!(" {blank} |")),
                    p.paint(sev_style, &carets)
                )?;
            }
        }
        let notes = [("item", f.key.as_deref()), ("repo", f.repo.as_deref())];
        for (label, value) in notes {
            if let Some(v) = value {
                extra = true;
                writeln!(
                    out,
                    "{} {label}: {}",
                    p.paint(GUTTER, &format!(" {blank} =")),
                    sanitize(v)
                )?;
            }
        }
        if extra {
            writeln!(out)?;
        }
    }
    writeln!(out, "{}", p.paint(BOLD, &summarize(findings).to_string()))
}

// ---------------------------------------------------------------------------
// JSON

/// Something a run says once about itself instead of once per place: the
/// citations it could not check, that it ran offline. Text prints it as
/// one `note:` line, JSON in `notes`, SARIF as one tool notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct RunNote {
    /// Stable: `CITATIONS_UNCHECKED`.
    pub code: String,
    pub message: String,
}

/// One `note: MESSAGE` line per note (after the findings and summary).
pub fn notes_text(notes: &[RunNote], color: bool, out: &mut impl Write) -> io::Result<()> {
    let p = Palette { on: color };
    for note in notes {
        writeln!(
            out,
            "{} {}",
            p.paint(BOLD, "note:"),
            sanitize(&note.message)
        )?;
    }
    Ok(())
}

/// The document of `concord check --format json` (and of a check job in
/// `concord serve`).
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "CheckFindings")]
pub struct JsonDoc<'a> {
    /// The shape of this document; it changes when a field changes meaning.
    pub version: u32,
    /// In output order.
    pub findings: Vec<&'a Finding>,
    pub summary: Summary,
    /// What the run says about itself once (left out when nothing).
    #[serde(skip_serializing_if = "<[RunNote]>::is_empty")]
    pub notes: &'a [RunNote],
}

/// `{ "version": 1, "findings": [...], "summary": {...} }`, pretty-printed,
/// findings in output order, ending with a newline.
pub fn json(findings: &[Finding], out: &mut impl Write) -> io::Result<()> {
    json_with_notes(findings, &[], out)
}

/// [`json`] with the run's notes.
pub fn json_with_notes(
    findings: &[Finding],
    notes: &[RunNote],
    out: &mut impl Write,
) -> io::Result<()> {
    let ready = ready(findings);
    let doc = JsonDoc {
        version: JSON_VERSION,
        findings: sorted(&ready),
        summary: summarize(&ready),
        notes,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

// ---------------------------------------------------------------------------
// SARIF

fn sarif_level(sev: Severity) -> &'static str {
    match sev {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Advisory => "note",
    }
}

/// A repo-relative path as a relative URI reference: `/` kept, everything
/// outside the unreserved set percent-encoded (a `:` in the first segment
/// would otherwise read as a scheme; spaces and `#` break URIs).
pub fn path_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn rule_json(id: &str, short: &str, full: &str, help: &str, sev: Severity) -> Value {
    json!({
        "id": id,
        "shortDescription": { "text": short },
        "fullDescription": { "text": full },
        "help": { "text": help },
        "defaultConfiguration": { "level": sarif_level(sev) },
    })
}

/// SARIF 2.1.0 with one run, suitable for GitHub code scanning upload.
///
/// `rules` describe the codes; a code without a description gets a minimal
/// rule so every result has a `ruleIndex`. `category` becomes
/// `runs[0].automationDetails.id` = `"{category}/"` (left out when empty).
/// With a `baseline`, each result carries `baselineState` (`new`,
/// `unchanged`, or `absent` for findings of `baseline.fixed` passed in
/// `findings`). Findings without a line have no `region`; findings without a
/// path point at the repository root (`.`) because GitHub rejects results
/// without a location.
pub fn sarif(
    findings: &[Finding],
    rules: &[RuleInfo],
    category: &str,
    baseline: Option<&Delta<'_>>,
    out: &mut impl Write,
) -> io::Result<()> {
    sarif_with_notes(findings, rules, category, baseline, &[], out)
}

/// [`sarif`] with the run's notes, each one
/// `invocations[0].toolExecutionNotifications` entry of level `note` (not
/// a result: code scanning shows results as alerts, one per place).
pub fn sarif_with_notes(
    findings: &[Finding],
    rules: &[RuleInfo],
    category: &str,
    baseline: Option<&Delta<'_>>,
    notes: &[RunNote],
    out: &mut impl Write,
) -> io::Result<()> {
    let ready = ready(findings);
    let list = sorted(&ready);

    let mut rule_values = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for r in rules {
        if index.contains_key(r.id.as_str()) {
            continue;
        }
        index.insert(&r.id, rule_values.len());
        rule_values.push(rule_json(
            &r.id,
            &r.short,
            &r.full,
            &r.help,
            r.default_severity,
        ));
    }
    for f in &list {
        if index.contains_key(f.code.as_str()) {
            continue;
        }
        index.insert(&f.code, rule_values.len());
        let text = format!("concord check {}", f.code);
        rule_values.push(rule_json(&f.code, &f.code, &text, &text, f.severity));
    }

    let mut results = Vec::with_capacity(list.len());
    for f in &list {
        let mut physical = Map::new();
        let uri = if f.path.is_empty() {
            ".".to_string()
        } else {
            path_uri(&f.path)
        };
        physical.insert("artifactLocation".into(), json!({ "uri": uri }));
        // SARIF lines and columns start at 1; a 0 would make the file invalid.
        if let Some(line) = f.line.filter(|l| *l >= 1) {
            let mut region = Map::new();
            region.insert("startLine".into(), json!(line));
            if let Some(col) = f.column.filter(|c| *c >= 1) {
                region.insert("startColumn".into(), json!(col));
                if let Some(end) = f.end_column.filter(|e| *e > col) {
                    region.insert("endColumn".into(), json!(end));
                }
            }
            physical.insert("region".into(), Value::Object(region));
        }
        let message = if f.message.trim().is_empty() {
            f.code.as_str()
        } else {
            f.message.as_str()
        };
        let mut result = json!({
            "ruleId": f.code,
            "ruleIndex": index.get(f.code.as_str()).copied().unwrap_or(0),
            "level": sarif_level(f.severity),
            "message": { "text": message },
            "locations": [ { "physicalLocation": Value::Object(physical) } ],
            "partialFingerprints": {
                "primaryLocationLineHash": f.fingerprint,
                format!("concord/{FINGERPRINT_VERSION}"): f.fingerprint,
            },
        });
        if let Some(state) = baseline.and_then(|d| d.state_of(f)) {
            result["baselineState"] = json!(state.as_str());
        }
        results.push(result);
    }

    let mut run = json!({
        "tool": {
            "driver": {
                "name": "concord",
                "informationUri": INFORMATION_URI,
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rule_values,
            }
        },
        // Our columns count characters, not UTF-16 code units.
        "columnKind": "unicodeCodePoints",
        "results": results,
    });
    if !notes.is_empty() {
        let notifications: Vec<Value> = notes
            .iter()
            .map(|n| {
                json!({
                    "level": "note",
                    "message": { "text": n.message },
                    "descriptor": { "id": n.code },
                })
            })
            .collect();
        run["invocations"] = json!([{
            "executionSuccessful": true,
            "toolExecutionNotifications": notifications,
        }]);
    }
    let category = category.trim().trim_end_matches('/');
    if !category.is_empty() {
        run["automationDetails"] = json!({ "id": format!("{category}/") });
    }
    let doc = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [run],
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

// ---------------------------------------------------------------------------
// Tests

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::compare;

    fn render_text(findings: &[Finding], src: &[(&str, &str)], color: bool) -> String {
        let map: HashMap<String, String> = src
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        let sources = move |p: &str| map.get(p).cloned();
        let mut out = Vec::new();
        text(findings, &sources, color, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn render_json(findings: &[Finding]) -> String {
        let mut out = Vec::new();
        json(findings, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn render_sarif(
        findings: &[Finding],
        rules: &[RuleInfo],
        baseline: Option<&Delta<'_>>,
    ) -> Value {
        let mut out = Vec::new();
        sarif(findings, rules, "pr", baseline, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    const PLAN: &str = "# Plan\n\n- [ ] PLAN-1 ship it\n- [x] PLAN-2 done\n";

    #[test]
    fn text_underlines_the_span() {
        let f = Finding::error("OWNER_MISSING", "plans/q3.md", "item PLAN-1 has no owner")
            .span(3, 7, 13)
            .for_key("PLAN-1");
        let got = render_text(&[f], &[("plans/q3.md", PLAN)], false);
        let want = "\
plans/q3.md:3:7: error[OWNER_MISSING]: item PLAN-1 has no owner
 3 | - [ ] PLAN-1 ship it
   |       ^^^^^^
   = item: PLAN-1

1 error, 0 warnings, 0 advisories
";
        assert_eq!(got, want);
    }

    #[test]
    fn text_single_caret_without_end_and_multibyte_prefix() {
        // "é" and "ü" are two bytes each, "日本" three bytes and two cells each.
        let src = "line one\nOwnér: Müller <- here\n日本 x\n";
        let a = Finding::warning("W", "a.md", "caret").at(2, 8);
        let b = Finding::warning("W", "a.md", "span").span(2, 8, 14);
        let c = Finding::advisory("A", "a.md", "wide").span(3, 4, 5);
        let got = render_text(&[c, b, a], &[("a.md", src)], false);
        let want = "\
a.md:2:8: warning[W]: caret
 2 | Ownér: Müller <- here
   |        ^

a.md:2:8: warning[W]: span
 2 | Ownér: Müller <- here
   |        ^^^^^^

a.md:3:4: advisory[A]: wide
 3 | 日本 x
   |      ^

0 errors, 2 warnings, 1 advisory
";
        assert_eq!(got, want);
    }

    #[test]
    fn underline_edge_cases() {
        // Tabs are mirrored, spans clamp to the line, end <= start is one caret.
        assert_eq!(underline("\tab", 2, Some(3)), ("\t".into(), "^".into()));
        assert_eq!(underline("abc", 2, Some(99)), (" ".into(), "^^".into()));
        assert_eq!(underline("abc", 3, Some(2)), ("  ".into(), "^".into()));
        assert_eq!(underline("abc", 10, None), ("   ".into(), "^".into()));
        assert_eq!(underline("", 1, Some(5)), ("".into(), "^".into()));
        assert_eq!(underline("abc", 0, None), ("".into(), "^".into()));
    }

    #[test]
    fn text_without_source_or_line_and_with_color() {
        let f = Finding::error("E", "missing.md", "no source").at(4, 2);
        let g = Finding::advisory("A", "", "workspace-wide").in_repo("plans");
        let h = Finding::warning("W", "x.md", "file level");
        let got = render_text(&[f.clone(), g, h], &[], false);
        let want = "\
(workspace): advisory[A]: workspace-wide
   = repo: plans

missing.md:4:2: error[E]: no source
x.md: warning[W]: file level
1 error, 1 warning, 1 advisory
";
        assert_eq!(got, want);
        let colored = render_text(&[f], &[], true);
        assert!(colored.contains("\x1b[1;31merror[E]\x1b[0m"), "{colored:?}");
        assert!(!got.contains('\x1b'));
    }

    #[test]
    fn text_neutralises_control_characters() {
        let f = Finding::error("E", "a.md", "bad\x1b[2Jmessage\nsecond").at(1, 1);
        let got = render_text(&[f], &[("a.md", "x\x1by\n")], false);
        assert!(!got.contains('\x1b'), "{got:?}");
        assert!(got.contains("bad\u{fffd}[2Jmessage second"));
        assert!(got.contains(" 1 | x\u{fffd}y\n"));
    }

    #[test]
    fn text_asks_for_each_source_once() {
        use std::cell::Cell;
        let calls = Cell::new(0);
        let sources = |_: &str| {
            calls.set(calls.get() + 1);
            Some(PLAN.to_string())
        };
        let v = vec![
            Finding::error("A", "p.md", "m").at(1, 1),
            Finding::error("B", "p.md", "m").at(3, 1),
        ];
        let mut out = Vec::new();
        text(&v, &sources, false, &mut out).unwrap();
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn json_is_sorted_stable_and_versioned() {
        let v = vec![
            Finding::warning("Z", "b.md", "m").at_line(1),
            Finding::error("B", "a.md", "m").at_line(10),
            Finding::error("A", "a.md", "m").at_line(10),
            Finding::advisory("C", "a.md", "m").at_line(2),
            Finding::advisory("F", "a.md", "file level"),
        ];
        let out = render_json(&v);
        assert!(out.ends_with("}\n"));
        let doc: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["version"], 1);
        let order: Vec<(&str, &str)> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["path"].as_str().unwrap(), f["code"].as_str().unwrap()))
            .collect();
        assert_eq!(
            order,
            [
                ("a.md", "F"),
                ("a.md", "C"),
                ("a.md", "A"),
                ("a.md", "B"),
                ("b.md", "Z")
            ]
        );
        assert_eq!(
            doc["summary"],
            json!({"errors": 2, "warnings": 1, "advisories": 2, "total": 5, "gating": 2})
        );
        // Fingerprints are filled in and the output does not depend on input order.
        assert!(
            doc["findings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["fingerprint"].as_str().unwrap().len() == 64)
        );
        let mut rev = v.clone();
        rev.reverse();
        assert_eq!(render_json(&rev), out);
        // Pre-fingerprinted input renders the same.
        let mut fp = v.clone();
        assign_fingerprints(&mut fp);
        assert_eq!(render_json(&fp), out);
    }

    #[test]
    fn json_empty() {
        let doc: Value = serde_json::from_str(&render_json(&[])).unwrap();
        assert_eq!(doc["findings"], json!([]));
        assert_eq!(doc["summary"]["total"], 0);
    }

    fn sarif_findings() -> Vec<Finding> {
        let mut v = vec![
            Finding::error(
                "OWNER_MISSING",
                "./plans//q3 plan.md",
                "item PLAN-1 has no owner",
            )
            .span(3, 7, 13)
            .for_key("PLAN-1"),
            Finding::warning(
                "STATUS_UNKNOWN",
                "state/items.json",
                "status `doing?` is unknown",
            )
            .at(12, 5)
            .with_anchor("/items/0/status")
            .with_evidence("doing?"),
            Finding::advisory(
                "CITATION_UNRESOLVED",
                "README.md",
                "cannot check PR #12 offline",
            ),
        ];
        assign_fingerprints(&mut v);
        v
    }

    fn rules() -> Vec<RuleInfo> {
        vec![
            RuleInfo::new(
                "OWNER_MISSING",
                Severity::Error,
                "Item has no owner",
                "Every open item must name an owner.",
                "Add `owner:` to the item.",
            ),
            RuleInfo::new(
                "STATUS_UNKNOWN",
                Severity::Warning,
                "Unknown status",
                "The status is not in the workflow.",
                "Use a status from the workflow.",
            ),
        ]
    }

    #[test]
    fn sarif_structure() {
        let v = sarif_findings();
        let doc = render_sarif(&v, &rules(), None);
        assert_eq!(doc["$schema"], SARIF_SCHEMA);
        assert_eq!(doc["version"], "2.1.0");
        let run = &doc["runs"][0];
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "concord");
        assert!(
            driver["informationUri"]
                .as_str()
                .unwrap()
                .starts_with("https://")
        );
        assert_eq!(run["automationDetails"]["id"], "pr/");
        assert_eq!(run["columnKind"], "unicodeCodePoints");

        let rules = driver["rules"].as_array().unwrap();
        // Two given rules plus one minimal rule for the undescribed code.
        assert_eq!(rules.len(), 3);
        for r in rules {
            for field in ["shortDescription", "fullDescription", "help"] {
                assert!(r[field]["text"].is_string(), "{field} in {r}");
            }
            assert!(r["id"].is_string());
            assert!(r["defaultConfiguration"]["level"].is_string());
        }
        assert_eq!(rules[2]["id"], "CITATION_UNRESOLVED");
        assert_eq!(rules[2]["defaultConfiguration"]["level"], "note");

        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        for r in results {
            let idx = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[idx]["id"], r["ruleId"]);
            assert!(!r["message"]["text"].as_str().unwrap().is_empty());
            let fp = r["partialFingerprints"]["primaryLocationLineHash"]
                .as_str()
                .unwrap();
            assert_eq!(fp.len(), 64);
            assert_eq!(r["partialFingerprints"]["concord/v1"], fp);
            assert!(r.get("baselineState").is_none());
            let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap();
            assert!(
                !uri.starts_with('/') && !uri.starts_with("./") && !uri.contains('\\'),
                "{uri}"
            );
        }
        // Sorted by path: README.md, plans/..., state/...
        let by_rule = |id: &str| results.iter().find(|r| r["ruleId"] == id).unwrap();
        let owner = by_rule("OWNER_MISSING");
        assert_eq!(owner["level"], "error");
        let loc = &owner["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "plans/q3%20plan.md");
        assert_eq!(
            loc["region"],
            json!({"startLine": 3, "startColumn": 7, "endColumn": 13})
        );
        assert_eq!(
            owner["partialFingerprints"]["primaryLocationLineHash"],
            v[0].fingerprint
        );

        let status = by_rule("STATUS_UNKNOWN");
        assert_eq!(status["level"], "warning");
        assert_eq!(
            status["locations"][0]["physicalLocation"]["region"],
            json!({"startLine": 12, "startColumn": 5})
        );

        let cite = by_rule("CITATION_UNRESOLVED");
        assert_eq!(cite["level"], "note");
        assert!(
            cite["locations"][0]["physicalLocation"]
                .get("region")
                .is_none()
        );
    }

    #[test]
    fn sarif_baseline_states_and_category() {
        let after = sarif_findings();
        let mut before = vec![
            after[1].clone(),
            Finding::error("GONE", "old.md", "fixed since"),
        ];
        assign_fingerprints(&mut before);
        let delta = compare(&before, &after);
        let mut shown: Vec<Finding> = after.clone();
        shown.extend(delta.fixed.iter().map(|f| (*f).clone()));
        let mut out = Vec::new();
        sarif(&shown, &[], "schedule/", Some(&delta), &mut out).unwrap();
        let doc: Value = serde_json::from_slice(&out).unwrap();
        let run = &doc["runs"][0];
        assert_eq!(run["automationDetails"]["id"], "schedule/");
        let state = |id: &str| {
            run["results"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["ruleId"] == id)
                .unwrap()["baselineState"]
                .clone()
        };
        assert_eq!(state("OWNER_MISSING"), "new");
        assert_eq!(state("CITATION_UNRESOLVED"), "new");
        assert_eq!(state("STATUS_UNKNOWN"), "unchanged");
        assert_eq!(state("GONE"), "absent");

        let mut out = Vec::new();
        sarif(&after, &[], "", None, &mut out).unwrap();
        let doc: Value = serde_json::from_slice(&out).unwrap();
        assert!(doc["runs"][0].get("automationDetails").is_none());
    }

    #[test]
    fn sarif_edge_cases() {
        // Unfingerprinted input, a path-less finding, line 0 and a duplicate rule.
        let v = vec![
            Finding::error("E", "", "workspace-wide"),
            Finding::error("E", "a:b.md", "").at(0, 3),
        ];
        let mut dup = rules();
        dup.push(dup[0].clone());
        let doc = render_sarif(&v, &dup, None);
        let run = &doc["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 3);
        let results = run["results"].as_array().unwrap();
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "."
        );
        let second = &results[1];
        assert_eq!(
            second["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "a%3Ab.md"
        );
        assert!(
            second["locations"][0]["physicalLocation"]
                .get("region")
                .is_none()
        );
        assert_eq!(second["message"]["text"], "E");
        assert_eq!(
            second["partialFingerprints"]["primaryLocationLineHash"]
                .as_str()
                .unwrap()
                .len(),
            64
        );
    }

    #[test]
    fn path_uri_encodes() {
        assert_eq!(path_uri("docs/plan.md"), "docs/plan.md");
        assert_eq!(path_uri("docs/my plan#1.md"), "docs/my%20plan%231.md");
        assert_eq!(path_uri("docs/é.md"), "docs/%C3%A9.md");
    }

    #[test]
    fn suppression_rules_cover_problem_codes() {
        let ids: Vec<String> = suppression_rules().into_iter().map(|r| r.id).collect();
        for code in [
            crate::finding::SUPPRESSION_WITHOUT_REASON,
            crate::finding::SUPPRESSION_MALFORMED,
            crate::finding::UNUSED_SUPPRESSION,
        ] {
            assert!(ids.iter().any(|i| i == code));
        }
    }

    #[test]
    fn summary_display_pluralises() {
        let s = Summary {
            errors: 1,
            warnings: 2,
            advisories: 1,
            total: 4,
            gating: 1,
        };
        assert_eq!(s.to_string(), "1 error, 2 warnings, 1 advisory");
        assert_eq!(
            Summary::default().to_string(),
            "0 errors, 0 warnings, 0 advisories"
        );
    }
}
