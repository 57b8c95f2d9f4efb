//! `concord check history --report`: findings per code over the stored
//! snapshots, oldest first, as markdown (for an issue or a wiki page) or
//! JSON. The counting and the rendering are pure; only [`trend`] reads
//! the hub.

use crate::hub::{self, Failure};
use concord_workspace::Workspace;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// How many snapshots a report covers unless asked for more.
pub const SNAPSHOTS_REPORTED: usize = 12;

/// `concord check history --report --json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct TrendReport {
    /// [`crate::check::VERSION`].
    pub version: u32,
    /// The snapshots covered, oldest first.
    pub snapshots: Vec<TrendSnapshot>,
    /// Every code found in any of them, with its count in each snapshot.
    pub codes: Vec<CodeTrend>,
}

/// One snapshot's totals.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct TrendSnapshot {
    pub id: i64,
    pub taken_at: String,
    pub commit_id: Option<String>,
    pub total: usize,
    pub gating: usize,
}

/// One code over the snapshots.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct CodeTrend {
    pub code: String,
    /// Findings of this code in each snapshot, in the order of `snapshots`.
    pub counts: Vec<usize>,
    /// The newest count minus the oldest.
    pub change: i64,
}

/// A snapshot as [`build`] needs it: its totals and each finding's code
/// and whether it gated.
pub struct SnapshotFindings {
    pub id: i64,
    pub taken_at: String,
    pub commit_id: Option<String>,
    pub findings: Vec<(String, bool)>,
}

/// Count each code per snapshot; `snapshots` oldest first.
pub fn build(snapshots: &[SnapshotFindings]) -> TrendReport {
    let codes: BTreeSet<&str> = snapshots
        .iter()
        .flat_map(|s| s.findings.iter().map(|(code, _)| code.as_str()))
        .collect();
    let per_snapshot: Vec<BTreeMap<&str, usize>> = snapshots
        .iter()
        .map(|s| {
            let mut counts = BTreeMap::new();
            for (code, _) in &s.findings {
                *counts.entry(code.as_str()).or_insert(0) += 1;
            }
            counts
        })
        .collect();
    let codes = codes
        .into_iter()
        .map(|code| {
            let counts: Vec<usize> = per_snapshot
                .iter()
                .map(|c| c.get(code).copied().unwrap_or(0))
                .collect();
            let first = counts.first().copied().unwrap_or(0);
            let last = counts.last().copied().unwrap_or(0);
            CodeTrend {
                code: code.to_string(),
                change: i64::try_from(last).unwrap_or(i64::MAX)
                    - i64::try_from(first).unwrap_or(i64::MAX),
                counts,
            }
        })
        .collect();
    TrendReport {
        version: crate::check::VERSION,
        snapshots: snapshots
            .iter()
            .map(|s| TrendSnapshot {
                id: s.id,
                taken_at: s.taken_at.clone(),
                commit_id: s.commit_id.clone(),
                total: s.findings.len(),
                gating: s.findings.iter().filter(|(_, gates)| *gates).count(),
            })
            .collect(),
        codes,
    }
}

/// The report as a markdown table: a row per code, a column per snapshot
/// (its id and day), then the change from the oldest to the newest.
pub fn markdown(report: &TrendReport) -> String {
    let mut s = String::from("## Findings per code over the check snapshots\n\n");
    if report.snapshots.is_empty() {
        s.push_str("No snapshots yet: `concord check --snapshot` stores one.\n");
        return s;
    }
    s.push_str("| code |");
    for snap in &report.snapshots {
        let day = snap.taken_at.get(..10).unwrap_or(&snap.taken_at);
        let _ = write!(s, " #{} {day} |", snap.id);
    }
    s.push_str(" change |\n|---|");
    s.push_str(&"---:|".repeat(report.snapshots.len() + 1));
    s.push('\n');
    for code in &report.codes {
        let _ = write!(s, "| `{}` |", code.code);
        for n in &code.counts {
            let _ = write!(s, " {n} |");
        }
        let _ = writeln!(s, " {} |", signed(code.change));
    }
    s.push_str("| **all** |");
    for snap in &report.snapshots {
        let _ = write!(s, " **{}** |", snap.total);
    }
    let first = report.snapshots.first().map_or(0, |f| f.total);
    let last = report.snapshots.last().map_or(0, |l| l.total);
    let change = i64::try_from(last).unwrap_or(i64::MAX) - i64::try_from(first).unwrap_or(i64::MAX);
    let _ = writeln!(s, " **{}** |", signed(change));
    s.push_str("| gating |");
    for snap in &report.snapshots {
        let _ = write!(s, " {} |", snap.gating);
    }
    s.push_str(" |\n");
    s
}

fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

/// The newest `last` snapshots of the hub, oldest first, with the code
/// and severity of every finding they stored.
pub fn trend(ws: &Workspace, last: usize) -> Result<TrendReport, Failure> {
    let snapshots = hub::with_store(ws, async |store| {
        // The listing is newest first and carries no findings.
        let listed = store.check_snapshots().await?;
        let mut full = Vec::new();
        for s in listed.into_iter().take(last) {
            if let Some(snapshot) = store.check_snapshot(s.id).await? {
                full.push(snapshot);
            }
        }
        Ok(full)
    })?;
    let mut read: Vec<SnapshotFindings> = snapshots
        .into_iter()
        .map(|s| SnapshotFindings {
            findings: s.findings.lines().filter_map(code_and_gate).collect(),
            id: s.id,
            taken_at: s.taken_at,
            commit_id: s.commit_id,
        })
        .collect();
    read.reverse();
    Ok(build(&read))
}

/// A stored finding's code and whether its severity gates.
fn code_and_gate(line: &str) -> Option<(String, bool)> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let code = value.get("code")?.as_str()?.to_string();
    let gates = value.get("severity").and_then(|s| s.as_str()) == Some("error");
    Some((code, gates))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: i64, codes: &[(&str, bool)]) -> SnapshotFindings {
        SnapshotFindings {
            id,
            taken_at: format!("2026-12-0{id}T10:00:00Z"),
            commit_id: None,
            findings: codes.iter().map(|(c, g)| (c.to_string(), *g)).collect(),
        }
    }

    #[test]
    fn each_code_is_counted_per_snapshot_with_its_change() {
        let report = build(&[
            snap(1, &[("SCHEMA", true), ("SCHEMA", true), ("DRIFT", false)]),
            snap(2, &[("SCHEMA", true)]),
            snap(3, &[("DRIFT", false), ("NO_CS_LINK", true)]),
        ]);
        let rows: Vec<(&str, Vec<usize>, i64)> = report
            .codes
            .iter()
            .map(|c| (c.code.as_str(), c.counts.clone(), c.change))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("DRIFT", vec![1, 0, 1], 0),
                ("NO_CS_LINK", vec![0, 0, 1], 1),
                ("SCHEMA", vec![2, 1, 0], -2),
            ]
        );
        let totals: Vec<(usize, usize)> = report
            .snapshots
            .iter()
            .map(|s| (s.total, s.gating))
            .collect();
        assert_eq!(totals, vec![(3, 2), (1, 1), (2, 1)]);
        let text = markdown(&report);
        assert!(text.contains("| code | #1 2026-12-01 | #2 2026-12-02 | #3 2026-12-03 | change |"));
        assert!(text.contains("| `SCHEMA` | 2 | 1 | 0 | -2 |"), "{text}");
        assert!(text.contains("| `NO_CS_LINK` | 0 | 0 | 1 | +1 |"), "{text}");
        assert!(
            text.contains("| **all** | **3** | **1** | **2** | **-1** |"),
            "{text}"
        );
    }

    #[test]
    fn no_snapshot_says_how_to_take_one() {
        let report = build(&[]);
        assert!(report.codes.is_empty());
        assert!(markdown(&report).contains("concord check --snapshot"));
    }

    #[test]
    fn a_stored_line_that_is_not_a_finding_is_left_out() {
        assert_eq!(code_and_gate("not json"), None);
        assert_eq!(code_and_gate(r#"{"severity":"error"}"#), None);
        assert_eq!(
            code_and_gate(r#"{"code":"SCHEMA","severity":"error"}"#),
            Some(("SCHEMA".into(), true))
        );
        assert_eq!(
            code_and_gate(r#"{"code":"DRIFT","severity":"warning"}"#),
            Some(("DRIFT".into(), false))
        );
    }
}
