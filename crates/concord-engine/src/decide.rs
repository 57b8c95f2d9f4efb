use crate::model::*;
use rayon::prelude::*;
use std::collections::BTreeSet;

/// Decide every item of every rule. Decisions come out sorted by rule name
/// then key, whatever the input order. The inputs are taken, not
/// borrowed, so each item's readings are freed as soon as it is decided
/// instead of living beside every decision until the end. See
/// [`Planner`] to decide a chunk of items at a time.
pub fn plan(mut inputs: Vec<(Rule, Vec<ItemInput>)>) -> Plan {
    let mut planner = Planner::with_capacity(inputs.iter().map(|(_, items)| items.len()).sum());
    // Rules in name order (stable): with each rule's items in key order,
    // as the workspace gives them, the decisions come out sorted already.
    inputs.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    for (rule, items) in inputs {
        planner.decide(&rule, items);
    }
    planner.finish()
}

/// A plan made a chunk of items at a time, so that a caller can build
/// each chunk's inputs (a reading per source per item) just before they
/// are decided instead of holding every item's at once. Items are decided
/// in parallel: each decision depends on its own item only, and the
/// in-order extend and the stable sort keep the order a sequential run
/// gives. Each chunk's decisions are written straight into the one vector
/// (an indexed extend), not gathered in pieces and copied.
#[derive(Default)]
pub struct Planner {
    decisions: Vec<Decision>,
}

impl Planner {
    /// A planner with room for `items` decisions.
    pub fn with_capacity(items: usize) -> Self {
        Planner {
            decisions: Vec::with_capacity(items),
        }
    }

    /// Decide `items` under `rule`, dropping each item once decided.
    pub fn decide(&mut self, rule: &Rule, items: Vec<ItemInput>) {
        self.decisions
            .par_extend(items.into_par_iter().map(|item| decide(rule, &item)));
    }

    /// The plan: decisions sorted by rule name, then key. Sorting a sorted
    /// vector still costs a copy of it (the merge sort's buffer, 20 MB at
    /// 100,000 items), so the order is checked first.
    pub fn finish(mut self) -> Plan {
        let order = |a: &Decision, b: &Decision| (&a.rule, &a.key).cmp(&(&b.rule, &b.key));
        if !self.decisions.is_sorted_by(|a, b| order(a, b).is_le()) {
            self.decisions.par_sort_by(order);
        }
        Plan {
            decisions: self.decisions,
        }
    }
}

/// Decide one item under one rule.
pub fn decide(rule: &Rule, item: &ItemInput) -> Decision {
    let mut decision = decide_loose(rule, item);
    // A vector's first push makes room for four; a decision keeps one or
    // two changes and names, and a plan holds one decision per item.
    decision.changes.shrink_to_fit();
    decision.holds.shrink_to_fit();
    decision.agreeing.shrink_to_fit();
    decision
}

fn decide_loose(rule: &Rule, item: &ItemInput) -> Decision {
    let readings = normalize(rule, item);
    let mut decision = Decision {
        rule: rule.name.clone(),
        key: item.key.clone(),
        reason: Reason::InSync,
        winner: None,
        changes: Vec::new(),
        holds: Vec::new(),
        new_base: None,
        agreeing: Vec::new(),
        explanation: String::new(),
    };
    if hold_duplicates(rule, item, &mut decision) {
        return decision;
    }
    // An unknown word anywhere: nothing can be compared safely.
    let unknown: Vec<&Reading> = readings
        .iter()
        .filter(|r| r.present && r.value.is_none())
        .collect();
    if !unknown.is_empty() {
        decision.reason = Reason::UnknownStatus;
        for r in &unknown {
            decision.holds.push(Hold {
                source: r.source.clone(),
                reason: Reason::UnknownStatus,
                detail: format!(
                    "`{}` is not in the workflow",
                    r.raw.as_deref().unwrap_or("")
                ),
            });
        }
        decision.explanation = format!(
            "skipped: {} has a status the workflow does not know",
            names(unknown.iter().map(|r| r.source.as_str()))
        );
        return decision;
    }
    match &rule.mode {
        Mode::Mirror { truth } => mirror(&readings, item.base.as_ref(), truth, &mut decision),
        Mode::Merge { reopen } => merge(&readings, item.base.as_ref(), *reopen, &mut decision),
        Mode::Owned { owners } => owned(rule, &readings, item.base.as_ref(), owners, &mut decision),
    }
    hold_if_pinned(&mut decision);
    decision
}

/// A value that cannot be written (a YAML anchor an alias repeats) but
/// would have to change holds the whole item: writing the others and
/// moving the base would leave that copy disagreeing, and without a base of
/// its own it would next read as a reopen. Nothing moves until it is fixed.
fn hold_if_pinned(decision: &mut Decision) {
    let pinned: Vec<&str> = decision
        .holds
        .iter()
        .filter(|h| h.reason == Reason::AliasedValue)
        .map(|h| h.source.as_str())
        .collect();
    if pinned.is_empty() {
        return;
    }
    let would_have = decision
        .winner
        .as_ref()
        .map_or_else(String::new, |w| format!(" to {}", w.status));
    decision.explanation = format!(
        "held: {} cannot be edited{would_have} without changing an alias of it, so nothing is written for this item ({})",
        names(pinned.iter().copied()),
        decision.explanation
    );
    decision.reason = Reason::AliasedValue;
    decision.changes.clear();
    decision.new_base = None;
    decision.agreeing.clear();
}

/// A source that holds the item more than once has no one value: writing
/// one copy would leave the other saying something else, and reading one
/// would ignore the other. The whole item is held, every copy named, until
/// all but one are removed.
fn hold_duplicates(rule: &Rule, item: &ItemInput, decision: &mut Decision) -> bool {
    let mut twice: Vec<&str> = Vec::new();
    for source in &rule.sources {
        let copies = item.readings.iter().filter(|r| &r.source == source).count();
        if copies > 1 {
            twice.push(source);
        }
    }
    if twice.is_empty() {
        return false;
    }
    decision.reason = Reason::DuplicateKey;
    let mut described = Vec::new();
    for source in &twice {
        let copies: Vec<&Reading> = item
            .readings
            .iter()
            .filter(|r| &r.source == source)
            .collect();
        let places: Vec<String> = copies
            .iter()
            .map(|r| {
                format!(
                    "{} ({})",
                    r.place.as_deref().unwrap_or("?"),
                    r.raw.as_deref().unwrap_or("no status")
                )
            })
            .collect();
        for r in &copies {
            decision.holds.push(Hold {
                source: r.source.clone(),
                reason: Reason::DuplicateKey,
                detail: format!(
                    "{} is one of {} copies in {}: nothing is written to any of them",
                    r.place.as_deref().unwrap_or("this copy"),
                    copies.len(),
                    r.source
                ),
            });
        }
        described.push(format!(
            "{source} holds it {} times: {}",
            copies.len(),
            places.join(", ")
        ));
    }
    decision.explanation = format!(
        "held: {}; remove all but one copy, then sync again",
        described.join("; ")
    );
    true
}

/// One reading per rule source that gave one, in the rule's order: the
/// decision must not depend on the order readings arrive in. A source given
/// twice (a duplicate key) is held before this, by `hold_duplicates`.
/// Sources that gave no reading are left out: a rule over a
/// hundred sources must not cost a hundred readings per item.
fn normalize(rule: &Rule, item: &ItemInput) -> Vec<Reading> {
    rule.sources
        .iter()
        .filter_map(|source| {
            item.readings
                .iter()
                .filter(|r| &r.source == source)
                .min_by(|a, b| {
                    (&a.value, &a.raw, a.blocked, a.dirty, a.changed_at, &a.owner).cmp(&(
                        &b.value,
                        &b.raw,
                        b.blocked,
                        b.dirty,
                        b.changed_at,
                        &b.owner,
                    ))
                })
                .cloned()
        })
        .collect()
}

fn names<'a>(sources: impl Iterator<Item = &'a str>) -> String {
    sources.collect::<Vec<_>>().join(", ")
}

/// Write `winner` to every source that differs and can take it; hold the
/// rest. `skip` names sources to leave alone with a reason already given.
fn distribute(
    readings: &[Reading],
    winner: &Value,
    origin: &str,
    reason_for: impl Fn(&Reading) -> Reason,
    skip: &BTreeSet<&str>,
    decision: &mut Decision,
) {
    for r in readings {
        if skip.contains(r.source.as_str()) || r.value.as_ref() == Some(winner) {
            continue;
        }
        if !r.present && !r.creatable {
            decision.holds.push(Hold {
                source: r.source.clone(),
                reason: Reason::NotInSource,
                detail: "the source does not hold this item".into(),
            });
            continue;
        }
        if let Some((reason, detail)) = not_writable(r, winner) {
            decision.holds.push(Hold {
                source: r.source.clone(),
                reason,
                detail,
            });
            continue;
        }
        decision.changes.push(Change {
            source: r.source.clone(),
            from: r.value.clone(),
            to: winner.clone(),
            reason: reason_for(r),
            origin: origin.to_string(),
        });
    }
}

/// Why `r` cannot take `winner` now, if it cannot: its repo is blocked,
/// its file has uncommitted changes, or its value cannot be edited.
fn not_writable(r: &Reading, winner: &Value) -> Option<(Reason, String)> {
    let place = r.place.as_deref().unwrap_or("the file");
    if let Some(reason) = r.blocked {
        return Some((
            reason,
            format!("would get {}, but {}", winner.status, blocked_why(reason)),
        ));
    }
    if r.dirty {
        return Some((
            Reason::DirtyFile,
            format!(
                "would get {}, but {place} has uncommitted changes (a value proposes only once committed): commit or stash them, then sync again",
                winner.status
            ),
        ));
    }
    r.pinned.as_ref().map(|why| {
        (
            Reason::AliasedValue,
            format!(
                "would get {}, but {place} cannot be edited: {why}; write the value without the anchor (or the alias), then sync again",
                winner.status
            ),
        )
    })
}

/// Why a blocked repo is not written, in words.
fn blocked_why(reason: Reason) -> &'static str {
    match reason {
        Reason::DetachedHead => "the repo's HEAD is detached (not on a branch)",
        Reason::RepoBusy => "a rebase, merge or similar is under way in the repo",
        Reason::IndexLocked => "the repo's git index is locked by another git command",
        _ => "its repo is behind its upstream",
    }
}

/// The new shared base: the winner. A source held back (stale repo,
/// dirty file, blocked reopen) keeps its replica's own base, so its old
/// value is still recognised as a stale copy (or its reopen as a reopen)
/// next time; the shared base records the agreement everyone else has.
fn settle(readings: &[Reading], decision: &mut Decision, winner: &Value) {
    decision.winner = Some(winner.clone());
    decision.new_base = Some(winner.clone());
    decision.agreeing = readings
        .iter()
        .filter(|r| r.value.as_ref() == Some(winner))
        .map(|r| r.source.clone())
        .collect();
}

fn mirror(readings: &[Reading], base: Option<&Value>, truth: &str, decision: &mut Decision) {
    let Some(source) = readings.iter().find(|r| r.source == truth) else {
        decision.reason = Reason::NoTruth;
        decision.explanation = format!("the truth `{truth}` is not a source of this rule");
        return;
    };
    follow(readings, base, source, decision);
}

/// Mirror `truth`'s value to every other source.
fn follow(readings: &[Reading], base: Option<&Value>, truth: &Reading, decision: &mut Decision) {
    let Some(winner) = truth.value.clone() else {
        decision.reason = Reason::NoTruth;
        decision.explanation = format!(
            "{} does not hold this item: nothing to mirror",
            truth.source
        );
        return;
    };
    if let Some(reason) = truth.blocked {
        decision.reason = reason;
        decision.holds.push(Hold {
            source: truth.source.clone(),
            reason,
            detail: format!("the truth cannot be trusted now: {}", blocked_why(reason)),
        });
        decision.explanation = format!(
            "{}: {}; nothing mirrored until that is resolved",
            truth.source,
            blocked_why(reason)
        );
        return;
    }
    let out_of_band = |r: &Reading| {
        let base = if r.replica.is_some() {
            r.own_base.as_ref()
        } else {
            base
        };
        r.present && base.is_some_and(|b| r.value.as_ref() != Some(b))
    };
    let skip = BTreeSet::from([truth.source.as_str()]);
    distribute(
        readings,
        &winner,
        &truth.source,
        |r| {
            if out_of_band(r) {
                Reason::RevertedOutOfBand
            } else {
                Reason::Propagate
            }
        },
        &skip,
        decision,
    );
    decision.reason = if decision
        .changes
        .iter()
        .any(|c| c.reason == Reason::RevertedOutOfBand)
    {
        Reason::RevertedOutOfBand
    } else if !decision.changes.is_empty() {
        Reason::Propagate
    } else {
        Reason::InSync
    };
    decision.explanation = match decision.reason {
        Reason::RevertedOutOfBand => format!(
            "{} is the truth ({}); {} changed on its own and {} put back",
            truth.source,
            winner.status,
            names(
                decision
                    .changes
                    .iter()
                    .filter(|c| c.reason == Reason::RevertedOutOfBand)
                    .map(|c| c.source.as_str())
            ),
            if decision.changes.len() == 1 {
                "is"
            } else {
                "are"
            }
        ),
        Reason::Propagate => format!(
            "{} is the truth: {} goes to {}",
            truth.source,
            winner.status,
            names(decision.changes.iter().map(|c| c.source.as_str()))
        ),
        _ => format!("every source follows {} ({})", truth.source, winner.status),
    };
    settle(readings, decision, &winner);
}

fn owned(
    rule: &Rule,
    readings: &[Reading],
    base: Option<&Value>,
    owners: &std::collections::BTreeMap<String, String>,
    decision: &mut Decision,
) {
    let named: BTreeSet<&str> = readings.iter().filter_map(|r| r.owner.as_deref()).collect();
    let owner = match named.len() {
        0 => {
            decision.reason = Reason::OwnerMissing;
            decision.explanation = "skipped: no source names this item's owner".into();
            return;
        }
        1 => named.iter().next().copied().unwrap_or_default(),
        _ => {
            decision.reason = Reason::OwnerUnknown;
            decision.explanation = format!(
                "skipped: the sources name different owners ({})",
                names(named.iter().copied())
            );
            return;
        }
    };
    let Some(source) = owners.get(owner).filter(|s| rule.sources.contains(s)) else {
        decision.reason = Reason::OwnerUnknown;
        decision.explanation = format!(
            "skipped: owner `{owner}` is not one of this rule's owners ({})",
            names(owners.keys().map(String::as_str))
        );
        return;
    };
    let Some(truth) = readings.iter().find(|r| &r.source == source) else {
        decision.reason = Reason::NoTruth;
        return;
    };
    follow(readings, base, truth, decision);
}

/// One value in the running for a merge: a source's change, or the
/// agreement itself when the changes were made without seeing it.
struct Candidate<'r> {
    origin: &'r str,
    value: &'r Value,
    changed_at: Option<i64>,
}

/// How one fresh reading stands against the agreement (`agreed`) and its
/// own replica's base.
enum Stance<'r> {
    /// Holds the agreed value, or has not changed since its own base (a
    /// stale copy): it follows.
    Follows,
    /// Changed since its own base, which is the agreement: a change made
    /// on top of what everyone agreed.
    Succeeds(&'r Value),
    /// Changed since its own base, which is not the agreement (someone
    /// else changed the item meanwhile), or a first sync above the
    /// agreement: it competes with the agreement by rank.
    Competes(&'r Value),
    /// Lowered the rank below its own base: a reopen.
    Reopens { from: &'r Value, to: &'r Value },
}

fn stance<'r>(r: &'r Reading, agreed: &'r Value) -> Stance<'r> {
    let Some(value) = r.value.as_ref() else {
        return Stance::Follows;
    };
    if value == agreed || r.copied {
        return Stance::Follows;
    }
    let own = if r.replica.is_some() {
        r.own_base.as_ref()
    } else {
        Some(agreed)
    };
    let first_sync = |value: &'r Value| {
        if value.rank > agreed.rank {
            Stance::Competes(value)
        } else {
            Stance::Follows
        }
    };
    match own {
        // A replica that never agreed: the first-sync rule, so only a
        // higher rank counts.
        None => first_sync(value),
        Some(own) if own == value => Stance::Follows,
        // Its history was rewritten since: it cannot vouch for the change.
        Some(_) if r.own_base_uncertain => first_sync(value),
        Some(own) if value.rank < own.rank => Stance::Reopens {
            from: own,
            to: value,
        },
        Some(own) if own == agreed => Stance::Succeeds(value),
        Some(_) => Stance::Competes(value),
    }
}

fn merge(readings: &[Reading], base: Option<&Value>, reopen: Reopen, decision: &mut Decision) {
    let present: Vec<&Reading> = readings.iter().filter(|r| r.value.is_some()).collect();
    if present.is_empty() {
        decision.reason = Reason::NotInSource;
        decision.explanation = "no source holds this item".into();
        return;
    }
    let Some(agreed) = base else {
        return first_merge(readings, &present, decision);
    };
    // A blocked repo's value is not an edit, nor is an uncommitted one (it
    // is in no history yet): only fresh, committed values propose.
    let mut held: BTreeSet<&str> = BTreeSet::new();
    let mut successors: Vec<Candidate> = Vec::new();
    let mut competitors: Vec<Candidate> = Vec::new();
    for r in readings.iter().filter(|r| r.blocked.is_none() && !r.dirty) {
        let candidate = |value| Candidate {
            origin: r.source.as_str(),
            value,
            changed_at: r.changed_at,
        };
        match stance(r, agreed) {
            Stance::Follows => {}
            Stance::Succeeds(value) => successors.push(candidate(value)),
            Stance::Competes(value) => competitors.push(candidate(value)),
            Stance::Reopens { from, to } if reopen == Reopen::Block => {
                held.insert(r.source.as_str());
                decision.holds.push(Hold {
                    source: r.source.clone(),
                    reason: Reason::RegressionBlocked,
                    detail: format!(
                        "{} -> {} since its last sync lowers the rank: a reopen this rule blocks",
                        from.status, to.status
                    ),
                });
            }
            Stance::Reopens { from, to } if from == agreed => successors.push(candidate(to)),
            Stance::Reopens { to, .. } => competitors.push(candidate(to)),
        }
    }
    // Changes made without seeing the agreement compete with it by rank:
    // a reopen wins only over what it saw.
    let agreement_origin = agreed_by(readings, agreed);
    let mut pool = successors;
    if pool.is_empty() && !competitors.is_empty() {
        pool.push(Candidate {
            origin: &agreement_origin,
            value: agreed,
            changed_at: None,
        });
    }
    pool.extend(competitors);
    let (winner, origin, reason) = if pool.is_empty() {
        let reason = if held.is_empty() {
            Reason::Propagate
        } else {
            Reason::RegressionBlocked
        };
        (agreed.clone(), agreement_origin.clone(), reason)
    } else {
        match pick(&pool, Some(agreed)) {
            Ok(found) => found,
            Err(explanation) => {
                decision.reason = Reason::Conflict;
                decision.explanation = explanation;
                return;
            }
        }
    };
    distribute(readings, &winner, &origin, |_| reason, &held, decision);
    decision.reason = if decision.changes.is_empty() && reason != Reason::RegressionBlocked {
        Reason::InSync
    } else {
        reason
    };
    decision.explanation = merge_explanation(decision, &held, agreed, &winner, &origin);
    settle(readings, decision, &winner);
}

/// Who holds the agreed value, for messages: `hub`, or `the last agreement`.
fn agreed_by(readings: &[Reading], agreed: &Value) -> String {
    let holders: Vec<&str> = readings
        .iter()
        .filter(|r| r.value.as_ref() == Some(agreed))
        .map(|r| r.source.as_str())
        .collect();
    if holders.is_empty() {
        "the last agreement".into()
    } else {
        holders.join(", ")
    }
}

fn merge_explanation(
    decision: &Decision,
    held: &BTreeSet<&str>,
    agreed: &Value,
    winner: &Value,
    origin: &str,
) -> String {
    let followers = names(decision.changes.iter().map(|c| c.source.as_str()));
    let follow = if decision.changes.len() == 1 {
        "follows"
    } else {
        "follow"
    };
    match decision.reason {
        Reason::InSync => format!("every source agrees on {}", winner.status),
        Reason::RegressionBlocked => format!(
            "{} lowered it below {} since its last sync; held back because this rule blocks reopens: \
             put {} back in the file, or reopen it on purpose with `concord set {} <status> --force`",
            names(held.iter().copied()),
            agreed.status,
            winner.status,
            decision.key
        ),
        Reason::Propagate if winner == agreed => format!(
            "{origin} holds the agreed value ({}); {followers} had not changed since their last sync and {follow}",
            winner.status
        ),
        Reason::AheadWins if winner == agreed => format!(
            "{} changed since their last sync without seeing the agreed {}; the higher rank stands; {followers} {follow}",
            names(
                decision
                    .changes
                    .iter()
                    .filter(|c| c.from.as_ref().is_some_and(|f| f != agreed))
                    .map(|c| c.source.as_str())
            ),
            winner.status
        ),
        _ => format!(
            "{origin} changed it to {} since its last sync (agreed: {}); {followers} {follow}",
            winner.status, agreed.status
        ),
    }
}

/// No base yet (first sync): every fresh value is a candidate, the
/// highest rank wins.
fn first_merge(readings: &[Reading], present: &[&Reading], decision: &mut Decision) {
    let fresh: Vec<&Reading> = present
        .iter()
        .copied()
        .filter(|r| r.blocked.is_none())
        .collect();
    let from = if fresh.is_empty() { present } else { &fresh };
    let pool: Vec<Candidate> = from
        .iter()
        .filter_map(|r| {
            Some(Candidate {
                origin: r.source.as_str(),
                value: r.value.as_ref()?,
                changed_at: r.changed_at,
            })
        })
        .collect();
    let (winner, origin, reason) = match pick(&pool, None) {
        Ok(found) => found,
        Err(explanation) => {
            decision.reason = Reason::Conflict;
            decision.explanation = explanation;
            return;
        }
    };
    distribute(
        readings,
        &winner,
        &origin,
        |_| reason,
        &BTreeSet::new(),
        decision,
    );
    decision.reason = if decision.changes.is_empty() {
        Reason::InSync
    } else {
        reason
    };
    decision.explanation = if decision.changes.is_empty() {
        format!("every source agrees on {}", winner.status)
    } else {
        format!(
            "{origin} has the highest rank ({}) and there is no base yet; {} follow{}",
            winner.status,
            names(decision.changes.iter().map(|c| c.source.as_str())),
            if decision.changes.len() == 1 { "s" } else { "" }
        )
    };
    settle(readings, decision, &winner);
}

/// Choose among candidates: one value wins outright; else the highest
/// rank; equal rank: the latest change when every tied one has a time;
/// else a conflict (`Err` with what was seen).
fn pick(pool: &[Candidate], base: Option<&Value>) -> Result<(Value, String, Reason), String> {
    let distinct: BTreeSet<&Value> = pool.iter().map(|c| c.value).collect();
    let origin_of = |value: &Value| {
        let origins: BTreeSet<&str> = pool
            .iter()
            .filter(|c| c.value == value)
            .map(|c| c.origin)
            .collect();
        names(origins.into_iter())
    };
    if let (1, Some(&value)) = (distinct.len(), distinct.first()) {
        let reason = match base {
            Some(b) if value.rank < b.rank => Reason::Reopened,
            _ => Reason::Propagate,
        };
        return Ok((value.clone(), origin_of(value), reason));
    }
    let top = distinct.iter().map(|v| v.rank).max().unwrap_or(0);
    let at_top: Vec<&&Value> = distinct.iter().filter(|v| v.rank == top).collect();
    if let [only] = at_top.as_slice() {
        return Ok(((**only).clone(), origin_of(only), Reason::AheadWins));
    }
    let tied: Vec<&Candidate> = pool.iter().filter(|c| c.value.rank == top).collect();
    if tied.iter().all(|c| c.changed_at.is_some()) {
        let latest = tied.iter().map(|c| c.changed_at).max().flatten();
        let newest: BTreeSet<&Value> = tied
            .iter()
            .filter(|c| c.changed_at == latest)
            .map(|c| c.value)
            .collect();
        if let Some(value) = newest.iter().next().filter(|_| newest.len() == 1) {
            return Ok(((*value).clone(), origin_of(value), Reason::LatestWins));
        }
    }
    let origins: BTreeSet<&str> = tied.iter().map(|c| c.origin).collect();
    Err(format!(
        "conflict: {} hold different values of the same rank ({}), changed without seeing each other; nothing written",
        names(origins.into_iter()),
        names(at_top.iter().map(|v| v.status.as_str()))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn v(status: &str) -> Value {
        let rank = match status {
            "todo" => 0,
            "in_progress" | "blocked" => 1,
            "done" | "cancelled" => 2,
            other => panic!("test status {other}"),
        };
        Value::new(status, rank)
    }

    fn merge_rule(reopen: Reopen) -> Rule {
        Rule {
            name: "workplans-hub".into(),
            mode: Mode::Merge { reopen },
            sources: vec!["workplans".into(), "hub".into()],
        }
    }

    fn item(base: Option<&str>, readings: Vec<Reading>) -> ItemInput {
        ItemInput {
            key: "CUST-WP-0026-T01".into(),
            readings,
            base: base.map(v),
        }
    }

    fn at(source: &str, status: &str) -> Reading {
        Reading::holding(source, v(status))
    }

    fn hub(status: &str) -> Reading {
        Reading {
            creatable: true,
            ..at("hub", status)
        }
    }

    fn changes(d: &Decision) -> Vec<(String, String, Reason)> {
        d.changes
            .iter()
            .map(|c| (c.source.clone(), c.to.status.clone(), c.reason))
            .collect()
    }

    #[test]
    fn stale_copy_does_not_regress_the_hub() {
        // Machine B marked it done in the hub; A's file still says todo (= base).
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(Some("todo"), vec![at("workplans", "todo"), hub("done")]),
        );
        assert_eq!(d.reason, Reason::Propagate);
        assert_eq!(
            changes(&d),
            [("workplans".into(), "done".into(), Reason::Propagate)]
        );
        assert_eq!(d.new_base, Some(v("done")));
    }

    #[test]
    fn both_changed_the_higher_rank_wins() {
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(
                Some("todo"),
                vec![at("workplans", "in_progress"), hub("done")],
            ),
        );
        assert_eq!(d.reason, Reason::AheadWins);
        assert_eq!(
            changes(&d),
            [("workplans".into(), "done".into(), Reason::AheadWins)]
        );
    }

    #[test]
    fn a_reopen_is_held_unless_allowed() {
        let input = item(Some("done"), vec![at("workplans", "todo"), hub("done")]);
        let d = decide(&merge_rule(Reopen::Block), &input);
        assert_eq!(d.reason, Reason::RegressionBlocked);
        assert!(d.changes.is_empty(), "nothing overwritten: {d:?}");
        assert_eq!(d.holds[0].source, "workplans");
        assert_eq!(d.new_base, Some(v("done")), "the agreement stays");
        assert_eq!(d.agreeing, ["hub"], "the held source keeps its own base");
        let d = decide(&merge_rule(Reopen::Allow), &input);
        assert_eq!(d.reason, Reason::Reopened);
        assert_eq!(
            changes(&d),
            [("hub".into(), "todo".into(), Reason::Reopened)]
        );
    }

    #[test]
    fn equal_rank_changes_conflict_unless_times_order_them() {
        let input = item(
            Some("todo"),
            vec![at("workplans", "in_progress"), hub("blocked")],
        );
        let d = decide(&merge_rule(Reopen::Block), &input);
        assert_eq!(d.reason, Reason::Conflict);
        assert!(d.changes.is_empty());
        let mut timed = input.clone();
        timed.readings[0].changed_at = Some(100);
        timed.readings[1].changed_at = Some(200);
        let d = decide(&merge_rule(Reopen::Block), &timed);
        assert_eq!(d.reason, Reason::LatestWins);
        assert_eq!(
            changes(&d),
            [("workplans".into(), "blocked".into(), Reason::LatestWins)]
        );
    }

    #[test]
    fn first_sync_takes_the_highest_rank_and_fills_the_hub() {
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(
                None,
                vec![
                    at("workplans", "in_progress"),
                    Reading {
                        creatable: true,
                        ..Reading::absent("hub")
                    },
                ],
            ),
        );
        assert_eq!(
            changes(&d),
            [("hub".into(), "in_progress".into(), Reason::Propagate)]
        );
        assert_eq!(d.new_base, Some(v("in_progress")));
    }

    #[test]
    fn stale_and_dirty_targets_are_held_and_keep_the_base() {
        let stale = Reading {
            blocked: Some(Reason::StaleRepo),
            ..at("workplans", "todo")
        };
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(Some("todo"), vec![stale, hub("done")]),
        );
        assert!(d.changes.is_empty());
        assert_eq!(d.holds[0].reason, Reason::StaleRepo);
        assert_eq!(d.agreeing, ["hub"], "the stale source keeps its own base");
        for reason in [Reason::DetachedHead, Reason::RepoBusy, Reason::IndexLocked] {
            let blocked = Reading {
                blocked: Some(reason),
                ..at("workplans", "todo")
            };
            let d = decide(
                &merge_rule(Reopen::Block),
                &item(Some("todo"), vec![blocked, hub("done")]),
            );
            assert_eq!(d.holds[0].reason, reason, "{d:?}");
        }
        let dirty = Reading {
            dirty: true,
            place: Some("app:docs/plan.md".into()),
            ..at("workplans", "todo")
        };
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(Some("todo"), vec![dirty, hub("done")]),
        );
        assert_eq!(d.holds[0].reason, Reason::DirtyFile);
        assert!(
            d.holds[0].detail.contains("app:docs/plan.md"),
            "names the file: {d:?}"
        );
        // A stale repo's differing value is not an edit.
        let stale_edit = Reading {
            blocked: Some(Reason::StaleRepo),
            ..at("workplans", "done")
        };
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(Some("todo"), vec![stale_edit, hub("todo")]),
        );
        assert!(d.changes.is_empty(), "{d:?}");
    }

    #[test]
    fn unknown_status_skips_the_item() {
        let unknown = Reading {
            value: None,
            raw: Some("deferred".into()),
            ..at("workplans", "todo")
        };
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(Some("todo"), vec![unknown, hub("done")]),
        );
        assert_eq!(d.reason, Reason::UnknownStatus);
        assert!(d.changes.is_empty());
    }

    #[test]
    fn a_key_held_twice_by_one_source_is_held_whole_and_names_every_copy() {
        let first = Reading {
            place: Some("app:docs/a.md:3".into()),
            ..at("workplans", "done")
        };
        let second = Reading {
            place: Some("app:docs/b.md:7".into()),
            ..at("workplans", "todo")
        };
        for rule in [merge_rule(Reopen::Block), merge_rule(Reopen::Allow)] {
            let d = decide(
                &rule,
                &item(
                    Some("todo"),
                    vec![first.clone(), second.clone(), hub("in_progress")],
                ),
            );
            assert_eq!(d.reason, Reason::DuplicateKey, "{d:?}");
            assert!(d.changes.is_empty(), "nothing written anywhere: {d:?}");
            assert_eq!(d.new_base, None, "the base does not move: {d:?}");
            assert_eq!(d.holds.len(), 2, "{d:?}");
            assert!(
                d.explanation.contains("app:docs/a.md:3 (done)"),
                "{}",
                d.explanation
            );
            assert!(
                d.explanation.contains("app:docs/b.md:7 (todo)"),
                "{}",
                d.explanation
            );
        }
        // Two copies agreeing are still two copies: one write would split them.
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(
                None,
                vec![
                    at("workplans", "done"),
                    at("workplans", "done"),
                    hub("todo"),
                ],
            ),
        );
        assert_eq!(d.reason, Reason::DuplicateKey);
        assert!(d.changes.is_empty());
        // A copy without a status is a copy too: writing the other would
        // leave it saying nothing.
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(
                None,
                vec![
                    at("workplans", "done"),
                    Reading::absent("workplans"),
                    hub("todo"),
                ],
            ),
        );
        assert_eq!(d.reason, Reason::DuplicateKey, "{d:?}");
    }

    /// A reading from a checkout whose own base is `own` (`None`: it never synced).
    fn replica(source: &str, status: &str, own: Option<&str>) -> Reading {
        Reading {
            replica: Some(format!("{source}-replica")),
            own_base: own.map(v),
            ..at(source, status)
        }
    }

    #[test]
    fn a_clone_that_never_saw_another_clones_edit_follows_it() {
        // coulombcore made it done and synced; the workstation's file is
        // unchanged since its own last sync (todo): a stale copy, not a reopen.
        for reopen in [Reopen::Block, Reopen::Allow] {
            let d = decide(
                &merge_rule(reopen),
                &item(
                    Some("done"),
                    vec![replica("workplans", "todo", Some("todo")), hub("done")],
                ),
            );
            assert_eq!(d.reason, Reason::Propagate, "{d:?}");
            assert_eq!(
                changes(&d),
                [("workplans".into(), "done".into(), Reason::Propagate)]
            );
            assert!(d.holds.is_empty(), "{d:?}");
        }
    }

    #[test]
    fn a_clones_own_reopen_is_held_under_block_and_propagates_under_allow() {
        let input = item(
            Some("done"),
            vec![replica("workplans", "todo", Some("done")), hub("done")],
        );
        let d = decide(&merge_rule(Reopen::Block), &input);
        assert_eq!(d.reason, Reason::RegressionBlocked);
        assert!(d.changes.is_empty());
        assert!(
            !d.explanation.contains("reopen = \"allow\""),
            "no advice to allow reopens: {}",
            d.explanation
        );
        let d = decide(&merge_rule(Reopen::Allow), &input);
        assert_eq!(
            changes(&d),
            [("hub".into(), "todo".into(), Reason::Reopened)]
        );
    }

    #[test]
    fn a_reopen_does_not_beat_a_higher_change_it_never_saw() {
        // The replica agreed on done; the hub was then set to cancelled;
        // the replica, not having synced, edited done -> in_progress.
        let unsynced = item(
            Some("done"),
            vec![
                replica("workplans", "in_progress", Some("done")),
                hub("cancelled"),
            ],
        );
        // Someone else already synced cancelled: it is the agreement.
        let synced = item(
            Some("cancelled"),
            vec![
                replica("workplans", "in_progress", Some("done")),
                hub("cancelled"),
            ],
        );
        for input in [unsynced, synced] {
            let d = decide(&merge_rule(Reopen::Allow), &input);
            assert_eq!(d.winner, Some(v("cancelled")), "{d:?}");
            assert_eq!(
                changes(&d),
                [("workplans".into(), "cancelled".into(), Reason::AheadWins)]
            );
        }
        // A reopen that saw the agreement wins over it.
        let d = decide(
            &merge_rule(Reopen::Allow),
            &item(
                Some("cancelled"),
                vec![
                    replica("workplans", "in_progress", Some("cancelled")),
                    hub("cancelled"),
                ],
            ),
        );
        assert_eq!(d.winner, Some(v("in_progress")), "{d:?}");
    }

    #[test]
    fn a_forced_reopen_in_the_hub_is_written_back_under_block() {
        // `set --force todo` made todo the agreement; the replica's done is
        // unchanged since its own base.
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(
                Some("todo"),
                vec![replica("workplans", "done", Some("done")), hub("todo")],
            ),
        );
        assert_eq!(
            changes(&d),
            [("workplans".into(), "todo".into(), Reason::Propagate)]
        );
        assert!(d.holds.is_empty(), "{d:?}");
        // Once everything agrees, nothing is held and nothing changes.
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(
                Some("todo"),
                vec![replica("workplans", "todo", Some("todo")), hub("todo")],
            ),
        );
        assert_eq!(d.reason, Reason::InSync);
    }

    #[test]
    fn a_replica_that_never_synced_follows_unless_it_is_ahead() {
        let d = decide(
            &merge_rule(Reopen::Allow),
            &item(
                Some("done"),
                vec![replica("workplans", "todo", None), hub("done")],
            ),
        );
        assert_eq!(
            changes(&d),
            [("workplans".into(), "done".into(), Reason::Propagate)]
        );
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(
                Some("todo"),
                vec![replica("workplans", "done", None), hub("todo")],
            ),
        );
        assert_eq!(
            changes(&d),
            [("hub".into(), "done".into(), Reason::AheadWins)]
        );
        // Equal rank, different value: not ahead, it follows.
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(
                Some("done"),
                vec![replica("workplans", "cancelled", None), hub("done")],
            ),
        );
        assert_eq!(
            changes(&d),
            [("workplans".into(), "done".into(), Reason::Propagate)]
        );
    }

    #[test]
    fn a_value_copied_by_a_sync_commit_never_proposes() {
        // A merge brought in another clone's old write-back of done; the
        // agreement has since been reopened to blocked on purpose.
        let copied = Reading {
            copied: true,
            ..replica("workplans", "done", Some("blocked"))
        };
        let d = decide(
            &merge_rule(Reopen::Allow),
            &item(Some("blocked"), vec![copied, hub("blocked")]),
        );
        assert_eq!(
            changes(&d),
            [("workplans".into(), "blocked".into(), Reason::Propagate)]
        );
    }

    #[test]
    fn after_a_rewrite_an_unchanged_value_follows_and_a_changed_one_needs_a_higher_rank() {
        let uncertain = |status: &str, own: &str| Reading {
            own_base_uncertain: true,
            ..replica("workplans", status, Some(own))
        };
        // Still what it last agreed on (done), the agreement was forced to blocked.
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(
                Some("blocked"),
                vec![uncertain("done", "done"), hub("blocked")],
            ),
        );
        assert_eq!(
            changes(&d),
            [("workplans".into(), "blocked".into(), Reason::Propagate)]
        );
        // Changed, but it cannot vouch for the change: only a higher rank counts.
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(Some("done"), vec![uncertain("todo", "done"), hub("done")]),
        );
        assert!(d.holds.is_empty(), "not a reopen: {d:?}");
        assert_eq!(
            changes(&d),
            [("workplans".into(), "done".into(), Reason::Propagate)]
        );
    }

    #[test]
    fn an_equal_rank_change_made_without_seeing_the_agreement_conflicts() {
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(
                Some("cancelled"),
                vec![replica("workplans", "done", Some("todo")), hub("cancelled")],
            ),
        );
        assert_eq!(d.reason, Reason::Conflict, "{d:?}");
        assert!(d.changes.is_empty());
    }

    fn mirror_rule() -> Rule {
        Rule {
            name: "plan-drives-hub".into(),
            mode: Mode::Mirror {
                truth: "plan".into(),
            },
            sources: vec!["plan".into(), "hub".into()],
        }
    }

    #[test]
    fn mirror_reverts_out_of_band_changes_even_to_a_lower_rank() {
        let d = decide(
            &mirror_rule(),
            &item(Some("todo"), vec![at("plan", "todo"), hub("in_progress")]),
        );
        assert_eq!(d.reason, Reason::RevertedOutOfBand);
        assert_eq!(
            changes(&d),
            [("hub".into(), "todo".into(), Reason::RevertedOutOfBand)]
        );
        let d = decide(
            &mirror_rule(),
            &item(Some("todo"), vec![at("plan", "done"), hub("todo")]),
        );
        assert_eq!(
            changes(&d),
            [("hub".into(), "done".into(), Reason::Propagate)]
        );
    }

    fn owned_rule() -> Rule {
        Rule {
            name: "features".into(),
            mode: Mode::Owned {
                owners: BTreeMap::from([
                    ("ft2".into(), "ft2-features".into()),
                    ("fitme-story".into(), "story-features".into()),
                ]),
            },
            sources: vec!["ft2-features".into(), "story-features".into()],
        }
    }

    #[test]
    fn owned_mirrors_the_owner_and_skips_missing_or_unknown_owners() {
        let owner = |r: Reading, o: &str| Reading {
            owner: Some(o.into()),
            ..r
        };
        let d = decide(
            &owned_rule(),
            &item(
                None,
                vec![
                    owner(at("ft2-features", "done"), "fitme-story"),
                    owner(at("story-features", "in_progress"), "fitme-story"),
                ],
            ),
        );
        assert_eq!(
            changes(&d),
            [(
                "ft2-features".into(),
                "in_progress".into(),
                Reason::Propagate
            )]
        );
        let d = decide(
            &owned_rule(),
            &item(
                None,
                vec![at("ft2-features", "done"), at("story-features", "todo")],
            ),
        );
        assert_eq!(d.reason, Reason::OwnerMissing);
        let d = decide(
            &owned_rule(),
            &item(None, vec![owner(at("ft2-features", "done"), "nobody")]),
        );
        assert_eq!(d.reason, Reason::OwnerUnknown);
    }

    // ------------------------------------------------------------ properties

    fn any_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(v("todo")),
            Just(v("in_progress")),
            Just(v("blocked")),
            Just(v("done")),
            Just(v("cancelled"))
        ]
    }

    fn any_reading(source: &'static str) -> impl Strategy<Value = Reading> {
        (
            proptest::option::weighted(0.9, any_value()),
            proptest::option::weighted(0.3, 0i64..5),
            any::<bool>(),
            prop_oneof![
                Just(None),
                Just(Some("ft2".to_string())),
                Just(Some("story".to_string()))
            ],
            // A replica (with its own base, maybe none) or a single place.
            proptest::option::weighted(0.6, proptest::option::weighted(0.8, any_value())),
            proptest::option::weighted(0.1, Just(Reason::StaleRepo)),
            (
                proptest::bool::weighted(0.15),
                proptest::bool::weighted(0.15),
                proptest::bool::weighted(0.1),
            ),
        )
            .prop_map(
                move |(
                    value,
                    changed_at,
                    creatable,
                    owner,
                    own,
                    blocked,
                    (uncertain, copied, pinned),
                )| {
                    Reading {
                        source: source.into(),
                        present: value.is_some(),
                        raw: value.as_ref().map(|v| v.status.clone()),
                        value,
                        blocked,
                        dirty: false,
                        pinned: pinned.then(|| "an alias repeats it".to_string()),
                        place: None,
                        replica: own.as_ref().map(|_| format!("{source}-replica")),
                        own_base: own.flatten(),
                        own_base_uncertain: uncertain,
                        copied,
                        changed_at,
                        owner,
                        creatable,
                    }
                },
            )
    }

    fn any_rule() -> impl Strategy<Value = Rule> {
        let sources = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        prop_oneof![
            Just(Rule {
                name: "m".into(),
                mode: Mode::Merge {
                    reopen: Reopen::Block
                },
                sources: sources.clone()
            }),
            Just(Rule {
                name: "m".into(),
                mode: Mode::Merge {
                    reopen: Reopen::Allow
                },
                sources: sources.clone()
            }),
            Just(Rule {
                name: "m".into(),
                mode: Mode::Mirror { truth: "a".into() },
                sources: sources.clone()
            }),
            Just(Rule {
                name: "m".into(),
                mode: Mode::Owned {
                    owners: BTreeMap::from([
                        ("ft2".into(), "a".into()),
                        ("story".into(), "b".into())
                    ])
                },
                sources,
            }),
        ]
    }

    fn any_item() -> impl Strategy<Value = ItemInput> {
        (
            any_reading("a"),
            any_reading("b"),
            any_reading("c"),
            proptest::option::of(any_value()),
        )
            .prop_map(|(a, b, c, base)| ItemInput {
                key: "K".into(),
                readings: vec![a, b, c],
                base,
            })
    }

    /// Apply a decision's changes and new base to its input, as sync does:
    /// the changed and agreeing sources' replicas take the winner as their
    /// own base.
    fn apply(input: &ItemInput, d: &Decision) -> ItemInput {
        let mut next = input.clone();
        for change in &d.changes {
            if let Some(r) = next.readings.iter_mut().find(|r| r.source == change.source) {
                r.value = Some(change.to.clone());
                r.raw = Some(change.to.status.clone());
                r.present = true;
            }
        }
        if let Some(winner) = &d.winner {
            for r in &mut next.readings {
                let agreed = d.agreeing.contains(&r.source)
                    || d.changes.iter().any(|c| c.source == r.source);
                if agreed && r.replica.is_some() {
                    r.own_base = Some(winner.clone());
                }
            }
        }
        if let Some(base) = &d.new_base {
            next.base = Some(base.clone());
        }
        next
    }

    proptest! {
        #[test]
        fn a_plan_decided_in_parallel_is_the_sequential_one(
            rules in proptest::collection::vec(any_rule(), 1..4),
            items in proptest::collection::vec((any_item(), 0u8..6), 0..40),
        ) {
            // Keys repeat across items (a key read twice), so the sort's
            // stability shows too.
            let inputs: Vec<(Rule, Vec<ItemInput>)> = rules
                .iter()
                .enumerate()
                .map(|(i, rule)| {
                    let rule = Rule { name: format!("r{}", i % 2), ..rule.clone() };
                    let items = items
                        .iter()
                        .map(|(item, key)| ItemInput { key: format!("K{key}"), ..item.clone() })
                        .collect();
                    (rule, items)
                })
                .collect();
            let mut sequential: Vec<Decision> = inputs
                .iter()
                .flat_map(|(rule, items)| items.iter().map(move |item| decide(rule, item)))
                .collect();
            sequential.sort_by(|a, b| (&a.rule, &a.key).cmp(&(&b.rule, &b.key)));
            prop_assert_eq!(plan(inputs).decisions, sequential);
        }

        #[test]
        fn a_plan_decided_a_chunk_at_a_time_is_the_whole_one(
            rules in proptest::collection::vec(any_rule(), 1..4),
            items in proptest::collection::vec((any_item(), 0u8..30), 0..40),
            chunk in 1usize..7,
        ) {
            // Rules given out of name order, each rule's keys in order, as
            // the workspace hands them over a chunk at a time.
            let inputs: Vec<(Rule, Vec<ItemInput>)> = rules
                .iter()
                .enumerate()
                .map(|(i, rule)| {
                    let rule = Rule { name: format!("r{}", 9 - i), ..rule.clone() };
                    let mut items: Vec<ItemInput> = items
                        .iter()
                        .map(|(item, key)| ItemInput { key: format!("K{key:02}"), ..item.clone() })
                        .collect();
                    items.sort_by(|a, b| a.key.cmp(&b.key));
                    (rule, items)
                })
                .collect();
            let whole = plan(inputs.clone());
            let mut planner = Planner::default();
            for (rule, items) in inputs {
                for part in items.chunks(chunk) {
                    planner.decide(&rule, part.to_vec());
                }
            }
            prop_assert_eq!(planner.finish().decisions, whole.decisions);
        }

        #[test]
        fn plans_are_deterministic_and_order_independent(rule in any_rule(), input in any_item(), seed in any::<u64>()) {
            let first = decide(&rule, &input);
            prop_assert_eq!(&first, &decide(&rule, &input));
            let mut shuffled = input.clone();
            let n = shuffled.readings.len();
            shuffled.readings.rotate_left((seed as usize) % n);
            if seed % 2 == 0 { shuffled.readings.reverse(); }
            prop_assert_eq!(first, decide(&rule, &shuffled));
        }

        #[test]
        fn applying_a_plan_then_replanning_changes_nothing(rule in any_rule(), input in any_item()) {
            let first = decide(&rule, &input);
            let after = apply(&input, &first);
            let second = decide(&rule, &after);
            prop_assert!(second.changes.is_empty(), "first {:?}\nsecond {:?}", first, second);
        }

        #[test]
        fn merge_without_reopen_never_lowers_a_rank_below_the_base(input in any_item()) {
            let rule = Rule { name: "m".into(), mode: Mode::Merge { reopen: Reopen::Block }, sources: vec!["a".into(), "b".into(), "c".into()] };
            let d = decide(&rule, &input);
            if let Some(base) = &input.base {
                for c in &d.changes {
                    prop_assert!(c.to.rank >= base.rank, "{:?} lowers {:?}", c, base);
                }
            }
        }

        #[test]
        fn a_source_unchanged_since_its_own_base_never_moves_the_agreement(input in any_item(), allow in any::<bool>()) {
            let reopen = if allow { Reopen::Allow } else { Reopen::Block };
            let rule = Rule { name: "m".into(), mode: Mode::Merge { reopen }, sources: vec!["a".into(), "b".into(), "c".into()] };
            let Some(base) = input.base.clone() else { return Ok(()) };
            // Every fresh source holds its own base (or the agreement).
            let mut quiet = input.clone();
            for r in &mut quiet.readings {
                if r.blocked.is_none() && r.value.is_some() {
                    let own = if r.replica.is_some() { r.own_base.clone() } else { Some(base.clone()) };
                    r.value = Some(own.unwrap_or_else(|| base.clone()));
                    r.raw = r.value.as_ref().map(|v| v.status.clone());
                }
            }
            let d = decide(&rule, &quiet);
            if let Some(winner) = &d.winner {
                prop_assert_eq!(winner, &base, "{:?}", d);
            }
        }

        #[test]
        fn a_merge_reopen_under_allow_comes_from_a_source_that_reopened(input in any_item()) {
            let rule = Rule { name: "m".into(), mode: Mode::Merge { reopen: Reopen::Allow }, sources: vec!["a".into(), "b".into(), "c".into()] };
            let d = decide(&rule, &input);
            if let (Some(base), Some(winner)) = (&input.base, &d.winner)
                && winner.rank < base.rank
            {
                let reopened = input.readings.iter().any(|r| {
                    let own = if r.replica.is_some() { r.own_base.as_ref() } else { Some(base) };
                    r.blocked.is_none() && !r.dirty && own.zip(r.value.as_ref()).is_some_and(|(o, v)| o.rank > v.rank)
                });
                prop_assert!(reopened, "{:?}", d);
            }
        }

        #[test]
        fn mirror_targets_end_equal_to_the_truth(input in any_item()) {
            let rule = Rule { name: "m".into(), mode: Mode::Mirror { truth: "a".into() }, sources: vec!["a".into(), "b".into(), "c".into()] };
            let d = decide(&rule, &input);
            if d.reason == Reason::AliasedValue {
                prop_assert!(d.changes.is_empty() && d.new_base.is_none(), "{:?}", d);
                return Ok(());
            }
            let after = apply(&input, &d);
            let truth = after.readings.iter().find(|r| r.source == "a" && r.blocked.is_none()).and_then(|r| r.value.clone());
            if let Some(truth) = truth {
                for r in &after.readings {
                    if (r.present || r.creatable) && r.blocked.is_none() {
                        prop_assert_eq!(r.value.as_ref(), Some(&truth), "{:?}", d);
                    }
                }
            }
        }
    }
}
