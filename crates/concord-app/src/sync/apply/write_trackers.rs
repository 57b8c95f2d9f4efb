//! Writing trackers.

use super::{Apply, Ledger, applied_of};
use crate::sync::NotApplied;
use crate::trackers::{TrackerChange, WriteOutcome};
use concord_engine::{Change, Decision};

impl<'a> Apply<'a> {
    /// Trackers: each with its own locking, a bounded number of requests
    /// at a time. A tracker that was not read is not written.
    pub(super) fn write_trackers(&self, ledger: &mut Ledger) {
        for read in &self.planned.trackers {
            let tracker = &self.ws.trackers[read.index];
            let (mine, later): (Vec<(&Decision, &Change)>, Vec<_>) = self
                .planned
                .plan
                .changes()
                .filter(|(_, c)| c.source == tracker.name)
                .partition(|(d, _)| self.rule_allowed(&d.rule));
            for (decision, _) in &later {
                ledger.keep_base(decision);
            }
            if mine.is_empty() {
                continue;
            }
            if !self.allowed(&tracker.name) || self.options.no_writeback {
                for (decision, change) in &mine {
                    if self.options.no_writeback {
                        ledger.skip_write(decision, change);
                    } else {
                        ledger.keep_base(decision);
                    }
                }
                continue;
            }
            let changes: Vec<TrackerChange> = mine
                .iter()
                .map(|(decision, change)| TrackerChange {
                    key: decision.key.clone(),
                    to: change.to.status.clone(),
                    note: format!(
                        "concord: status {} -> {} (from {}, {}; rule {}, run {})",
                        change.from.as_ref().map_or("(none)", |v| v.status.as_str()),
                        change.to.status,
                        change.origin,
                        change.reason.as_str(),
                        decision.rule,
                        self.run_id
                    ),
                })
                .collect();
            let bar = self
                .progress
                .bar(changes.len(), &format!("writing {}", tracker.name));
            let outcomes = crate::trackers::write(self.ws, read, &changes);
            bar.finish();
            for ((decision, change), outcome) in mine.into_iter().zip(outcomes) {
                let place = read
                    .observations
                    .iter()
                    .find(|o| o.key == decision.key)
                    .map_or_else(
                        || tracker.name.clone(),
                        |o| format!("{}:{}", tracker.name, o.path),
                    );
                let (problem, raced) = match outcome {
                    WriteOutcome::Applied => {
                        ledger.applied.push(applied_of(decision, change, &place));
                        continue;
                    }
                    WriteOutcome::Raced(why) => (why, true),
                    WriteOutcome::Failed(why) => (why, false),
                };
                ledger.keep_base(decision);
                ledger.not_applied.push(NotApplied {
                    key: decision.key.clone(),
                    target: tracker.name.clone(),
                    problem,
                    raced,
                });
            }
        }
        // A rule with a tracker that could not be read keeps its bases:
        // what that tracker holds is unknown, not agreed.
        for read in self.planned.trackers.iter().filter(|t| t.unread.is_some()) {
            let name = &self.ws.trackers[read.index].name;
            for decision in &self.planned.plan.decisions {
                let rule = self.ws.rules.iter().find(|r| r.name == decision.rule);
                if rule.is_some_and(|r| r.sources.contains(name)) {
                    ledger.keep_base(decision);
                }
            }
        }
    }
}
