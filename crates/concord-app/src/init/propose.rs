//! From what each file holds to a workspace: sources (one per glob of
//! files read alike), their keys, the workflows their words call for, and
//! the sync rule that lets `concord sync` run right away. Pure.

use super::detect::{Detected, Shape};
use super::globs::{self, FileGroup, GlobKind};
use super::vocabulary::{self, ProposedWorkflow, WorkflowKind};
use concord_model::{StatusDef, Workflow};
use std::collections::{BTreeMap, BTreeSet};

/// A repo as init found it: its name in the config and its path relative
/// to the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoPlan {
    pub name: String,
    pub path: String,
}

/// One proposed `[[source]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePlan {
    pub name: String,
    pub repo: String,
    pub shape: Shape,
    pub glob: String,
    pub glob_kind: GlobKind,
    /// Files it was made for (repo-relative).
    pub members: Vec<String>,
    pub key: String,
    pub workflow: WorkflowKind,
    pub qualifiers: Vec<String>,
    /// The field naming each document's owning repo, if most files have one.
    pub owner: Option<String>,
    /// Documents only: the in-repo event log per item (`{key}` in it).
    pub log_file: Option<String>,
    /// Status word -> number of items using it.
    pub words: BTreeMap<String, usize>,
    /// canonical status -> the word this source writes for it.
    pub write_names: BTreeMap<String, String>,
    /// Items as detected (before the confirming scan).
    pub items: usize,
}

/// One proposed `[[sync]]` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulePlan {
    pub name: String,
    pub between: Vec<String>,
    /// Proposed in a comment only, for a person to switch on.
    pub commented: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub repos: Vec<RepoPlan>,
    pub workflows: Vec<ProposedWorkflow>,
    pub sources: Vec<SourcePlan>,
    pub rules: Vec<RulePlan>,
}

/// The files of one repo that init could read: path -> what it holds.
pub type RepoFiles = BTreeMap<String, Vec<Detected>>;

/// Sources of one repo: files of equal shape grouped by glob.
pub fn sources_of(repo: &str, files: &RepoFiles) -> Vec<SourcePlan> {
    let mut by_shape: BTreeMap<&Shape, Vec<(&String, &Detected)>> = BTreeMap::new();
    for (rel, detected) in files {
        for d in detected {
            by_shape.entry(&d.shape).or_default().push((rel, d));
        }
    }
    let mut sources = Vec::new();
    for (shape, found) in by_shape {
        let members: Vec<String> = found.iter().map(|(rel, _)| rel.to_string()).collect();
        for group in globs::group(&members) {
            let detected: Vec<&Detected> = found
                .iter()
                .filter(|(rel, _)| group.members.contains(rel))
                .map(|(_, d)| *d)
                .collect();
            sources.push(source(repo, shape, &group, &detected));
        }
    }
    sources
}

fn source(repo: &str, shape: &Shape, group: &FileGroup, detected: &[&Detected]) -> SourcePlan {
    let mut words: BTreeMap<String, usize> = BTreeMap::new();
    for w in detected.iter().flat_map(|d| d.words.iter()) {
        *words.entry(w.clone()).or_default() += 1;
    }
    let mut qualifiers: Vec<String> = detected
        .iter()
        .flat_map(|d| d.qualifiers.iter().cloned())
        .collect();
    qualifiers.sort();
    qualifiers.dedup();
    let name = match shape {
        Shape::JsonItems { items, .. } => {
            let last = items.rsplit('/').next().unwrap_or("items");
            format!(
                "{}-{}",
                group.name,
                if last.is_empty() { "items" } else { last }
            )
        }
        _ => group.name.clone(),
    };
    let owners: Vec<&str> = detected.iter().filter_map(|d| d.owner.as_deref()).collect();
    let owner = (owners.len() * 2 >= detected.len())
        .then(|| most_common(&owners))
        .flatten();
    SourcePlan {
        owner,
        log_file: None,
        name,
        repo: repo.to_string(),
        shape: shape.clone(),
        glob: group.glob.clone(),
        glob_kind: group.kind,
        members: group.members.clone(),
        key: key_template(shape, group, detected),
        workflow: workflow_kind(shape, &words),
        qualifiers,
        items: detected.iter().map(|d| d.words.len()).sum(),
        words,
        write_names: BTreeMap::new(),
    }
}

/// The key template: the format's id where ids are unique, prefixed with
/// the folder or file name where they repeat across files (`T1` in every
/// feature's state file becomes `feature-a/T1`).
fn key_template(shape: &Shape, group: &FileGroup, detected: &[&Detected]) -> String {
    let path_part = if group.kind == GlobKind::SiblingFolders {
        "dir"
    } else {
        "stem"
    };
    let by_path = |part: &str| -> Vec<String> {
        group
            .members
            .iter()
            .map(|m| path_value(m, part).to_string())
            .collect()
    };
    match shape {
        Shape::TaskBlocks => "{id}".into(),
        Shape::Table { key, .. } => key.clone(),
        Shape::FrontMatter { .. } => {
            let all_have_id = detected.iter().all(|d| !d.ids.is_empty());
            if all_have_id && unique(&mut detected.iter().flat_map(|d| d.ids.iter().cloned())) {
                "{id}".into()
            } else if unique(&mut by_path("stem").into_iter()) {
                "{stem}".into()
            } else {
                "{path}".into()
            }
        }
        Shape::JsonDocument { .. } => {
            if unique(&mut by_path(path_part).into_iter()) {
                format!("{{{path_part}}}")
            } else {
                "{path}".into()
            }
        }
        Shape::JsonItems { id, .. } => {
            let ids = || detected.iter().flat_map(|d| d.ids.iter().cloned());
            if unique(&mut ids()) {
                format!("{{{id}}}")
            } else {
                format!("{{{path_part}}}/{{{id}}}")
            }
        }
    }
}

fn most_common(values: &[&str]) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(v, _)| v.to_string())
}

fn unique(keys: impl Iterator<Item = String>) -> bool {
    let mut seen = BTreeSet::new();
    let mut keys = keys;
    keys.all(|k| seen.insert(k))
}

fn path_value<'a>(rel: &'a str, part: &str) -> &'a str {
    let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel));
    match part {
        "dir" => dir.rsplit('/').next().unwrap_or(dir),
        "stem" => file.rsplit_once('.').map_or(file, |(s, _)| s),
        _ => rel,
    }
}

/// Event logs named after the documents' keys (`.claude/logs/{key}.log.json`
/// beside `.claude/features/{key}/state.json`): when at least half of a
/// document source's keys have one in the same folder, the source names
/// that folder as its `log_file`, so `concord log` appends there.
pub fn log_files(sources: &mut [SourcePlan], logs: &[String]) {
    for source in sources.iter_mut() {
        let part = match (&source.shape, source.key.as_str()) {
            (Shape::JsonDocument { .. }, "{dir}") => "dir",
            (Shape::JsonDocument { .. } | Shape::FrontMatter { .. }, "{stem}") => "stem",
            _ => continue,
        };
        let keys: BTreeSet<&str> = source.members.iter().map(|m| path_value(m, part)).collect();
        let mut templates: BTreeMap<String, usize> = BTreeMap::new();
        for log in logs {
            let (dir, file) = log.rsplit_once('/').unwrap_or(("", log));
            let Some(name) = file.strip_suffix(".log.json") else {
                continue;
            };
            if keys.contains(name) && !dir.contains(['{', '}']) {
                let template = if dir.is_empty() {
                    "{key}.log.json".to_string()
                } else {
                    format!("{dir}/{{key}}.log.json")
                };
                *templates.entry(template).or_default() += 1;
            }
        }
        source.log_file = templates
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .filter(|(_, n)| n * 2 >= keys.len())
            .map(|(template, _)| template);
    }
}

/// A phase field (`current_phase`, `stage`), or words that are mostly
/// lifecycle phases, make a lifecycle source.
fn workflow_kind(shape: &Shape, words: &BTreeMap<String, usize>) -> WorkflowKind {
    let field = shape.status_field().to_ascii_lowercase();
    let field = field.rsplit('/').next().unwrap_or(&field);
    let phases = words
        .keys()
        .filter(|w| vocabulary::is_phase_word(w))
        .count();
    if field.contains("phase") || field.contains("stage") || phases * 2 > words.len() {
        WorkflowKind::Lifecycle
    } else {
        WorkflowKind::Task
    }
}

/// Names unique across the workspace: prefixed with the repo when there
/// are several repos, then suffixed with the format or a number on a clash.
pub fn name_sources(sources: &mut [SourcePlan], several_repos: bool) {
    let mut taken: BTreeSet<String> = BTreeSet::from(["hub".to_string()]);
    for source in sources.iter_mut() {
        let base = if several_repos {
            format!("{}-{}", source.repo, source.name)
        } else {
            source.name.clone()
        };
        let base = slug(&base);
        let mut name = base.clone();
        if taken.contains(&name) {
            name = format!("{base}-{}", source.shape.format());
        }
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        taken.insert(name.clone());
        source.name = name;
    }
}

/// Lowercase letters, digits and single dashes.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() { "source".into() } else { out }
}

/// Workflows for the sources' words, and each source's `write_names`.
pub fn workflows_for(sources: &mut [SourcePlan]) -> Vec<ProposedWorkflow> {
    let mut workflows = Vec::new();
    for kind in [WorkflowKind::Task, WorkflowKind::Lifecycle] {
        let mut words: BTreeMap<String, usize> = BTreeMap::new();
        let mut any = false;
        for s in sources.iter().filter(|s| s.workflow == kind) {
            any = true;
            for (w, n) in &s.words {
                *words.entry(w.clone()).or_default() += n;
            }
        }
        if !any {
            continue;
        }
        let proposed = vocabulary::propose(kind, &words);
        if let Ok(workflow) = build(&proposed) {
            for s in sources.iter_mut().filter(|s| s.workflow == kind) {
                s.write_names = write_names(&workflow, &s.words);
            }
        }
        workflows.push(proposed);
    }
    workflows
}

pub fn build(proposed: &ProposedWorkflow) -> Result<Workflow, concord_model::WorkflowError> {
    Workflow::new(
        proposed.name.clone(),
        proposed
            .statuses
            .iter()
            .map(|s| StatusDef {
                name: s.name.clone(),
                rank: s.rank,
                aliases: s.aliases.clone(),
            })
            .collect(),
    )
}

/// For each status a source uses, its most used word when that is not the
/// status's own name: sync then writes the source's own word back.
fn write_names(workflow: &Workflow, words: &BTreeMap<String, usize>) -> BTreeMap<String, String> {
    let mut best: BTreeMap<String, (&str, usize)> = BTreeMap::new();
    for (word, count) in words {
        let Some(status) = workflow.resolve(word) else {
            continue;
        };
        let entry = best.entry(status.name.clone()).or_insert((word, 0));
        if *count > entry.1 || (*count == entry.1 && *word == status.name) {
            *entry = (word, *count);
        }
    }
    let mut names: BTreeMap<String, String> = best
        .into_iter()
        .filter(|(status, (word, _))| status != word)
        .map(|(status, (word, _))| (status, word.to_string()))
        .collect();
    // Once a source names its words, sync writes only named ones: every
    // other status is written as its own name.
    if !names.is_empty() {
        for status in workflow.statuses() {
            names
                .entry(status.name.clone())
                .or_insert_with(|| status.name.clone());
        }
    }
    names
}

/// The rule that runs on the first `concord sync`: every source of one
/// workflow merged with the hub (only one rule may write the hub). The
/// task workflow's sources are chosen when there are any. Sources of the
/// other workflow get a rule only in a comment.
pub fn rules_for(sources: &[SourcePlan]) -> Vec<RulePlan> {
    let of = |kind: WorkflowKind| -> Vec<String> {
        sources
            .iter()
            .filter(|s| s.workflow == kind)
            .map(|s| s.name.clone())
            .collect()
    };
    let (task, lifecycle) = (of(WorkflowKind::Task), of(WorkflowKind::Lifecycle));
    let (hub_kind, hub_sources, other_kind, others) = if task.is_empty() {
        (WorkflowKind::Lifecycle, lifecycle, WorkflowKind::Task, task)
    } else {
        (WorkflowKind::Task, task, WorkflowKind::Lifecycle, lifecycle)
    };
    let mut rules = Vec::new();
    if !hub_sources.is_empty() {
        let mut between = hub_sources;
        between.push("hub".into());
        rules.push(RulePlan {
            name: format!("{}-with-hub", hub_kind.name()),
            between,
            commented: false,
        });
    }
    if others.len() >= 2 {
        rules.push(RulePlan {
            name: other_kind.name().to_string(),
            between: others,
            commented: true,
        });
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detected(shape: Shape, words: &[&str], ids: &[&str]) -> Detected {
        Detected {
            shape,
            words: words.iter().map(|s| s.to_string()).collect(),
            ids: ids.iter().map(|s| s.to_string()).collect(),
            qualifiers: Vec::new(),
            owner: None,
        }
    }

    fn items() -> Shape {
        Shape::JsonItems {
            items: "/tasks".into(),
            id: "/id".into(),
            status: "/status".into(),
        }
    }

    #[test]
    fn repeated_ids_get_their_folder_as_prefix() {
        let mut files = RepoFiles::new();
        files.insert(
            "f/a/state.json".into(),
            vec![detected(items(), &["done"], &["T1"])],
        );
        files.insert(
            "f/b/state.json".into(),
            vec![detected(items(), &["todo"], &["T1"])],
        );
        let sources = sources_of("app", &files);
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].key, "{dir}/{/id}");
        assert_eq!(sources[0].name, "f-tasks");
        assert_eq!(sources[0].glob, "f/*/state.json");
        files.insert(
            "f/b/state.json".into(),
            vec![detected(items(), &["todo"], &["T2"])],
        );
        assert_eq!(sources_of("app", &files)[0].key, "{/id}");
    }

    #[test]
    fn phase_fields_make_lifecycle_sources_and_the_hub_joins_the_tasks() {
        let mut files = RepoFiles::new();
        let doc = Shape::JsonDocument {
            status: "/current_phase".into(),
        };
        files.insert(
            "f/a/state.json".into(),
            vec![
                detected(doc.clone(), &["implementation"], &[]),
                detected(items(), &["complete"], &["A-1"]),
            ],
        );
        files.insert(
            "f/b/state.json".into(),
            vec![
                detected(doc, &["complete"], &[]),
                detected(items(), &["done"], &["B-1"]),
            ],
        );
        let mut sources = sources_of("app", &files);
        name_sources(&mut sources, false);
        let kinds: Vec<(&str, WorkflowKind)> = sources
            .iter()
            .map(|s| (s.name.as_str(), s.workflow))
            .collect();
        assert_eq!(
            kinds,
            [
                ("f", WorkflowKind::Lifecycle),
                ("f-tasks", WorkflowKind::Task)
            ]
        );
        let workflows = workflows_for(&mut sources);
        assert_eq!(workflows.len(), 2);
        // `done` is used once, `complete` once: the name wins the tie.
        assert_eq!(sources[1].write_names, BTreeMap::new());
        files.insert(
            "f/c/state.json".into(),
            vec![detected(items(), &["complete"], &["C-1"])],
        );
        let mut sources = sources_of("app", &files);
        workflows_for(&mut sources);
        let names = &sources[1].write_names;
        assert_eq!(names.get("done").map(String::as_str), Some("complete"));
        // Every other status is named too, as itself: sync can write it.
        assert_eq!(names.get("blocked").map(String::as_str), Some("blocked"));
        let rules = rules_for(&sources);
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].between, ["f-tasks", "hub"]);
    }

    #[test]
    fn logs_named_after_most_documents_become_their_log_file() {
        let mut files = RepoFiles::new();
        let doc = Shape::JsonDocument {
            status: "/current_phase".into(),
        };
        for feature in ["a", "b", "c"] {
            files.insert(
                format!("f/{feature}/state.json"),
                vec![detected(doc.clone(), &["complete"], &[])],
            );
        }
        let mut sources = sources_of("app", &files);
        log_files(
            &mut sources,
            &["logs/a.log.json".into(), "logs/b.log.json".into()],
        );
        assert_eq!(sources[0].log_file.as_deref(), Some("logs/{key}.log.json"));
        log_files(
            &mut sources,
            &["logs/a.log.json".into(), "other/x.log.json".into()],
        );
        assert_eq!(sources[0].log_file, None);
    }

    #[test]
    fn names_are_unique_and_never_hub() {
        let plan = |name: &str| SourcePlan {
            name: name.into(),
            repo: "r".into(),
            shape: Shape::TaskBlocks,
            glob: "x".into(),
            glob_kind: GlobKind::Exact,
            members: Vec::new(),
            key: "{id}".into(),
            workflow: WorkflowKind::Task,
            qualifiers: Vec::new(),
            owner: None,
            log_file: None,
            words: BTreeMap::new(),
            write_names: BTreeMap::new(),
            items: 0,
        };
        let mut sources = vec![plan("hub"), plan("Plan"), plan("plan"), plan("plan")];
        name_sources(&mut sources, false);
        let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["hub-task-blocks", "plan", "plan-task-blocks", "plan-2"]
        );
    }
}
