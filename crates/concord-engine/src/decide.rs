use crate::model::*;
use std::collections::BTreeSet;

/// Decide every item of every rule. Decisions come out sorted by rule name
/// then key, whatever the input order.
pub fn plan(inputs: &[(Rule, Vec<ItemInput>)]) -> Plan {
    let mut decisions: Vec<Decision> = inputs
        .iter()
        .flat_map(|(rule, items)| items.iter().map(move |item| decide(rule, item)))
        .collect();
    decisions.sort_by(|a, b| (&a.rule, &a.key).cmp(&(&b.rule, &b.key)));
    Plan { decisions }
}

/// Decide one item under one rule.
pub fn decide(rule: &Rule, item: &ItemInput) -> Decision {
    let readings = normalize(rule, item);
    let mut decision = Decision {
        rule: rule.name.clone(),
        key: item.key.clone(),
        reason: Reason::InSync,
        winner: None,
        changes: Vec::new(),
        holds: Vec::new(),
        new_base: None,
        explanation: String::new(),
    };
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
    decision
}

/// One reading per rule source that gave one, in the rule's order: the
/// decision must not depend on the order readings arrive in. A source given
/// twice keeps the smallest reading (callers report duplicate keys before
/// deciding). Sources that gave no reading are left out: a rule over a
/// hundred sources must not cost a hundred readings per item.
fn normalize(rule: &Rule, item: &ItemInput) -> Vec<Reading> {
    rule.sources
        .iter()
        .filter_map(|source| {
            item.readings
                .iter()
                .filter(|r| &r.source == source)
                .min_by(|a, b| {
                    (&a.value, &a.raw, a.stale, a.dirty, a.changed_at, &a.owner).cmp(&(
                        &b.value,
                        &b.raw,
                        b.stale,
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

fn show(value: Option<&Value>) -> &str {
    value.map_or("(none)", |v| v.status.as_str())
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
        if r.stale {
            decision.holds.push(Hold {
                source: r.source.clone(),
                reason: Reason::StaleRepo,
                detail: format!(
                    "would get {}, but its repo is behind its upstream",
                    winner.status
                ),
            });
            continue;
        }
        if r.dirty {
            decision.holds.push(Hold {
                source: r.source.clone(),
                reason: Reason::DirtyFile,
                detail: format!(
                    "would get {}, but the file has uncommitted changes",
                    winner.status
                ),
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

/// The new base: the winner, once every source holding the item has it
/// (after the changes). While some source is held back, the old base stays,
/// so that source's old value is still recognised as stale next time.
fn settle(decision: &mut Decision, winner: &Value) {
    let blocked = decision
        .holds
        .iter()
        .any(|h| h.reason != Reason::NotInSource);
    decision.winner = Some(winner.clone());
    decision.new_base = (!blocked).then(|| winner.clone());
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
    if truth.stale {
        decision.reason = Reason::StaleRepo;
        decision.holds.push(Hold {
            source: truth.source.clone(),
            reason: Reason::StaleRepo,
            detail: "the truth's repo is behind its upstream; its value may be old".into(),
        });
        decision.explanation = format!(
            "{} is behind its upstream: nothing mirrored until it is pulled",
            truth.source
        );
        return;
    }
    let out_of_band = |r: &Reading| r.present && base.is_some_and(|b| r.value.as_ref() != Some(b));
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
    settle(decision, &winner);
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

fn merge(readings: &[Reading], base: Option<&Value>, reopen: Reopen, decision: &mut Decision) {
    let present: Vec<&Reading> = readings.iter().filter(|r| r.value.is_some()).collect();
    if present.is_empty() {
        decision.reason = Reason::NotInSource;
        decision.explanation = "no source holds this item".into();
        return;
    }
    // A stale repo's value is not an edit: only fresh sources propose.
    let fresh: Vec<&Reading> = present.iter().copied().filter(|r| !r.stale).collect();
    let proposals: Vec<&Reading> = fresh
        .iter()
        .copied()
        .filter(|r| r.value.as_ref() != base)
        .collect();

    let mut held: BTreeSet<&str> = BTreeSet::new();
    let candidates: Vec<&Reading> = match base {
        Some(base) if reopen == Reopen::Block => {
            let mut forward = Vec::new();
            for r in &proposals {
                let value = r.value.as_ref().map_or(0, |v| v.rank);
                if value < base.rank {
                    held.insert(r.source.as_str());
                    decision.holds.push(Hold {
                        source: r.source.clone(),
                        reason: Reason::RegressionBlocked,
                        detail: format!(
                            "{} -> {} lowers the rank: a reopen this rule does not allow",
                            base.status,
                            show(r.value.as_ref())
                        ),
                    });
                } else {
                    forward.push(*r);
                }
            }
            forward
        }
        _ => proposals.clone(),
    };

    // With a base and no proposal, the base stands. Without a base (first
    // sync), every fresh value is a candidate: the highest rank wins.
    let pool: Vec<&Reading> = match base {
        Some(_) => candidates,
        None if !fresh.is_empty() => fresh.clone(),
        None => present.clone(),
    };
    let (winner, origin, reason) = if pool.is_empty() {
        let Some(base) = base else {
            return;
        };
        let reason = if held.is_empty() {
            Reason::InSync
        } else {
            Reason::RegressionBlocked
        };
        (base.clone(), String::from("base"), reason)
    } else {
        match pick(&pool, base) {
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
    decision.explanation = match decision.reason {
        Reason::InSync => format!("every source agrees on {}", winner.status),
        Reason::RegressionBlocked => format!(
            "{} reopened it below {}; held back (set reopen = \"allow\" to let it through)",
            names(held.iter().copied()),
            base.map_or("the base", |b| b.status.as_str())
        ),
        _ => {
            let since = match base {
                Some(base) => format!(
                    "changed it to {} since the base ({})",
                    winner.status, base.status
                ),
                None => format!(
                    "has the highest rank ({}) and there is no base yet",
                    winner.status
                ),
            };
            format!(
                "{origin} {since}; {} follow{}",
                names(decision.changes.iter().map(|c| c.source.as_str())),
                if decision.changes.len() == 1 { "s" } else { "" }
            )
        }
    };
    settle(decision, &winner);
}

/// Choose among proposals: one value wins outright; else the highest rank;
/// equal rank: the latest change when every tied one has a time; else a
/// conflict (`Err` with what was seen).
fn pick(pool: &[&Reading], base: Option<&Value>) -> Result<(Value, String, Reason), String> {
    let distinct: BTreeSet<&Value> = pool.iter().filter_map(|r| r.value.as_ref()).collect();
    let origin_of = |value: &Value| {
        names(
            pool.iter()
                .filter(|r| r.value.as_ref() == Some(value))
                .map(|r| r.source.as_str()),
        )
    };
    if let (1, Some(&value)) = (distinct.len(), distinct.first()) {
        let value = value.clone();
        let reason = match base {
            Some(b) if value.rank < b.rank => Reason::Reopened,
            _ => Reason::Propagate,
        };
        let origin = origin_of(&value);
        return Ok((value, origin, reason));
    }
    let top = distinct.iter().map(|v| v.rank).max().unwrap_or(0);
    let at_top: Vec<&&Value> = distinct.iter().filter(|v| v.rank == top).collect();
    if let [only] = at_top.as_slice() {
        let value = (**only).clone();
        let origin = origin_of(&value);
        return Ok((value, origin, Reason::AheadWins));
    }
    let tied: Vec<&&Reading> = pool
        .iter()
        .filter(|r| r.value.as_ref().is_some_and(|v| v.rank == top))
        .collect();
    if tied.iter().all(|r| r.changed_at.is_some()) {
        let latest = tied.iter().map(|r| r.changed_at).max().flatten();
        let newest: BTreeSet<&Value> = tied
            .iter()
            .filter(|r| r.changed_at == latest)
            .filter_map(|r| r.value.as_ref())
            .collect();
        if let Some(value) = newest.iter().next().filter(|_| newest.len() == 1) {
            let value = (*value).clone();
            let origin = origin_of(&value);
            return Ok((value, origin, Reason::LatestWins));
        }
    }
    Err(format!(
        "conflict: {} changed it to different values of the same rank ({}); nothing written",
        names(tied.iter().map(|r| r.source.as_str())),
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
        assert_eq!(d.new_base, None, "the base stays");
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
            stale: true,
            ..at("workplans", "todo")
        };
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(Some("todo"), vec![stale, hub("done")]),
        );
        assert!(d.changes.is_empty());
        assert_eq!(d.holds[0].reason, Reason::StaleRepo);
        assert_eq!(d.new_base, None);
        let dirty = Reading {
            dirty: true,
            ..at("workplans", "todo")
        };
        let d = decide(
            &merge_rule(Reopen::Block),
            &item(Some("todo"), vec![dirty, hub("done")]),
        );
        assert_eq!(d.holds[0].reason, Reason::DirtyFile);
        // A stale repo's differing value is not an edit.
        let stale_edit = Reading {
            stale: true,
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
        )
            .prop_map(move |(value, changed_at, creatable, owner)| Reading {
                source: source.into(),
                present: value.is_some(),
                raw: value.as_ref().map(|v| v.status.clone()),
                value,
                stale: false,
                dirty: false,
                changed_at,
                owner,
                creatable,
            })
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

    /// Apply a decision's changes and new base to its input.
    fn apply(input: &ItemInput, d: &Decision) -> ItemInput {
        let mut next = input.clone();
        for change in &d.changes {
            if let Some(r) = next.readings.iter_mut().find(|r| r.source == change.source) {
                r.value = Some(change.to.clone());
                r.raw = Some(change.to.status.clone());
                r.present = true;
            }
        }
        if let Some(base) = &d.new_base {
            next.base = Some(base.clone());
        }
        next
    }

    proptest! {
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
        fn mirror_targets_end_equal_to_the_truth(input in any_item()) {
            let rule = Rule { name: "m".into(), mode: Mode::Mirror { truth: "a".into() }, sources: vec!["a".into(), "b".into(), "c".into()] };
            let d = decide(&rule, &input);
            let after = apply(&input, &d);
            let truth = after.readings.iter().find(|r| r.source == "a").and_then(|r| r.value.clone());
            if let Some(truth) = truth {
                for r in &after.readings {
                    if r.present || r.creatable {
                        prop_assert_eq!(r.value.as_ref(), Some(&truth), "{:?}", d);
                    }
                }
            }
        }
    }
}
