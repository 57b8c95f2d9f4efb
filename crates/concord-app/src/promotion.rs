//! `[checks] promote`: a code stays advisory until the stored snapshots
//! have been clean of it for a while, then it gates, the way a team
//! promotes a new gate only after days without a false positive. The
//! decision is [`decide`], pure; [`states`] reads the snapshots it needs.

use crate::hub::Failure;
use concord_checks::finding::{Finding, Severity};
use concord_workspace::Workspace;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// Where a promoted code stands, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionState {
    pub gating: bool,
    pub why: String,
}

/// One stored snapshot: when it was taken and how many findings of the
/// code it held. Oldest first.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub taken_at: SystemTime,
    pub count: usize,
}

/// Gating once the snapshots have been clean of the code for `clean_for`:
/// the first snapshot of the current clean run (every later one clean
/// too) is at least `clean_for` before `now`.
pub fn decide(points: &[Point], clean_for: Duration, now: SystemTime) -> PromotionState {
    let wanted = humantime::format_duration(clean_for);
    let Some(last) = points.last() else {
        return PromotionState {
            gating: false,
            why: format!(
                "advisory until the snapshots are clean of it for {wanted}: no snapshot yet"
            ),
        };
    };
    if last.count > 0 {
        return PromotionState {
            gating: false,
            why: format!(
                "advisory until the snapshots are clean of it for {wanted}: {} in the latest snapshot",
                last.count
            ),
        };
    }
    let dirty = points.iter().rposition(|p| p.count > 0);
    let clean_since = points[dirty.map_or(0, |i| i + 1)].taken_at;
    let since = humantime::format_rfc3339_seconds(clean_since);
    let clean = now.duration_since(clean_since).unwrap_or_default();
    if clean >= clean_for {
        PromotionState {
            gating: true,
            why: format!("gating: the snapshots are clean of it since {since} ({wanted} asked)"),
        }
    } else {
        let left = humantime::format_duration(Duration::from_secs((clean_for - clean).as_secs()));
        PromotionState {
            gating: false,
            why: format!("advisory: clean since {since}; gates in {left} if it stays clean"),
        }
    }
}

/// Every promoted code's state from the hub's snapshots. Without a hub
/// (`--no-hub`) nothing is known, so every promoted code stays advisory.
pub fn states(ws: &Workspace, read_hub: bool) -> Result<BTreeMap<String, PromotionState>, Failure> {
    let promote = &ws.checks.promote;
    if promote.is_empty() {
        return Ok(BTreeMap::new());
    }
    let snapshots = if read_hub {
        crate::check_trend::trend(ws, usize::MAX)?
    } else {
        crate::check_trend::build(&[])
    };
    let now = SystemTime::now();
    Ok(promote
        .iter()
        .map(|(code, clean_for)| {
            let counts = snapshots.codes.iter().find(|c| &c.code == code);
            let points: Vec<Point> = snapshots
                .snapshots
                .iter()
                .enumerate()
                .map(|(i, s)| Point {
                    taken_at: humantime::parse_rfc3339_weak(&s.taken_at)
                        .unwrap_or(SystemTime::UNIX_EPOCH),
                    count: counts.map_or(0, |c| c.counts[i]),
                })
                .collect();
            (code.clone(), decide(&points, *clean_for, now))
        })
        .collect())
}

/// A promoted code that does not gate yet is reported as advisory.
pub fn demote(findings: &mut [Finding], states: &BTreeMap<String, PromotionState>) {
    for f in findings {
        if states.get(&f.code).is_some_and(|s| !s.gating) {
            f.severity = Severity::Advisory;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn at(days: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + DAY * (20_000 + days as u32)
    }

    fn points(counts: &[(u64, usize)]) -> Vec<Point> {
        counts
            .iter()
            .map(|&(day, count)| Point {
                taken_at: at(day),
                count,
            })
            .collect()
    }

    #[test]
    fn a_code_gates_after_seven_clean_days_and_not_before() {
        let history = points(&[(0, 3), (1, 0), (4, 0), (8, 0)]);
        let early = decide(&history, 7 * DAY, at(7));
        assert!(!early.gating, "{}", early.why);
        assert!(early.why.contains("gates in 1day"), "{}", early.why);
        let later = decide(&history, 7 * DAY, at(8));
        assert!(later.gating, "{}", later.why);
    }

    #[test]
    fn a_finding_in_the_latest_snapshot_or_no_snapshot_keeps_it_advisory() {
        let dirty = decide(&points(&[(0, 0), (10, 2)]), DAY, at(30));
        assert!(!dirty.gating);
        assert!(
            dirty.why.contains("2 in the latest snapshot"),
            "{}",
            dirty.why
        );
        let none = decide(&[], DAY, at(30));
        assert!(!none.gating);
        assert!(none.why.contains("no snapshot yet"), "{}", none.why);
    }

    #[test]
    fn a_relapse_restarts_the_clean_run() {
        let history = points(&[(0, 0), (5, 1), (6, 0)]);
        assert!(!decide(&history, 7 * DAY, at(12)).gating);
        assert!(decide(&history, 7 * DAY, at(13)).gating);
    }
}
