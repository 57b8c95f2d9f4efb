//! The built-in checks over one file's bytes (JSON validity, schemas,
//! owners, legacy keys) and over what a scan saw (unknown statuses,
//! duplicate keys, unreadable rows, items dangling or drifting between the
//! sources of a sync rule). Pure: the caller reads files and the hub.

use crate::catalog;
use crate::finding::{Finding, Severity};
use concord_formats::json::position_of;
use concord_model::{Observation, Warning, WarningCode};
use concord_workspace::Workspace;
use concord_workspace::checks_config::Checks;
use std::collections::{BTreeMap, BTreeSet};

/// One file to check, as read (from the working tree, the index or a commit).
pub struct FileInput<'a> {
    /// Index into `Workspace::repos`.
    pub repo: usize,
    pub path: &'a str,
    pub bytes: &'a [u8],
}

/// Where in a file a finding points.
#[derive(Debug, Clone, Copy, Default)]
pub struct At {
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub end_column: Option<u32>,
}

/// A finding with the code's default severity; the fingerprint is filled
/// in later, over the whole set.
#[allow(clippy::too_many_arguments)]
pub fn finding(
    code: &str,
    repo: Option<&str>,
    path: &str,
    at: At,
    key: Option<&str>,
    message: String,
    anchor: &str,
    evidence: &str,
) -> Finding {
    Finding {
        code: code.to_string(),
        severity: catalog::info(code).map_or(Severity::Warning, |c| c.severity),
        path: path.to_string(),
        repo: repo.map(str::to_string),
        line: at.line,
        column: at.column,
        end_column: at.end_column,
        key: key.map(str::to_string),
        message,
        subject: key.map_or_else(|| path.to_string(), str::to_string),
        anchor: anchor.to_string(),
        evidence: evidence.to_string(),
        fingerprint: String::new(),
    }
}

/// The checks that look at one file at a time, with their schemas compiled.
pub struct FileChecks<'w> {
    ws: &'w Workspace,
    schemas: Vec<(usize, jsonschema::Validator)>,
}

impl<'w> FileChecks<'w> {
    /// Compiles every configured schema; one that is not a valid JSON
    /// Schema is an error naming its file.
    pub fn new(ws: &'w Workspace) -> Result<FileChecks<'w>, String> {
        let mut schemas = Vec::new();
        for (index, check) in ws.checks.schemas.iter().enumerate() {
            let validator = jsonschema::validator_for(&check.schema).map_err(|e| {
                format!(
                    "{} is not a valid JSON Schema: {e} (at {})",
                    check.schema_path.display(),
                    e.instance_path()
                )
            })?;
            schemas.push((index, validator));
        }
        Ok(FileChecks { ws, schemas })
    }

    fn checks(&self) -> &Checks {
        &self.ws.checks
    }

    /// Whether any file check looks at this file.
    pub fn covers(&self, repo: usize, path: &str) -> bool {
        let checks = self.checks();
        checks.schemas.iter().any(|s| s.scope.covers(repo, path))
            || checks
                .owner
                .as_ref()
                .is_some_and(|o| o.scope.covers(repo, path))
            || checks
                .legacy
                .as_ref()
                .is_some_and(|l| l.scope.covers(repo, path))
    }

    pub fn check(&self, file: &FileInput<'_>) -> Vec<Finding> {
        if !self.covers(file.repo, file.path) {
            return Vec::new();
        }
        let repo_name = self.ws.repos[file.repo].name.as_str();
        let doc = match parse_document(file, repo_name) {
            Ok(doc) => doc,
            Err(finding) => return vec![*finding],
        };
        let checks = self.checks();
        let mut out = self.schema_findings(file, repo_name, &doc);
        if let Some(owner) = &checks.owner
            && owner.scope.covers(file.repo, file.path)
        {
            out.extend(self.owner_finding(file, repo_name, &doc));
        }
        if let Some(legacy) = &checks.legacy
            && legacy.scope.covers(file.repo, file.path)
        {
            for (old, new) in &legacy.fields {
                if doc.pointer(old).is_some() {
                    out.push(finding(
                        "LEGACY_FIELD",
                        Some(repo_name),
                        file.path,
                        at(file.bytes, old),
                        None,
                        format!("`{old}` is deprecated: use `{new}`"),
                        old,
                        "",
                    ));
                }
            }
        }
        // One problem, one finding: a schema's "required" for the owner
        // field says what OWNER_MISSING already says.
        if let Some(owner) = &checks.owner
            && out.iter().any(|f| f.code == "OWNER_MISSING")
        {
            let name = owner.field.rsplit('/').next().unwrap_or_default();
            let parent = &owner.field[..owner.field.len() - name.len()].trim_end_matches('/');
            out.retain(|f| {
                !(f.code == "SCHEMA"
                    && f.evidence == "required"
                    && f.anchor == *parent
                    && f.message.contains(&format!("\"{name}\"")))
            });
        }
        // Exemption markers: an item carrying the field skips those codes.
        out.retain(|f| {
            !checks.exempt.iter().any(|(field, codes)| {
                let pointer = if field.starts_with('/') {
                    field.clone()
                } else {
                    format!("/{field}")
                };
                codes.contains(&f.code) && doc.pointer(&pointer).is_some_and(|v| !v.is_null())
            })
        });
        out
    }

    fn schema_findings(
        &self,
        file: &FileInput<'_>,
        repo_name: &str,
        doc: &serde_json::Value,
    ) -> Vec<Finding> {
        let checks = self.checks();
        let mut out = Vec::new();
        for (index, validator) in &self.schemas {
            if !checks.schemas[*index].scope.covers(file.repo, file.path) {
                continue;
            }
            for error in validator.iter_errors(doc) {
                let pointer = error.instance_path().to_string();
                let shown = if pointer.is_empty() { "/" } else { &pointer };
                let evidence = error.kind().keyword().to_string();
                out.push(finding(
                    "SCHEMA",
                    Some(repo_name),
                    file.path,
                    at(file.bytes, &pointer),
                    None,
                    format!("{shown}: {error}"),
                    &pointer,
                    &evidence,
                ));
            }
        }
        out
    }

    /// The owner field: present, one of the known owners, and the file in
    /// its owner's repo (or marked as a mirror of it).
    fn owner_finding(
        &self,
        file: &FileInput<'_>,
        repo_name: &str,
        doc: &serde_json::Value,
    ) -> Option<Finding> {
        let owner = self.checks().owner.as_ref()?;
        let Some(value) = doc.pointer(&owner.field).filter(|v| !v.is_null()) else {
            return Some(finding(
                "OWNER_MISSING",
                Some(repo_name),
                file.path,
                at(file.bytes, ""),
                None,
                format!("no `{}` naming the file's owner", owner.field),
                &owner.field,
                "",
            ));
        };
        let word = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string);
        // Repos are matched by exact name, never by prefix.
        let owning = match owner.owners.get(&word) {
            None => {
                let known: Vec<&str> = owner.owners.keys().map(String::as_str).collect();
                return Some(finding(
                    "OWNER_INVALID",
                    Some(repo_name),
                    file.path,
                    at(file.bytes, &owner.field),
                    None,
                    format!("owner `{word}` is not one of: {}", known.join(", ")),
                    &owner.field,
                    &word,
                ));
            }
            Some(owning) if owning.index != Some(file.repo) => owning,
            Some(_) => return None,
        };
        let elsewhere = if owning.index.is_some() {
            format!("repo {}", owning.name)
        } else {
            format!("repo {}, not checked out here", owning.name)
        };
        let mismatch = |message: String, pointer: &str| {
            finding(
                "OWNER_LOCATION_MISMATCH",
                Some(repo_name),
                file.path,
                at(file.bytes, pointer),
                None,
                message,
                &owner.field,
                &word,
            )
        };
        // A [[mirror]] rule covering the file marks its mirrors itself.
        let rule_mirror = self.ws.mirrors.iter().any(|m| {
            m.repos.contains(&file.repo)
                && m.matcher.is_match(file.path)
                && doc.get(&m.marker_field).is_some_and(|v| !v.is_null())
        });
        if rule_mirror {
            return None;
        }
        let marker = owner.mirror_marker.as_deref();
        let marked = marker.and_then(|m| doc.pointer(m).map(|v| (m, v)));
        match marked.map(|(m, v)| {
            (
                m,
                mirror_marker_verdict(v, owner.mirror_value.as_deref(), &word),
            )
        }) {
            Some((_, MarkerVerdict::Mirror)) => None,
            Some((m, MarkerVerdict::Wrong { found, expected })) => Some(mismatch(
                format!(
                    "owned by `{word}` ({elsewhere}) but lives in repo {repo_name}, and its \
                     mirror marker `{m}` is {found}, not {expected}"
                ),
                m,
            )),
            Some((_, MarkerVerdict::Absent)) | None => Some(mismatch(
                format!("owned by `{word}` ({elsewhere}) but lives in repo {repo_name}"),
                &owner.field,
            )),
        }
    }
}

/// What a file's mirror marker value says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerVerdict {
    /// The file is a mirror of its owner's copy.
    Mirror,
    /// No marker (null counts as none).
    Absent,
    /// A marker that does not mark a mirror: `found` and `expected` are
    /// for the message.
    Wrong { found: String, expected: String },
}

/// Whether a mirror marker's value exempts a file owned by `owner`. With a
/// configured `template` (`{owner}` replaced) only that exact string does;
/// without one, any value but `false` and `""` (a cleared or disabled
/// marker is not a claim of being a mirror).
pub fn mirror_marker_verdict(
    value: &serde_json::Value,
    template: Option<&str>,
    owner: &str,
) -> MarkerVerdict {
    if value.is_null() {
        return MarkerVerdict::Absent;
    }
    match template {
        Some(template) => {
            let expected = template.replace("{owner}", owner);
            if value.as_str() == Some(expected.as_str()) {
                MarkerVerdict::Mirror
            } else {
                MarkerVerdict::Wrong {
                    found: value.to_string(),
                    expected: format!("\"{expected}\""),
                }
            }
        }
        None => match value {
            serde_json::Value::Bool(false) => MarkerVerdict::Wrong {
                found: "false".into(),
                expected: "a non-empty value".into(),
            },
            serde_json::Value::String(s) if s.trim().is_empty() => MarkerVerdict::Wrong {
                found: value.to_string(),
                expected: "a non-empty value".into(),
            },
            _ => MarkerVerdict::Mirror,
        },
    }
}

/// Where `pointer` is in the file, as far as it can be found.
fn at(bytes: &[u8], pointer: &str) -> At {
    position_of(bytes, pointer).map_or_else(At::default, |p| At {
        line: Some(p.line),
        column: Some(p.column),
        end_column: Some(p.end_column),
    })
}

/// The file as a JSON document, or the one finding that says why not.
fn parse_document(
    file: &FileInput<'_>,
    repo_name: &str,
) -> Result<serde_json::Value, Box<Finding>> {
    let text = std::str::from_utf8(file.bytes).map_err(|e| {
        let line = 1 + file.bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        Box::new(finding(
            "PARSE_ERROR",
            Some(repo_name),
            file.path,
            At {
                line: u32::try_from(line).ok(),
                ..At::default()
            },
            None,
            format!("not UTF-8 (byte {} is not valid UTF-8)", e.valid_up_to()),
            "utf-8",
            "",
        ))
    })?;
    serde_json::from_str(text).map_err(|e| {
        Box::new(finding(
            "INVALID_JSON",
            Some(repo_name),
            file.path,
            At {
                line: u32::try_from(e.line()).ok(),
                column: u32::try_from(e.column()).ok(),
                end_column: None,
            },
            None,
            format!("not valid JSON: {e}"),
            "",
            &format!("{:?}", e.classify()),
        ))
    })
}

/// Findings for what the scan warned about.
pub fn from_warnings(warnings: &[Warning]) -> Vec<Finding> {
    warnings
        .iter()
        .filter_map(|w| {
            let code = match w.code {
                WarningCode::UnknownStatus => "UNKNOWN_STATUS",
                WarningCode::DuplicateKey => "DUPLICATE_KEY",
                WarningCode::UnparseableRow | WarningCode::UnreadableFile => "PARSE_ERROR",
                WarningCode::NoFiles | WarningCode::MissingRepo => return None,
            };
            Some(finding(
                code,
                Some(&w.repo),
                &w.path,
                At {
                    line: w.line,
                    ..At::default()
                },
                None,
                w.message.clone(),
                &w.source,
                // The message names the offending word or key, not a line.
                &evidence_of(&w.message),
            ))
        })
        .collect()
}

/// The first backquoted word of a message (the offending value), else the
/// message without digits (line numbers must not move the fingerprint).
fn evidence_of(message: &str) -> String {
    if let Some(rest) = message.split_once('`').map(|(_, r)| r)
        && let Some((word, _)) = rest.split_once('`')
    {
        return word.to_string();
    }
    message.chars().filter(|c| !c.is_ascii_digit()).collect()
}

/// Items dangling between the file sources of a sync rule, and items whose
/// sources disagree (the hub counts when `hub` is given: key -> status).
///
/// An item dangles only against its sources' partners (see
/// [`partner_sources`]): a merge rule over many sources whose items each
/// live in one of them (one rule for every repo's plans and the hub) has
/// nothing dangling.
pub fn dangling_and_drift(
    ws: &Workspace,
    observations: &[&Observation],
    hub: Option<&BTreeMap<String, String>>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for rule in &ws.rules {
        // key -> source -> (observation, canonical status)
        let mut items: BTreeMap<&str, BTreeMap<&str, (&Observation, Option<String>)>> =
            BTreeMap::new();
        let members: BTreeSet<&str> = rule
            .sources
            .iter()
            .map(String::as_str)
            .filter(|s| ws.sources.iter().any(|src| src.name == *s))
            .collect();
        for obs in observations {
            if members.contains(&*obs.source) {
                let status = obs
                    .status
                    .as_ref()
                    .and_then(|s| s.canonical.as_deref().map(str::to_string));
                items
                    .entry(obs.key.as_str())
                    .or_default()
                    .insert(&obs.source, (obs, status));
            }
        }
        let partners = partner_sources(items.values().map(|by_source| by_source.keys().copied()));
        for (key, by_source) in &items {
            let Some((first, _)) = by_source.values().next() else {
                continue;
            };
            let at = At {
                line: Some(first.line),
                ..At::default()
            };
            let missing = missing_partners(&partners, by_source.keys().copied());
            if !missing.is_empty() {
                let present: Vec<&str> = by_source.keys().copied().collect();
                out.push(finding(
                    "DANGLING_ITEM",
                    Some(&first.repo),
                    &first.path,
                    at,
                    Some(key),
                    format!(
                        "{key} is in {} but not in {} (rule {})",
                        present.join(", "),
                        listed(&missing),
                        rule.name
                    ),
                    &rule.name,
                    &missing.join(","),
                ));
            }
            let mut statuses: BTreeMap<String, Vec<&str>> = BTreeMap::new();
            for (source, (_, status)) in by_source {
                if let Some(status) = status {
                    statuses.entry(status.clone()).or_default().push(source);
                }
            }
            let in_hub = rule.sources.iter().any(|s| s == "hub");
            if in_hub && let Some(value) = hub.and_then(|h| h.get(*key)) {
                statuses.entry(value.clone()).or_default().push("hub");
            }
            if statuses.len() > 1 {
                let said: Vec<String> = statuses
                    .iter()
                    .map(|(status, sources)| format!("{status} in {}", sources.join(", ")))
                    .collect();
                let evidence: Vec<&str> = statuses.keys().map(String::as_str).collect();
                out.push(finding(
                    "DRIFT",
                    Some(&first.repo),
                    &first.path,
                    at,
                    Some(key),
                    format!("{key} is {} (rule {})", said.join(" but "), rule.name),
                    &rule.name,
                    &evidence.join(","),
                ));
            }
        }
    }
    out
}

/// Which sources are expected to hold the same items: two sources of a
/// rule are partners when they share at least one key. A rule lists the
/// sources it keeps consistent, not a promise that every item is in every
/// source; only sources that demonstrably list the same work can miss an
/// item. `holders` yields, per key, the sources holding it.
pub fn partner_sources<'a, I, S>(holders: I) -> BTreeMap<&'a str, BTreeSet<&'a str>>
where
    I: IntoIterator<Item = S>,
    S: IntoIterator<Item = &'a str>,
{
    let mut partners: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for sources in holders {
        let sources: Vec<&str> = sources.into_iter().collect();
        if sources.len() < 2 {
            continue;
        }
        for &a in &sources {
            let entry = partners.entry(a).or_default();
            entry.extend(sources.iter().copied().filter(|&b| b != a));
        }
    }
    partners
}

/// The partners of an item's sources that do not hold it, in name order.
pub fn missing_partners<'a>(
    partners: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    present: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    let present: BTreeSet<&str> = present.into_iter().collect();
    let expected: BTreeSet<&str> = present
        .iter()
        .filter_map(|source| partners.get(source))
        .flatten()
        .copied()
        .collect();
    expected.difference(&present).copied().collect()
}

/// Names for a message: at most five, then how many more.
fn listed(names: &[&str]) -> String {
    const SHOWN: usize = 5;
    if names.len() <= SHOWN {
        return names.join(", ");
    }
    format!(
        "{} and {} more",
        names[..SHOWN].join(", "),
        names.len() - SHOWN
    )
}

#[cfg(test)]
mod marker_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_configured_value_is_the_only_exempting_one() {
        let t = Some("{owner}-reverse");
        assert_eq!(
            mirror_marker_verdict(&json!("fitme-story-reverse"), t, "fitme-story"),
            MarkerVerdict::Mirror
        );
        for wrong in [
            json!(""),
            json!(false),
            json!("bogus"),
            json!(true),
            json!("ft2-reverse"),
        ] {
            assert!(
                matches!(
                    mirror_marker_verdict(&wrong, t, "fitme-story"),
                    MarkerVerdict::Wrong { .. }
                ),
                "{wrong}"
            );
        }
        assert_eq!(
            mirror_marker_verdict(&json!(null), t, "fitme-story"),
            MarkerVerdict::Absent
        );
    }

    #[test]
    fn without_a_configured_value_empty_and_false_do_not_exempt() {
        assert_eq!(
            mirror_marker_verdict(&json!("anything"), None, "o"),
            MarkerVerdict::Mirror
        );
        assert!(matches!(
            mirror_marker_verdict(&json!(""), None, "o"),
            MarkerVerdict::Wrong { .. }
        ));
        assert!(matches!(
            mirror_marker_verdict(&json!(false), None, "o"),
            MarkerVerdict::Wrong { .. }
        ));
    }
}

#[cfg(test)]
mod dangling_tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sources_sharing_no_key_are_not_partners() {
        let holders = vec![vec!["a"], vec!["b"], vec!["c", "d"]];
        let partners = partner_sources(holders);
        assert!(missing_partners(&partners, ["a"]).is_empty());
        assert!(missing_partners(&partners, ["b"]).is_empty());
        assert_eq!(missing_partners(&partners, ["c"]), ["d"]);
        assert!(missing_partners(&partners, ["c", "d"]).is_empty());
    }

    #[test]
    fn an_item_is_missing_only_from_the_partners_of_its_sources() {
        // plans and states share T1; the hub-only source shares nothing.
        let holders = vec![vec!["plans", "states"], vec!["plans"], vec!["other"]];
        let partners = partner_sources(holders);
        assert_eq!(missing_partners(&partners, ["plans"]), ["states"]);
        assert!(missing_partners(&partners, ["other"]).is_empty());
    }

    #[test]
    fn long_lists_are_cut() {
        assert_eq!(listed(&["a", "b"]), "a, b");
        assert_eq!(
            listed(&["a", "b", "c", "d", "e", "f", "g"]),
            "a, b, c, d, e and 2 more"
        );
    }

    proptest! {
        /// Items that each live in exactly one source never dangle,
        /// however many sources the rule has.
        #[test]
        fn disjoint_sources_never_dangle(sources in 1usize..200) {
            let names: Vec<String> = (0..sources).map(|i| format!("s{i}")).collect();
            let holders: Vec<Vec<&str>> = names.iter().map(|n| vec![n.as_str()]).collect();
            let partners = partner_sources(holders);
            for name in &names {
                prop_assert!(missing_partners(&partners, [name.as_str()]).is_empty());
            }
        }

        /// A missing partner is never a source that holds the item, and
        /// always one that shares some other key with a holder.
        #[test]
        fn missing_partners_share_a_key(
            holders in proptest::collection::vec(
                proptest::collection::btree_set(0u8..6, 1..4), 1..30)
        ) {
            let names: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
            let sets: Vec<Vec<&str>> = holders
                .iter()
                .map(|set| set.iter().map(|&i| names[usize::from(i)].as_str()).collect())
                .collect();
            let partners = partner_sources(sets.clone());
            for present in &sets {
                for missing in missing_partners(&partners, present.iter().copied()) {
                    prop_assert!(!present.contains(&missing));
                    prop_assert!(sets.iter().any(|s| s.contains(&missing)
                        && s.iter().any(|x| present.contains(x))));
                }
            }
        }
    }
}
