//! What the engine is given: for each rule, one input per item holding a
//! reading from every member source (files as scanned, the hub's own
//! values) and the rule's base. Pure: the caller reads the hub.

use crate::config::Workspace;
use crate::sync_rules::HUB_SOURCE;
use concord_engine::{ItemInput, Reading, Reason, Rule, Value};
use concord_model::{Observation, Workflow};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The hub's own status of an item (canonical word).
#[derive(Debug, Clone)]
pub struct HubStatus<'a> {
    pub key: &'a str,
    pub status: Option<&'a str>,
}

/// What the gates found for one observation's file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gate {
    /// Why the repo may not be written (behind its upstream, mid-rebase,
    /// detached, locked), as an item-level reason.
    pub blocked: Option<Reason>,
    /// The file has uncommitted changes.
    pub dirty: bool,
    /// The checkout the file was read in, for a git repo.
    pub replica: Option<Arc<str>>,
}

/// What one replica knows of its own value of an item of a source under a
/// rule (`concord-engine`'s `Reading` says what each part means).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnView {
    /// The canonical status it last agreed on; `None` when it never did.
    pub base: Option<String>,
    /// `base` predates a rewrite of the replica's history.
    pub uncertain: bool,
    /// The value was last changed by one of concord's sync commits.
    pub copied: bool,
}

/// (rule, observation) -> what its replica knows of it.
pub type OwnBase<'a> = &'a dyn Fn(&str, &Observation) -> OwnView;

/// One reading still to make: the hub's value or a file's observation.
#[derive(Clone, Copy)]
enum Pending<'a> {
    Hub(&'a HubStatus<'a>),
    File(&'a Observation),
}

/// What a reading is made with besides the observation itself.
#[derive(Clone, Copy)]
pub struct Known<'k> {
    /// (rule, key) -> agreed canonical status.
    pub bases: &'k HashMap<(String, String), String>,
    pub gate: &'k dyn Fn(&Observation) -> Gate,
    pub own_base: OwnBase<'k>,
}

/// Every item of every rule, as references to what says something about
/// it (the hub's values, the files' observations): rules in name order,
/// each rule's items in key order (the order a plan is in). The readings
/// the engine is given (a few hundred bytes each, one per source per item)
/// are made a chunk of items at a time by [`EngineItems::for_each_chunk`],
/// so a caller that decides each chunk as it comes never holds every
/// item's readings at once.
pub struct EngineItems<'a> {
    rules: Vec<(&'a Rule, BTreeMap<&'a str, Vec<Pending<'a>>>)>,
}

impl<'a> EngineItems<'a> {
    pub fn gather(
        ws: &'a Workspace,
        observations: &[&'a Observation],
        hub: &'a [HubStatus<'a>],
    ) -> Self {
        let mut by_source: HashMap<&str, Vec<&Observation>> = HashMap::new();
        for obs in observations {
            by_source.entry(&obs.source).or_default().push(obs);
        }
        let mut rules: Vec<&Rule> = ws.rules.iter().collect();
        rules.sort_by(|a, b| a.name.cmp(&b.name));
        let rules = rules
            .into_iter()
            .map(|rule| {
                let mut items: BTreeMap<&str, Vec<Pending<'_>>> = BTreeMap::new();
                for member in &rule.sources {
                    if member == HUB_SOURCE {
                        for value in hub {
                            push_tight(items.entry(value.key).or_default(), Pending::Hub(value));
                        }
                        continue;
                    }
                    for obs in by_source.get(member.as_str()).into_iter().flatten() {
                        push_tight(items.entry(&obs.key).or_default(), Pending::File(obs));
                    }
                }
                (rule, items)
            })
            .collect();
        EngineItems { rules }
    }

    /// How many items, over every rule.
    pub fn len(&self) -> usize {
        self.rules.iter().map(|(_, items)| items.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Make the engine's input and hand it to `each`, at most `chunk` items
    /// at a time, in order.
    pub fn for_each_chunk(
        self,
        ws: &Workspace,
        known: Known<'_>,
        chunk: usize,
        mut each: impl FnMut(&Rule, Vec<ItemInput>),
    ) {
        for (rule, items) in self.rules {
            let workflow = rule_workflow(ws, rule);
            let mut items = items.into_iter().peekable();
            while items.peek().is_some() {
                let inputs = items
                    .by_ref()
                    .take(chunk.max(1))
                    .map(|(key, pending)| {
                        let readings = pending
                            .into_iter()
                            .map(|p| match p {
                                Pending::Hub(value) => hub_reading(workflow, value),
                                Pending::File(obs) => own_reading(
                                    rule,
                                    workflow,
                                    obs,
                                    (known.gate)(obs),
                                    known.own_base,
                                ),
                            })
                            .collect();
                        item_input(rule, workflow, known.bases, key, readings)
                    })
                    .collect();
                each(rule, inputs);
            }
        }
    }
}

/// A file's reading, with what its replica knows of its own value.
fn own_reading(
    rule: &Rule,
    workflow: Option<&Workflow>,
    obs: &Observation,
    gate: Gate,
    own_base: OwnBase<'_>,
) -> Reading {
    let mut reading = file_reading(obs, gate);
    if reading.replica.is_some() {
        let own = own_base(&rule.name, obs);
        reading.own_base = own
            .base
            .and_then(|status| workflow.and_then(|w| value_of(w, &status)));
        reading.own_base_uncertain = own.uncertain;
        reading.copied = own.copied;
    }
    reading
}

/// One item's input: its readings, the hub's place if the hub can take
/// it, and the rule's base.
fn item_input(
    rule: &Rule,
    workflow: Option<&Workflow>,
    bases: &HashMap<(String, String), String>,
    key: &str,
    mut readings: Vec<Reading>,
) -> ItemInput {
    let base = bases
        .get(&(rule.name.clone(), key.to_string()))
        .and_then(|status| workflow.and_then(|w| value_of(w, status)));
    // The hub can take an item it has not seen yet.
    if rule.sources.iter().any(|s| s == HUB_SOURCE)
        && !readings.iter().any(|r| r.source == HUB_SOURCE)
    {
        readings.push(Reading {
            creatable: true,
            ..Reading::absent(HUB_SOURCE)
        });
    }
    ItemInput {
        key: key.to_string(),
        readings,
        base,
    }
}

/// Push, growing by doubling from one instead of Vec's first four: an
/// item is read by one to three sources, and every item of the workspace
/// holds its list at once.
fn push_tight<T>(readings: &mut Vec<T>, reading: T) {
    if readings.len() == readings.capacity() {
        readings.reserve_exact(readings.len().max(1));
    }
    readings.push(reading);
}

/// The workflow of a rule's file sources (validation made them agree).
fn rule_workflow<'w>(ws: &'w Workspace, rule: &Rule) -> Option<&'w Workflow> {
    rule.sources
        .iter()
        .find_map(|name| ws.sources.iter().find(|s| &s.name == name))
        .map(|s| ws.workflow(s))
}

fn value_of(workflow: &Workflow, word: &str) -> Option<Value> {
    workflow
        .resolve(word)
        .map(|s| Value::new(s.name.clone(), s.rank))
}

fn file_reading(obs: &Observation, gate: Gate) -> Reading {
    let (value, raw) = match &obs.status {
        Some(s) => (
            s.canonical
                .as_ref()
                .zip(s.rank)
                .map(|(status, rank)| Value::new(status.to_string(), rank)),
            Some(s.raw.clone()),
        ),
        None => (None, None),
    };
    Reading {
        source: obs.source.to_string(),
        // An item without a status is held like one the source lacks.
        present: raw.is_some(),
        value,
        raw,
        blocked: gate.blocked,
        dirty: gate.dirty,
        pinned: obs.status.as_ref().and_then(|s| s.pinned.clone()),
        place: Some(format!(
            "{}:{}:{}",
            obs.repo,
            obs.path,
            obs.status.as_ref().map_or(obs.line, |s| s.line)
        )),
        replica: gate.replica.map(|r| r.to_string()),
        own_base: None,
        own_base_uncertain: false,
        copied: false,
        changed_at: None,
        owner: obs.owner.clone(),
        creatable: false,
    }
}

fn hub_reading(workflow: Option<&Workflow>, hub: &HubStatus<'_>) -> Reading {
    Reading {
        source: HUB_SOURCE.to_string(),
        present: hub.status.is_some(),
        value: hub
            .status
            .and_then(|status| workflow.and_then(|w| value_of(w, status))),
        raw: hub.status.map(str::to_string),
        blocked: None,
        dirty: false,
        pinned: None,
        place: None,
        replica: None,
        own_base: None,
        own_base_uncertain: false,
        copied: false,
        changed_at: None,
        owner: None,
        creatable: true,
    }
}
