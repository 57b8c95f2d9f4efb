//! Convergence of several clones and one hub under a seeded random history
//! (Jepsen-style). Four clones of one bare remote ("replicas", each with
//! its own `concord.toml` and all sharing one hub, SQLite or PostgreSQL)
//! edit task statuses and commit them, push (sometimes rejected), pull
//! with a merge (a conflict is resolved as a user would: take one side's
//! file, or abort) or a rebase, and run `concord sync [--pull]`; people
//! also `concord set` values in the hub, forcing some reopens. Everything
//! the harness does is recorded. A quiescent phase then pulls, syncs and
//! pushes every clone until a whole round changes nothing (held or
//! undecided items are settled as a user would: the file back to the
//! hub's value, or the hub forced to the file's), and the files, the
//! remote and the hub's journal (`history --json`, `status --json`) are
//! checked against the record:
//!
//! 1. quiescence is reached; every clone then holds the hub's value of
//!    every task and the remote's HEAD, and `status` says all agree;
//! 2. `reopen = "block"`: no hub entry lowers a rank unless it is a forced
//!    set by the harness; a file entry lowers one only to follow the hub
//!    after such a forced set; every forced reopen is journaled as one;
//! 3. `reopen = "allow"`: every rank-lowering hub entry is a forced set or
//!    goes to a value some clone committed (an edit or a merge
//!    resolution) or a forced set put there before; a file entry lowers a
//!    rank only to follow the hub;
//! 4. no duplicate journal entry and no entry from a value to itself;
//! 5. the hub's entries of a key form a chain (no lost update in the hub);
//! 6. no lost update: a forward edit (above the hub's value when it was
//!    committed) that a sync of its clone read reaches the hub or is
//!    superseded there by an equal or higher rank, or by a later forced set;
//! 7. a stale copy never proposes: when a clone's file still has the value
//!    it had after that clone's own last sync, its sync neither writes that
//!    value to the hub, nor holds it, nor calls it a conflict (checked at
//!    every sync: this is the incident below; not judged where a sync that
//!    settled nothing, its repo behind or nothing changed, saw another
//!    value, or after a rebase rewrote the commit a sync left the clone at:
//!    whether those move or forget the clone's base is concord's call).
//!
//! The seed is printed first and named in every failure;
//! `CONCORD_CONVERGENCE_SEED=<seed> CONCORD_CONVERGENCE_OPS=<n> cargo test
//! -p concord-cli --test cli_convergence <test>` replays a history (the
//! same seed gives the same operations on both backends, as long as
//! concord answers the same). `CONCORD_CONVERGENCE_CLONES=1..4` uses fewer
//! clones; `CONCORD_CONVERGENCE_KEEP=1` keeps a failed run's folders and
//! PostgreSQL schema. The two focused tests at the end are the incident: a
//! clone that never saw another clone's `done` must not reopen it.

mod common;

use common::{Output, TASK_WORKFLOW};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Random operations per history unless `CONCORD_CONVERGENCE_OPS` says.
const DEFAULT_OPS: usize = 250;
/// Rounds of pull, sync and push before the history must be quiet.
const MAX_ROUNDS: usize = 30;
const CLONES: [&str; 4] = ["workstation", "coulombcore", "laptop", "ci-runner"];
const WORKPLAN_KEYS: [&str; 6] = ["T01", "T02", "T03", "T04", "T05", "T06"];
const NOTES_KEYS: [&str; 2] = ["N01", "N02"];
const STATUSES: [&str; 5] = ["todo", "in_progress", "blocked", "done", "cancelled"];

fn all_keys() -> impl Iterator<Item = &'static str> {
    WORKPLAN_KEYS.iter().chain(NOTES_KEYS.iter()).copied()
}

fn rank(status: &str) -> u8 {
    match status {
        "todo" => 0,
        "in_progress" | "blocked" => 1,
        "done" | "cancelled" => 2,
        other => panic!("`{other}` is not a status of the task workflow"),
    }
}

fn file_of(key: &str) -> &'static str {
    if key.starts_with('T') {
        "docs/workplan.md"
    } else {
        "docs/notes.md"
    }
}

fn document(title: &str, keys: &[&str]) -> String {
    let mut text = format!("# {title}\n");
    for (i, key) in keys.iter().enumerate() {
        text.push_str(&format!(
            "\n```task\nid: {key}\nstatus: todo\ntitle: step {}\n```\n",
            i + 1
        ));
    }
    text
}

/// The status of every task block in a file.
fn values(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut key: Option<String> = None;
    for line in text.lines() {
        if let Some(k) = line.strip_prefix("id: ") {
            key = Some(k.trim().to_string());
        } else if let Some(status) = line.strip_prefix("status: ") {
            if let Some(k) = key.take() {
                out.insert(k, status.trim().to_string());
            }
        } else if line.trim() == "```" {
            key = None;
        }
    }
    out
}

/// `text` with the status line of `key`'s block set to `status`.
fn with_status(text: &str, key: &str, status: &str) -> String {
    let id = format!("id: {key}\n");
    let block = text
        .find(&id)
        .unwrap_or_else(|| panic!("no block {key} in:\n{text}"));
    let start = block + text[block..].find("status: ").expect("status line") + "status: ".len();
    let end = start + text[start..].find('\n').expect("line end");
    format!("{}{status}{}", &text[..start], &text[end..])
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn stamp(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

/// splitmix64: small, seedable, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn seed_for(test: &str) -> u64 {
    if let Ok(text) = std::env::var("CONCORD_CONVERGENCE_SEED") {
        let t = text.trim();
        let parsed = match t.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => t.parse(),
        };
        return parsed.unwrap_or_else(|e| panic!("CONCORD_CONVERGENCE_SEED={text}: {e}"));
    }
    let nanos = now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let salt = test.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    Rng(nanos ^ salt).next() % 1_000_000_000
}

fn ops_from_env() -> usize {
    std::env::var("CONCORD_CONVERGENCE_OPS")
        .ok()
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|e| panic!("CONCORD_CONVERGENCE_OPS={v}: {e}"))
        })
        .unwrap_or(DEFAULT_OPS)
}

/// `git ARGS` in `dir`: whether it succeeded, stdout, stderr.
fn git_try(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_EDITOR", "true")
        .env("GIT_MERGE_AUTOEDIT", "no")
        .output()
        .expect("run git");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The shared hub; a PostgreSQL hub lives in a schema of its own, dropped
/// at the end.
struct Hub {
    url: String,
    _schema: Option<concord_test_support::PgSchema>,
}

struct Replica {
    name: String,
    root: PathBuf,
    /// Edits committed here that no sync of this clone has read yet, by key.
    pending: BTreeMap<String, usize>,
    /// What this clone last agreed with the hub, as far as the harness
    /// can tell: its file's value after its last sync that settled the key.
    base: BTreeMap<String, String>,
    /// Another value this clone may count as its base: one a sync saw
    /// without settling anything (its repo was behind, or nothing changed
    /// since a converged sync). Whether that moves a replica's base is
    /// concord's choice; where it matters, property 7 does not judge.
    maybe_base: BTreeMap<String, String>,
    /// HEAD after this clone's last sync.
    synced_head: Option<String>,
}

impl Replica {
    /// Whether `value` of `key` is unchanged since this clone's base:
    /// `Some(true)` certainly, `Some(false)` certainly not, `None` when
    /// that depends on which of the two bases concord keeps.
    fn unchanged(&self, key: &str, value: &str) -> Option<bool> {
        let base = self.base.get(key)?;
        let maybe = self.maybe_base.get(key).unwrap_or(base);
        match (base == value, maybe == value) {
            (true, true) => Some(true),
            (false, false) => Some(false),
            _ => None,
        }
    }

    fn app(&self) -> PathBuf {
        self.root.join("app")
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum EditKind {
    /// A person changed a status and committed it.
    Edit,
    /// Resolving a held item: the file set back to the hub's value.
    BackToHub,
    /// A merge conflict resolved by taking the other side's file.
    Resolution,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Fate {
    /// Committed; no sync of the clone has read it yet.
    Pending,
    /// A sync of the clone read it as a change: it must reach the hub.
    Observed,
    /// A sync of the clone held it or could not decide it.
    Contested,
    /// The clone's own base already had this value (or may have had):
    /// not a change, or not certainly one.
    NoChange,
    /// Replaced in the clone (a later edit, a merge) before a sync read it.
    Replaced,
    /// Only a trace (merge resolutions).
    Untracked,
}

struct Edit {
    step: usize,
    clone: usize,
    key: String,
    from: String,
    to: String,
    at: SystemTime,
    kind: EditKind,
    fate: Fate,
}

/// A `set --force` the harness made that changed the hub.
struct Forced {
    step: usize,
    key: String,
    from: String,
    to: String,
    before: SystemTime,
    after: SystemTime,
}

/// One change entry of the hub's journal.
#[derive(Clone, Debug)]
struct Entry {
    id: i64,
    at: SystemTime,
    at_text: String,
    run_id: String,
    actor: String,
    from: Option<String>,
    to: Option<String>,
    target: String,
    reason: String,
    note: String,
}

impl Entry {
    fn is_hub(&self) -> bool {
        self.target == "hub"
    }

    fn describe(&self) -> String {
        format!(
            "#{} at {} by {} in {}: {} -> {} ({}; run {}{})",
            self.id,
            self.at_text,
            self.actor,
            self.target,
            self.from.as_deref().unwrap_or("(none)"),
            self.to.as_deref().unwrap_or("(none)"),
            self.reason,
            self.run_id,
            if self.note.is_empty() {
                String::new()
            } else {
                format!("; note: {}", self.note)
            }
        )
    }

    fn lowers(&self) -> bool {
        match (&self.from, &self.to) {
            (Some(from), Some(to)) => rank(to) < rank(from),
            _ => false,
        }
    }
}

/// What one `concord sync --json` reported.
#[derive(Default)]
struct Synced {
    code: i32,
    unchanged: bool,
    /// (key, target, from, to, reason)
    applied: Vec<(String, String, Option<String>, String, String)>,
    /// (key, reason, detail)
    held: Vec<(String, String, String)>,
    undecided: Vec<(String, String, String)>,
    /// (key, target, problem); the key is empty for a repo-wide failure.
    not_applied: Vec<(String, String, String)>,
    commits: Vec<String>,
    blocked: Vec<String>,
}

impl Synced {
    /// Items held back or left undecided by the rule's decision (not
    /// because the repo was behind or the file dirty: pulling fixes those).
    fn contested(&self) -> BTreeSet<String> {
        self.held
            .iter()
            .filter(|(_, reason, _)| reason != "STALE_REPO" && reason != "DIRTY_FILE")
            .chain(&self.undecided)
            .map(|(k, _, _)| k.clone())
            .collect()
    }

    fn summary(&self) -> String {
        if self.unchanged {
            return "unchanged since the last converged sync".into();
        }
        let mut parts = Vec::new();
        for (key, target, from, to, reason) in &self.applied {
            parts.push(format!(
                "{key} {target}: {} -> {to} ({reason})",
                from.as_deref().unwrap_or("(none)")
            ));
        }
        for (key, reason, detail) in &self.held {
            parts.push(format!("held {key} {reason} ({detail})"));
        }
        for (key, reason, detail) in &self.undecided {
            parts.push(format!("undecided {key} {reason} ({detail})"));
        }
        for (key, target, problem) in &self.not_applied {
            parts.push(format!("not applied {key} {target}: {problem}"));
        }
        for blocked in &self.blocked {
            parts.push(format!("blocked: {blocked}"));
        }
        for commit in &self.commits {
            parts.push(format!("commit {}", &commit[..commit.len().min(8)]));
        }
        if parts.is_empty() {
            parts.push("nothing applied".into());
        }
        format!("{} [exit {}]", parts.join("; "), self.code)
    }
}

#[derive(Default)]
struct Stats {
    edits: usize,
    sets: usize,
    refused_sets: usize,
    forced: usize,
    syncs: usize,
    applied: usize,
    held: usize,
    undecided: usize,
    partial: usize,
    pushes: usize,
    rejected_pushes: usize,
    merges: usize,
    conflicts: usize,
    aborted: usize,
    rebases: usize,
    resolutions: usize,
}

struct World {
    dir: tempfile::TempDir,
    remote: PathBuf,
    hub: Hub,
    reopen: &'static str,
    label: String,
    clones: Vec<Replica>,
    edits: Vec<Edit>,
    forced: Vec<Forced>,
    step: usize,
    rng: Rng,
    stats: Stats,
    /// Violations seen while the history ran.
    live_violations: Vec<String>,
}

impl World {
    /// A bare remote with the two documents, one clone per name (each in a
    /// folder of its own with its `concord.toml`), one hub. `None`: the
    /// PostgreSQL test is skipped.
    fn new(backend: Backend, reopen: &'static str, names: &[&str], seed: u64) -> Option<World> {
        let dir = tempfile::tempdir().expect("temp dir");
        let hub = match backend {
            Backend::Sqlite => Hub {
                url: format!("sqlite://{}", dir.path().join("hub.db").display()),
                _schema: None,
            },
            Backend::Postgres => {
                let schema = concord_test_support::PgSchema::create(&format!(
                    "concord_conv_{reopen}_{seed}"
                ))?;
                Hub {
                    url: schema.url(),
                    _schema: Some(schema),
                }
            }
        };
        let label = format!(
            "seed={seed} reopen={reopen} hub={}",
            if backend == Backend::Sqlite {
                "sqlite"
            } else {
                "postgres"
            }
        );
        let mut world = World {
            remote: dir.path().join("remote.git"),
            dir,
            hub,
            reopen,
            label,
            clones: Vec::new(),
            edits: Vec::new(),
            forced: Vec::new(),
            step: 0,
            rng: Rng(seed),
            stats: Stats::default(),
            live_violations: Vec::new(),
        };
        let top = world.dir.path().to_path_buf();
        world.git(&top, &["init", "-q", "--bare", "-b", "main", "remote.git"]);
        let remote = world.remote.display().to_string();
        world.git(&top, &["clone", "-q", &remote, "seed"]);
        let seed_dir = top.join("seed");
        world.configure(&seed_dir);
        std::fs::create_dir_all(seed_dir.join("docs")).expect("docs");
        std::fs::write(
            seed_dir.join("docs/workplan.md"),
            document("Workplan", &WORKPLAN_KEYS),
        )
        .expect("write");
        std::fs::write(
            seed_dir.join("docs/notes.md"),
            document("Notes", &NOTES_KEYS),
        )
        .expect("write");
        world.git(&seed_dir, &["add", "."]);
        world.git(&seed_dir, &["commit", "-q", "-m", "workplan"]);
        world.git(&seed_dir, &["push", "-q", "origin", "HEAD:main"]);
        for name in names {
            let root = top.join(name);
            std::fs::create_dir_all(&root).expect("clone dir");
            world.git(&root, &["clone", "-q", &remote, "app"]);
            world.configure(&root.join("app"));
            std::fs::write(
                root.join("concord.toml"),
                format!(
                    r#"
[[repo]]
name = "app"
path = "app"
branch = "main"
{TASK_WORKFLOW}
[[source]]
name = "workplans"
repo = "app"
format = "task-blocks"
glob = "docs/*.md"
workflow = "task"

[[sync]]
name = "tasks"
mode = "merge"
between = ["workplans", "hub"]
reopen = "{reopen}"
"#
                ),
            )
            .expect("config");
            world.clones.push(Replica {
                name: name.to_string(),
                root,
                pending: BTreeMap::new(),
                base: BTreeMap::new(),
                maybe_base: BTreeMap::new(),
                synced_head: None,
            });
        }
        Some(world)
    }

    fn configure(&self, repo: &Path) {
        self.git(repo, &["config", "user.name", "Test"]);
        self.git(repo, &["config", "user.email", "test@example.com"]);
    }

    /// `git ARGS` in `dir`, which must succeed: a failure here is the
    /// harness's, and says so.
    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let (ok, stdout, stderr) = git_try(dir, args);
        assert!(
            ok,
            "[{}] harness: git {args:?} in {} failed at step {}: {stderr}{stdout}",
            self.label,
            dir.display(),
            self.step
        );
        stdout
    }

    fn log(&self, c: usize, what: &str) {
        println!("[{:>4}] {:<12} {what}", self.step, self.clones[c].name);
    }

    fn concord(&self, c: usize, args: &[&str]) -> Output {
        let actor = format!("{}@convergence", self.clones[c].name);
        common::run_env(
            &self.clones[c].root,
            &[
                ("CONCORD_HUB_URL", self.hub.url.as_str()),
                ("CONCORD_ACTOR", actor.as_str()),
            ],
            args,
        )
    }

    fn head(&self, c: usize) -> String {
        self.git(&self.clones[c].app(), &["rev-parse", "HEAD"])
            .trim()
            .to_string()
    }

    fn remote_head(&self) -> String {
        self.git(&self.remote, &["rev-parse", "main"])
            .trim()
            .to_string()
    }

    fn commit_count(&self, c: usize) -> usize {
        self.git(&self.clones[c].app(), &["rev-list", "--count", "HEAD"])
            .trim()
            .parse()
            .expect("count")
    }

    fn read(&self, c: usize, rel: &str) -> String {
        std::fs::read_to_string(self.clones[c].app().join(rel)).expect("read")
    }

    fn file_value(&self, c: usize, key: &str) -> String {
        values(&self.read(c, file_of(key)))
            .remove(key)
            .unwrap_or_else(|| panic!("[{}] {key} is missing in {}", self.label, file_of(key)))
    }

    fn file_values(&self, c: usize) -> BTreeMap<String, String> {
        let mut all = values(&self.read(c, "docs/workplan.md"));
        all.extend(values(&self.read(c, "docs/notes.md")));
        all
    }

    /// Every task's value in the files as of `commit`.
    fn values_at(&self, c: usize, commit: &str) -> BTreeMap<String, String> {
        let mut all = BTreeMap::new();
        for rel in ["docs/workplan.md", "docs/notes.md"] {
            let text = self.git(&self.clones[c].app(), &["show", &format!("{commit}:{rel}")]);
            all.extend(values(&text));
        }
        all
    }

    /// The hub's journal of `key`: its change entries, oldest first.
    fn journal(&self, key: &str) -> Vec<Entry> {
        let out = self.concord(0, &["history", key, "--json"]);
        assert_eq!(
            out.code, 0,
            "[{}] history {key}: {}{}",
            self.label, out.stdout, out.stderr
        );
        let text = |v: &Value| v.as_str().map(str::to_string);
        out.json()["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["kind"] == "change" && e["field"] == "status")
            .map(|e| {
                let at_text = text(&e["at"]).unwrap_or_default();
                let at = humantime::parse_rfc3339_weak(&at_text).unwrap_or_else(|err| {
                    panic!(
                        "[{}] journal entry {e}: `at` is not a time: {err}",
                        self.label
                    )
                });
                Entry {
                    id: e["id"].as_i64().unwrap_or_default(),
                    at,
                    at_text,
                    run_id: text(&e["run_id"]).unwrap_or_default(),
                    actor: text(&e["actor"]).unwrap_or_default(),
                    from: text(&e["from"]),
                    to: text(&e["to"]),
                    target: text(&e["target"]).unwrap_or_default(),
                    reason: text(&e["reason"]).unwrap_or_default(),
                    note: text(&e["note"]).unwrap_or_default(),
                }
            })
            .collect()
    }

    /// The hub's value of `key`: what its newest hub entry says.
    fn hub_value(&self, key: &str) -> Option<String> {
        self.journal(key)
            .iter()
            .rev()
            .find(|e| e.is_hub())
            .and_then(|e| e.to.clone())
    }

    /// Sets `key` to `to` in the clone's file and commits it.
    fn edit_to(&mut self, c: usize, key: &str, to: &str, kind: EditKind) {
        let rel = file_of(key);
        let text = self.read(c, rel);
        let from = values(&text).remove(key).expect("the key is in its file");
        std::fs::write(self.clones[c].app().join(rel), with_status(&text, key, to)).expect("write");
        let message = format!("{key}: {from} -> {to}");
        self.git(&self.clones[c].app(), &["commit", "-q", "-am", &message]);
        let index = self.edits.len();
        self.edits.push(Edit {
            step: self.step,
            clone: c,
            key: key.to_string(),
            from: from.clone(),
            to: to.to_string(),
            at: now(),
            kind,
            fate: Fate::Pending,
        });
        if let Some(earlier) = self.clones[c].pending.insert(key.to_string(), index) {
            self.edits[earlier].fate = Fate::Replaced;
        }
        self.stats.edits += 1;
        self.log(
            c,
            &format!("edit {key}: {from} -> {to} ({kind:?}), committed"),
        );
    }

    /// `concord set KEY TO [--force]`; forced sets that changed the hub
    /// are recorded. Returns the exit code.
    fn set(&mut self, c: usize, key: &str, to: &str, force: bool) -> i32 {
        let note = format!(
            "harness {} #{}",
            if force { "force" } else { "set" },
            self.step
        );
        let mut args = vec!["set", key, to, "--note", &note, "--json"];
        if force {
            args.push("--force");
        }
        let before = now();
        let out = self.concord(c, &args);
        let after = now();
        match out.code {
            0 => {
                let report = out.json();
                let from = report["from"].as_str().unwrap_or("(none)").to_string();
                let changed = report["changed"].as_bool().unwrap_or(false);
                self.log(
                    c,
                    &format!(
                        "set {key} {to}{}: {from} -> {to} ({}{})",
                        if force { " --force" } else { "" },
                        report["reason"].as_str().unwrap_or("?"),
                        if changed { "" } else { ", unchanged" }
                    ),
                );
                if force {
                    self.stats.forced += 1;
                    if changed {
                        self.forced.push(Forced {
                            step: self.step,
                            key: key.to_string(),
                            from,
                            to: to.to_string(),
                            before,
                            after,
                        });
                    }
                } else {
                    self.stats.sets += 1;
                }
            }
            2 if !force => {
                self.stats.refused_sets += 1;
                self.log(
                    c,
                    &format!("set {key} {to}: refused (a reopen needs --force)"),
                );
            }
            code => panic!(
                "[{}] harness: set {key} {to} (force {force}) exited {code} at step {}: {}{}",
                self.label, self.step, out.stdout, out.stderr
            ),
        }
        out.code
    }

    /// `concord sync [--pull] --json` in clone `c`; updates what the
    /// harness knows about the clone's pending edits and bases.
    fn sync(&mut self, c: usize, pull: bool) -> Synced {
        let mut args = vec!["sync", "--json"];
        if pull {
            args.push("--pull");
        }
        let out = self.concord(c, &args);
        assert!(
            matches!(out.code, 0 | 1 | 3),
            "[{}] sync{} in {} exited {} at step {}: {}{}",
            self.label,
            if pull { " --pull" } else { "" },
            self.clones[c].name,
            out.code,
            self.step,
            out.stdout,
            out.stderr
        );
        let report: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "[{}] sync output is not JSON ({e}) at step {}: {}{}",
                self.label, self.step, out.stdout, out.stderr
            )
        });
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let synced = Synced {
            code: out.code,
            unchanged: report.get("unchanged_since").is_some(),
            applied: report["applied"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    (
                        text(&a["key"]),
                        text(&a["target"]),
                        a["from"].as_str().map(str::to_string),
                        text(&a["to"]),
                        text(&a["reason"]),
                    )
                })
                .collect(),
            // held: [key, source, reason, detail]; undecided: [key, reason, explanation]
            held: report["held"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    (
                        text(&e[0]),
                        text(&e[2]),
                        format!("from {}: {}", text(&e[1]), text(&e[3])),
                    )
                })
                .collect(),
            undecided: report["undecided"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| (text(&e[0]), text(&e[1]), text(&e[2])))
                .collect(),
            not_applied: report["not_applied"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| (text(&e["key"]), text(&e["target"]), text(&e["problem"])))
                .collect(),
            commits: report["commits"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| text(&e[1]))
                .collect(),
            blocked: report["repos_blocked"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| format!("{}: {}", text(&e[0]), text(&e[1])))
                .collect(),
        };
        self.stats.syncs += 1;
        self.stats.applied += synced.applied.len();
        self.stats.held += synced.held.len();
        self.stats.undecided += synced.undecided.len();
        if synced.code == 3 {
            self.stats.partial += 1;
        }
        self.log(
            c,
            &format!(
                "sync{}: {}",
                if pull { " --pull" } else { "" },
                synced.summary()
            ),
        );
        self.clones[c].synced_head = Some(self.head(c));
        self.account(c, &synced);
        synced
    }

    /// After a sync of clone `c`: which pending edits it read, and the
    /// clone's new bases.
    fn account(&mut self, c: usize, synced: &Synced) {
        if synced.unchanged {
            // Nothing changed since its last converged sync: its files are
            // what that sync left, its bases too.
            return;
        }
        if !synced.blocked.is_empty() {
            // Nothing of this clone counted as an edit and nothing was
            // written to it; a value it holds that is the hub's (the
            // decision's winner) is what it now agrees on
            // (docs/replicas.md), the rest keep their bases.
            let held: BTreeSet<&str> = synced.held.iter().map(|h| h.0.as_str()).collect();
            let seen = self.file_values(c);
            let hub: BTreeMap<String, Option<String>> = seen
                .keys()
                .map(|k| (k.clone(), self.hub_value(k)))
                .collect();
            let replica = &mut self.clones[c];
            for (key, value) in seen {
                if !held.contains(key.as_str()) && hub.get(&key) == Some(&Some(value.clone())) {
                    replica.maybe_base.remove(&key);
                    replica.base.insert(key, value);
                }
            }
            return;
        }
        if synced.not_applied.iter().any(|(key, _, _)| key.is_empty()) {
            // A repo-wide failure (commit or push): keep everything open.
            return;
        }
        let open: BTreeSet<String> = synced
            .not_applied
            .iter()
            .map(|(key, _, _)| key.clone())
            .collect();
        let contested = synced.contested();
        // What the sync read: the parent of its own commit, else HEAD.
        let read_at = match synced.commits.first() {
            Some(commit) => self
                .git(&self.clones[c].app(), &["rev-parse", &format!("{commit}^")])
                .trim()
                .to_string(),
            None => self.head(c),
        };
        let read = self.values_at(c, &read_at);
        // 7. A stale copy never proposes: a value this clone's file has
        // had since its own last sync is neither written to the hub, nor
        // held, nor in conflict.
        let proposed: BTreeSet<String> = synced
            .applied
            .iter()
            .filter(|(_, target, _, _, _)| target == "hub")
            .map(|(key, _, _, _, _)| key.clone())
            .chain(contested.iter().cloned())
            .collect();
        for key in proposed {
            let Some(value) = read.get(&key) else {
                continue;
            };
            if self.clones[c].unchanged(&key, value) == Some(true) {
                let what = synced
                    .applied
                    .iter()
                    .filter(|a| a.0 == key && a.1 == "hub")
                    .map(|a| {
                        format!(
                            "wrote the hub {} -> {} ({})",
                            a.2.as_deref().unwrap_or("(none)"),
                            a.3,
                            a.4
                        )
                    })
                    .chain(
                        synced
                            .held
                            .iter()
                            .filter(|h| h.0 == key)
                            .map(|h| format!("held it ({} {})", h.1, h.2)),
                    )
                    .chain(
                        synced
                            .undecided
                            .iter()
                            .filter(|u| u.0 == key)
                            .map(|u| format!("left it undecided ({} {})", u.1, u.2)),
                    )
                    .collect::<Vec<_>>()
                    .join(", ");
                self.live_violations.push(format!(
                    "7 stale copy: at step {} {}'s file had {key} = {}, unchanged since its own last sync, so it should have taken the hub's value; instead its sync {what}",
                    self.step,
                    self.clones[c].name,
                    value
                ));
            }
        }
        let pending: Vec<(String, usize)> = self.clones[c]
            .pending
            .iter()
            .map(|(k, i)| (k.clone(), *i))
            .collect();
        for (key, index) in pending {
            if open.contains(&key) {
                continue;
            }
            let edit = &self.edits[index];
            let fate = if read.get(&key) != Some(&edit.to) {
                Fate::Replaced
            } else if contested.contains(&key) {
                Fate::Contested
            } else if self.clones[c].unchanged(&key, &edit.to) != Some(false) {
                Fate::NoChange
            } else {
                Fate::Observed
            };
            self.edits[index].fate = fate;
            self.clones[c].pending.remove(&key);
        }
        let now_values = self.file_values(c);
        let replica = &mut self.clones[c];
        for (key, value) in now_values {
            if !contested.contains(&key) && !open.contains(&key) {
                replica.maybe_base.remove(&key);
                replica.base.insert(key, value);
            }
        }
    }

    /// Settles what a sync held or could not decide, as a user would:
    /// alternately set the file back to the hub's value, or force the
    /// hub to the file's value.
    fn resolve(&mut self, c: usize, synced: &Synced) {
        for key in synced.contested() {
            self.stats.resolutions += 1;
            let file = self.file_value(c, &key);
            let hub = self
                .hub_value(&key)
                .unwrap_or_else(|| panic!("[{}] the hub has no value for {key}", self.label));
            if self.stats.resolutions % 2 == 1 {
                if file == hub {
                    self.log(
                        c,
                        &format!("resolve {key}: the file already has the hub's {hub}"),
                    );
                } else {
                    self.log(c, &format!("resolve {key}: file back to the hub's {hub}"));
                    self.edit_to(c, &key, &hub, EditKind::BackToHub);
                }
            } else {
                self.log(
                    c,
                    &format!("resolve {key}: force the hub to the file's {file}"),
                );
                self.set(c, &key, &file, true);
            }
        }
    }

    fn push(&mut self, c: usize) -> bool {
        let (ok, stdout, stderr) = git_try(
            &self.clones[c].app(),
            &["push", "-q", "origin", "HEAD:main"],
        );
        self.stats.pushes += 1;
        if ok {
            self.log(c, "push: ok");
        } else {
            assert!(
                stderr.contains("rejected") || stderr.contains("non-fast-forward"),
                "[{}] harness: push failed for another reason at step {}: {stderr}{stdout}",
                self.label,
                self.step
            );
            self.stats.rejected_pushes += 1;
            self.log(c, "push: rejected (behind the remote)");
        }
        ok
    }

    /// `git pull`, merging (or rebasing); a conflict is resolved by taking
    /// one side's file, or the merge is aborted. Whether HEAD moved.
    fn pull(&mut self, c: usize, rebase: bool, may_abort: bool) -> bool {
        let app = self.clones[c].app();
        let before = self.head(c);
        let before_values = self.file_values(c);
        if rebase {
            self.stats.rebases += 1;
            let (ok, _, stderr) = git_try(&app, &["pull", "-q", "--rebase", "origin", "main"]);
            if !ok {
                let (aborted, _, why) = git_try(&app, &["rebase", "--abort"]);
                assert!(
                    aborted,
                    "[{}] harness: git pull --rebase failed at step {} and could not be aborted: {stderr}{why}",
                    self.label, self.step
                );
                self.stats.aborted += 1;
                self.log(c, "pull --rebase: conflict, rebase aborted");
                return false;
            }
            let moved = self.head(c) != before;
            self.log(
                c,
                if moved {
                    "pull --rebase: rebased"
                } else {
                    "pull --rebase: up to date"
                },
            );
            // Rebased commits a sync had left the clone at: concord keeps
            // the clone's bases but cannot vouch for a change since them
            // (docs/replicas.md); a value still equal to its base follows.
            let synced = self.clones[c].synced_head.clone();
            if let Some(synced) = synced
                && !git_try(&app, &["merge-base", "--is-ancestor", &synced, "HEAD"]).0
            {
                self.log(c, "pull --rebase: rewrote synced commits");
            }
            return moved;
        }
        self.stats.merges += 1;
        let (ok, stdout, stderr) = git_try(
            &app,
            &["pull", "-q", "--no-rebase", "--no-edit", "origin", "main"],
        );
        if ok {
            let moved = self.head(c) != before;
            self.log(
                c,
                if moved {
                    "pull: merged"
                } else {
                    "pull: up to date"
                },
            );
            return moved;
        }
        let conflicted: Vec<String> = self
            .git(&app, &["diff", "--name-only", "--diff-filter=U"])
            .lines()
            .map(str::to_string)
            .collect();
        assert!(
            !conflicted.is_empty(),
            "[{}] harness: git pull failed at step {} without a conflict: {stderr}{stdout}",
            self.label,
            self.step
        );
        self.stats.conflicts += 1;
        let choice = self.rng.below(if may_abort { 5 } else { 4 });
        if choice == 4 {
            self.git(&app, &["merge", "--abort"]);
            self.stats.aborted += 1;
            self.log(
                c,
                &format!("pull: conflict in {conflicted:?}, merge aborted"),
            );
            return false;
        }
        let side = if choice < 2 { "--ours" } else { "--theirs" };
        for file in &conflicted {
            self.git(&app, &["checkout", side, "--", file]);
            self.git(&app, &["add", "--", file]);
        }
        self.git(&app, &["commit", "-q", "--no-edit"]);
        self.log(
            c,
            &format!("pull: conflict in {conflicted:?}, resolved with {side}"),
        );
        // Values the resolution brought in are this clone's doing: traces.
        let after_values = self.file_values(c);
        for (key, value) in after_values {
            let old = before_values.get(&key).cloned().unwrap_or_default();
            if old != value {
                self.edits.push(Edit {
                    step: self.step,
                    clone: c,
                    key,
                    from: old,
                    to: value,
                    at: now(),
                    kind: EditKind::Resolution,
                    fate: Fate::Untracked,
                });
            }
        }
        true
    }

    fn random_op(&mut self) {
        self.step += 1;
        let c = self.rng.below(self.clones.len());
        let roll = self.rng.below(100);
        match roll {
            0..=27 => {
                let keys: Vec<&str> = all_keys().collect();
                let key = keys[self.rng.below(keys.len())];
                let from = self.file_value(c, key);
                let others: Vec<&str> = STATUSES.iter().copied().filter(|s| *s != from).collect();
                let forward: Vec<&str> = others
                    .iter()
                    .copied()
                    .filter(|s| rank(s) >= rank(&from))
                    .collect();
                let to = if !forward.is_empty() && self.rng.chance(65) {
                    forward[self.rng.below(forward.len())]
                } else {
                    others[self.rng.below(others.len())]
                };
                self.edit_to(c, key, to, EditKind::Edit);
            }
            28..=37 => {
                let keys: Vec<&str> = all_keys().collect();
                let key = keys[self.rng.below(keys.len())];
                let to = STATUSES[self.rng.below(STATUSES.len())];
                if self.set(c, key, to, false) == 2 && self.rng.chance(50) {
                    self.set(c, key, to, true);
                }
            }
            38..=69 => {
                let synced = self.sync(c, roll >= 58);
                if synced.blocked.is_empty()
                    && !synced.contested().is_empty()
                    && self.rng.chance(50)
                {
                    self.resolve(c, &synced);
                }
            }
            70..=81 => {
                self.push(c);
            }
            82..=95 => {
                self.pull(c, false, true);
            }
            _ => {
                self.pull(c, true, true);
            }
        }
    }

    /// Rounds of (pull, `sync --pull`, push) for every clone until one
    /// round changes nothing and every clone is at the remote's HEAD.
    fn quiesce(&mut self) -> Result<usize, String> {
        let mut last = Vec::new();
        for round in 1..=MAX_ROUNDS {
            println!("--- quiescence round {round}");
            let moved = |w: &World| {
                let heads: Vec<String> = (0..w.clones.len()).map(|c| w.head(c)).collect();
                (
                    heads,
                    w.remote_head(),
                    w.edits.len(),
                    w.forced.len(),
                    w.stats.applied,
                )
            };
            let before = moved(self);
            let mut changes = Vec::new();
            for c in 0..self.clones.len() {
                self.step += 1;
                let name = self.clones[c].name.clone();
                if self.pull(c, false, false) {
                    changes.push(format!("{name} merged"));
                }
                let synced = self.sync(c, true);
                if !synced.applied.is_empty() || !synced.commits.is_empty() {
                    changes.push(format!("{name} applied: {}", synced.summary()));
                }
                if synced.blocked.is_empty() && !synced.contested().is_empty() {
                    changes.push(format!("{name} held or undecided: {}", synced.summary()));
                    self.resolve(c, &synced);
                }
                if !synced.not_applied.is_empty() || !synced.blocked.is_empty() {
                    changes.push(format!(
                        "{name} not applied or blocked: {}",
                        synced.summary()
                    ));
                }
                if self.head(c) != self.remote_head() {
                    self.push(c);
                    changes.push(format!("{name} pushed or tried to"));
                }
            }
            let remote = self.remote_head();
            let behind: Vec<String> = (0..self.clones.len())
                .filter(|c| self.head(*c) != remote)
                .map(|c| self.clones[c].name.clone())
                .collect();
            if changes.is_empty() && behind.is_empty() {
                return Ok(round);
            }
            if !behind.is_empty() {
                changes.push(format!("not at the remote's HEAD: {behind:?}"));
            }
            if moved(self) == before {
                return Err(format!(
                    "stuck in quiescence round {round}: no commit, push, edit, forced set or \
                     applied change moved anything, yet: {}",
                    changes.join(" | ")
                ));
            }
            last = changes;
        }
        Err(format!(
            "no quiescence after {MAX_ROUNDS} rounds; the last round still did: {}",
            last.join(" | ")
        ))
    }

    fn forced_by_harness(&self, key: &str, e: &Entry) -> bool {
        e.is_hub()
            && self.forced.iter().any(|f| {
                f.key == key && Some(&f.to) == e.to.as_ref() && f.before <= e.at && e.at <= f.after
            })
    }

    /// The hub's value when `e` was written: a hub entry of the same run,
    /// else the newest hub entry before it.
    fn hub_value_at(journal: &[Entry], e: &Entry) -> Option<String> {
        journal
            .iter()
            .find(|h| h.is_hub() && !e.run_id.is_empty() && h.run_id == e.run_id)
            .or_else(|| journal.iter().rev().find(|h| h.is_hub() && h.id < e.id))
            .and_then(|h| h.to.clone())
    }

    /// Whether `value` of `key` was put somewhere by the harness before
    /// `at`: a forced set, a committed edit or a merge resolution.
    fn traced(&self, key: &str, value: &str, at: SystemTime) -> bool {
        self.forced
            .iter()
            .any(|f| f.key == key && f.to == value && f.before < at)
            || self
                .edits
                .iter()
                .any(|e| e.key == key && e.to == value && e.at < at)
    }

    /// Every property, as a list of violations.
    fn check(&self, quiet: &Result<usize, String>) -> Vec<String> {
        let mut violations = Vec::new();
        if let Err(e) = quiet {
            violations.push(format!("1 convergence: {e}"));
        }
        violations.extend(self.live_violations.iter().cloned());
        let journals: BTreeMap<&str, Vec<Entry>> =
            all_keys().map(|k| (k, self.journal(k))).collect();
        let hub_now: BTreeMap<&str, Option<String>> = journals
            .iter()
            .map(|(k, j)| {
                (
                    *k,
                    j.iter()
                        .rev()
                        .find(|e| e.is_hub())
                        .and_then(|e| e.to.clone()),
                )
            })
            .collect();

        self.check_convergence(&hub_now, &mut violations);
        for (key, journal) in &journals {
            self.check_entries(key, journal, &mut violations);
            Self::check_hub_chain(key, journal, &mut violations);
        }
        self.check_forced_sets(&journals, &mut violations);
        let checked = self.check_lost_updates(&journals, &mut violations);
        let fates = |fate: Fate| self.edits.iter().filter(|e| e.fate == fate).count();
        println!(
            "[{}] edits read by a sync: {} ({checked} forward of the hub, checked for lost updates), \
             {} held or undecided, {} back to the clone's own base, {} replaced before a sync read them, \
             {} still pending",
            self.label,
            fates(Fate::Observed),
            fates(Fate::Contested),
            fates(Fate::NoChange),
            fates(Fate::Replaced),
            fates(Fate::Pending),
        );
        violations
    }

    /// 1. Every clone holds the hub's values and the remote's HEAD.
    fn check_convergence(
        &self,
        hub_now: &BTreeMap<&str, Option<String>>,
        violations: &mut Vec<String>,
    ) {
        let remote = self.remote_head();
        for c in 0..self.clones.len() {
            let name = &self.clones[c].name;
            if self.head(c) != remote {
                violations.push(format!(
                    "1 convergence: {name} is at {}, the remote at {remote}",
                    self.head(c)
                ));
            }
            let files = self.file_values(c);
            for key in all_keys() {
                if files.get(key) != hub_now[key].as_ref() {
                    violations.push(format!(
                        "1 convergence: {name}'s file says {key} = {:?}, the hub {:?}",
                        files.get(key),
                        hub_now[key]
                    ));
                }
            }
            let status = self.concord(c, &["status", "--json"]);
            let report: Value = serde_json::from_str(&status.stdout).unwrap_or_else(|e| {
                panic!(
                    "[{}] status --json: {e}: {}{}",
                    self.label, status.stdout, status.stderr
                )
            });
            for item in report["items"].as_array().into_iter().flatten() {
                let key = item["key"].as_str().unwrap_or_default();
                if item["agree"] != true {
                    violations.push(format!(
                        "1 convergence: status in {name} says {key} disagrees: {item}"
                    ));
                }
                let hub = item["sources"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|s| s["source"] == "hub")
                    .and_then(|s| s["status"].as_str());
                if let Some(journal_value) = hub_now.get(key)
                    && hub != journal_value.as_deref()
                {
                    violations.push(format!(
                        "1 convergence: status in {name} says the hub has {key} = {hub:?}, its journal {journal_value:?}"
                    ));
                }
            }
        }
    }

    /// One key's journal entries: no duplicates or no-ops (4), and who
    /// may lower a rank (2 and 3).
    fn check_entries(&self, key: &str, journal: &[Entry], violations: &mut Vec<String>) {
        let mut seen = BTreeSet::new();
        for e in journal {
            // 4. No duplicates, no change from a value to itself.
            if !seen.insert((
                e.run_id.clone(),
                e.target.clone(),
                e.from.clone(),
                e.to.clone(),
            )) {
                violations.push(format!("4 duplicate: {key} {}", e.describe()));
            }
            if e.from == e.to {
                violations.push(format!("4 no-op entry: {key} {}", e.describe()));
            }
            // 2 and 3. Who may lower a rank.
            if !e.lowers() {
                continue;
            }
            let to = e.to.as_deref().unwrap_or_default();
            if e.is_hub() {
                let ok = self.forced_by_harness(key, e)
                    || (self.reopen == "allow" && self.traced(key, to, e.at));
                if !ok {
                    violations.push(format!(
                        "{} regression: {key} {} lowers the hub's rank, and {}",
                        if self.reopen == "block" { "2" } else { "3" },
                        e.describe(),
                        if self.reopen == "block" {
                            "it is no forced set by the harness".to_string()
                        } else {
                            format!("no forced set, edit or merge of {key} to {to} precedes it")
                        }
                    ));
                }
            } else {
                let hub = Self::hub_value_at(journal, e);
                let follows_hub = hub.as_deref() == Some(to);
                let ok = follows_hub
                    && (self.reopen == "allow"
                        || self.forced.iter().any(|f| f.key == *key && f.before < e.at));
                if !ok {
                    violations.push(format!(
                        "{} regression: {key} {} lowers a file's rank (the hub had {hub:?}{})",
                        if self.reopen == "block" { "2" } else { "3" },
                        e.describe(),
                        if follows_hub {
                            ", but no forced set of it came before"
                        } else {
                            ""
                        }
                    ));
                }
            }
        }
    }

    /// 5. The hub's entries form a chain.
    fn check_hub_chain(key: &str, journal: &[Entry], violations: &mut Vec<String>) {
        let hub: Vec<&Entry> = journal.iter().filter(|e| e.is_hub()).collect();
        if let Some(first) = hub.first()
            && first.from.is_some()
        {
            violations.push(format!(
                "5 chain: {key}'s first hub entry has a from: {}",
                first.describe()
            ));
        }
        for pair in hub.windows(2) {
            if pair[1].from != pair[0].to {
                violations.push(format!(
                    "5 chain: {key} {} does not start where {} ended (lost update in the hub)",
                    pair[1].describe(),
                    pair[0].describe()
                ));
            }
        }
    }

    /// 2 and 3. A forced set that lowered the rank is journaled as a
    /// reopen by a person.
    fn check_forced_sets(
        &self,
        journals: &BTreeMap<&str, Vec<Entry>>,
        violations: &mut Vec<String>,
    ) {
        for f in &self.forced {
            if rank(&f.to) >= rank(&f.from) {
                continue;
            }
            let entry = journals[f.key.as_str()].iter().find(|e| {
                e.is_hub()
                    && e.to.as_deref() == Some(f.to.as_str())
                    && f.before <= e.at
                    && e.at <= f.after
            });
            match entry {
                Some(e) if e.reason == "REOPENED_BY_USER" || e.reason == "REOPENED" => {}
                Some(e) => violations.push(format!(
                    "2 forced set: the forced set of {} {} -> {} at step {} is journaled as {}",
                    f.key,
                    f.from,
                    f.to,
                    f.step,
                    e.describe()
                )),
                None => violations.push(format!(
                    "2 forced set: the forced set of {} {} -> {} at step {} ({} .. {}) is not in the journal",
                    f.key,
                    f.from,
                    f.to,
                    f.step,
                    stamp(f.before),
                    stamp(f.after)
                )),
            }
        }
    }

    /// 6. No lost update.
    ///
    /// Returns how many edits it checked.
    fn check_lost_updates(
        &self,
        journals: &BTreeMap<&str, Vec<Entry>>,
        violations: &mut Vec<String>,
    ) -> usize {
        let mut checked = 0;
        for edit in &self.edits {
            if edit.kind != EditKind::Edit || edit.fate != Fate::Observed {
                continue;
            }
            let journal = &journals[edit.key.as_str()];
            let hub_then = journal
                .iter()
                .rev()
                .find(|e| e.is_hub() && e.at < edit.at)
                .and_then(|e| e.to.clone());
            let Some(hub_then) = hub_then else { continue };
            if rank(&edit.to) <= rank(&hub_then) {
                continue;
            }
            checked += 1;
            let reached = journal.iter().any(|e| {
                e.is_hub()
                    && e.at > edit.at
                    && e.to
                        .as_deref()
                        .is_some_and(|to| to == edit.to || rank(to) >= rank(&edit.to))
            });
            let forced_later = self
                .forced
                .iter()
                .any(|f| f.key == edit.key && f.before > edit.at);
            if !reached && !forced_later {
                violations.push(format!(
                    "6 lost update: {}'s edit of {} {} -> {} at step {} ({}; the hub had {hub_then}) never reached the hub",
                    self.clones[edit.clone].name,
                    edit.key,
                    edit.from,
                    edit.to,
                    edit.step,
                    stamp(edit.at)
                ));
            }
        }
        checked
    }

    fn print_journal_of(&self, violations: &[String]) {
        for key in all_keys() {
            if violations
                .iter()
                .any(|v| v.contains(&format!(" {key} ")) || v.contains(&format!("{key}'s")))
            {
                println!("--- journal of {key}");
                for e in self.journal(key) {
                    println!("  {}", e.describe());
                }
            }
        }
        for f in &self.forced {
            println!(
                "--- forced at step {}: {} {} -> {} ({} .. {})",
                f.step,
                f.key,
                f.from,
                f.to,
                stamp(f.before),
                stamp(f.after)
            );
        }
    }
}

fn convergence(backend: Backend, reopen: &'static str, test: &str) {
    let started = Instant::now();
    let seed = seed_for(test);
    let ops = ops_from_env();
    println!(
        "seed {seed}: replay with CONCORD_CONVERGENCE_SEED={seed} CONCORD_CONVERGENCE_OPS={ops} \
         cargo test -p concord-cli --test cli_convergence {test}"
    );
    let clones = std::env::var("CONCORD_CONVERGENCE_CLONES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(CLONES.len())
        .clamp(1, CLONES.len());
    let Some(mut world) = World::new(backend, reopen, &CLONES[..clones], seed) else {
        return;
    };
    for c in 0..world.clones.len() {
        let first = world.sync(c, false);
        assert!(
            first.contested().is_empty(),
            "[{}] the first sync of {} held or left items: {}",
            world.label,
            world.clones[c].name,
            first.summary()
        );
    }
    for _ in 0..ops {
        world.random_op();
    }
    let random_phase = started.elapsed();
    let quiet = world.quiesce();
    let violations = world.check(&quiet);
    let s = &world.stats;
    println!(
        "[{}] {ops} operations: {} edits, {} sets ({} refused, {} forced), {} syncs \
         ({} applied, {} held, {} undecided, {} partial failures), {} pushes ({} rejected), \
         {} merges ({} conflicts, {} aborted), {} rebases, {} resolutions; quiescence {:?}; \
         {:.1?} random + {:.1?} quiescence and checks",
        world.label,
        s.edits,
        s.sets,
        s.refused_sets,
        s.forced,
        s.syncs,
        s.applied,
        s.held,
        s.undecided,
        s.partial,
        s.pushes,
        s.rejected_pushes,
        s.merges,
        s.conflicts,
        s.aborted,
        s.rebases,
        s.resolutions,
        quiet,
        random_phase,
        started.elapsed() - random_phase
    );
    if !violations.is_empty() {
        world.print_journal_of(&violations);
        println!("--- all {} violation(s)", violations.len());
        for v in &violations {
            println!("  {v}");
        }
        // Per property: how many, and the first few.
        let mut by_property: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for v in &violations {
            let property = v.split_whitespace().next().unwrap_or("?");
            by_property.entry(property).or_default().push(v.as_str());
        }
        let mut text = String::new();
        for (property, list) in &by_property {
            text.push_str(&format!(
                "\n property {property}: {} violation(s)",
                list.len()
            ));
            for v in list.iter().take(4) {
                text.push_str(&format!("\n  {v}"));
            }
        }
        if std::env::var_os("CONCORD_CONVERGENCE_KEEP").is_some() {
            println!(
                "kept the clones in {} and the hub at {}",
                world.dir.path().display(),
                world.hub.url
            );
            let label = world.label.clone();
            std::mem::forget(world);
            panic!(
                "[{label}] {} violation(s), see above{text}",
                violations.len()
            );
        }
        panic!(
            "[{}] {} violation(s) (replay: CONCORD_CONVERGENCE_SEED={seed} \
             CONCORD_CONVERGENCE_OPS={ops} cargo test -p concord-cli --test cli_convergence {test}; \
             every violation and the journals involved are printed above):{text}",
            world.label,
            violations.len(),
        );
    }
}

#[test]
fn random_histories_converge_without_regressions_reopen_block_sqlite() {
    convergence(
        Backend::Sqlite,
        "block",
        "random_histories_converge_without_regressions_reopen_block_sqlite",
    );
}

#[test]
fn random_histories_converge_without_regressions_reopen_allow_sqlite() {
    convergence(
        Backend::Sqlite,
        "allow",
        "random_histories_converge_without_regressions_reopen_allow_sqlite",
    );
}

#[test]
fn random_histories_converge_without_regressions_reopen_block_postgres() {
    convergence(
        Backend::Postgres,
        "block",
        "random_histories_converge_without_regressions_reopen_block_postgres",
    );
}

#[test]
fn random_histories_converge_without_regressions_reopen_allow_postgres() {
    convergence(
        Backend::Postgres,
        "allow",
        "random_histories_converge_without_regressions_reopen_allow_postgres",
    );
}

/// Runs `test` under `reopen = "block"` and `"allow"`, and reports the
/// failures of both.
fn under_both_settings(test: impl Fn(&'static str) + std::panic::RefUnwindSafe) {
    let failures: Vec<String> = ["block", "allow"]
        .into_iter()
        .filter_map(|reopen| {
            std::panic::catch_unwind(|| test(reopen))
                .err()
                .map(|payload| {
                    let message = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    format!("reopen = {reopen}: {message}")
                })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The lines a commit changed, without headers.
fn changed_lines(world: &World, c: usize, commit: &str) -> Vec<String> {
    world
        .git(
            &world.clones[c].app(),
            &["show", "-U0", "--format=", commit],
        )
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .map(str::to_string)
        .collect()
}

/// After clone `c`'s sync: its stale value of `key` was a copy, not a
/// reopen. The hub keeps `agreed`, nothing was held, left undecided or
/// journaled as a reopen, the run is clean and the clone's file follows.
fn assert_followed(w: &World, c: usize, (key, agreed): (&str, &str), synced: &Synced, label: &str) {
    let history = w.journal(key);
    let journal: Vec<String> = history.iter().map(Entry::describe).collect();
    assert_eq!(
        w.hub_value(key).as_deref(),
        Some(agreed),
        "[{label}] a stale copy reopened {key} in the hub: {}\n{journal:#?}",
        synced.summary()
    );
    assert!(
        synced.held.is_empty() && synced.undecided.is_empty(),
        "[{label}] the sync held or left {key}: {}",
        synced.summary()
    );
    assert!(
        !history
            .iter()
            .any(|e| e.reason.starts_with("REOPENED") || e.reason == "REGRESSION_BLOCKED"),
        "[{label}] the journal records a reopen: {journal:#?}"
    );
    assert_eq!(synced.code, 0, "[{label}] {}", synced.summary());
    assert_eq!(
        w.file_value(c, key),
        agreed,
        "[{label}] the clone's file follows the hub: {}",
        synced.summary()
    );
}

/// The incident: coulombcore marks T04 done and syncs without pushing;
/// workstation, which never saw that commit and did not touch T04, syncs
/// next. Its `todo` is a stale copy, not a reopen: the hub keeps `done`
/// and workstation's file follows.
#[test]
fn a_clone_that_never_saw_an_edit_takes_the_hub_value_instead_of_reopening_it() {
    under_both_settings(|reopen| {
        let mut w = World::new(Backend::Sqlite, reopen, &["workstation", "coulombcore"], 0)
            .expect("sqlite needs nothing");
        let label = format!("incident, reopen = {reopen}");
        let (ws, cc) = (0, 1);
        for c in [ws, cc] {
            let first = w.sync(c, false);
            assert_eq!(first.code, 0, "[{label}] first sync: {}", first.summary());
            assert_eq!(w.file_value(c, "T04"), "todo", "[{label}]");
        }
        assert_eq!(w.hub_value("T04").as_deref(), Some("todo"), "[{label}]");

        w.edit_to(cc, "T04", "done", EditKind::Edit);
        let synced = w.sync(cc, false);
        assert_eq!(
            synced.code,
            0,
            "[{label}] coulombcore: {}",
            synced.summary()
        );
        assert_eq!(w.hub_value("T04").as_deref(), Some("done"), "[{label}]");

        let head = w.head(ws);
        let synced = w.sync(ws, false);
        assert_followed(&w, ws, ("T04", "done"), &synced, &label);
        let new_head = w.head(ws);
        assert_ne!(new_head, head, "[{label}] the write-back is committed");
        assert_eq!(
            w.git(&w.clones[ws].app(), &["rev-parse", "HEAD^"]).trim(),
            head,
            "[{label}] one commit on top of what was there"
        );
        assert_eq!(
            changed_lines(&w, ws, "HEAD"),
            ["-status: todo", "+status: done"],
            "[{label}] the commit touches only the status line"
        );
        let commits = w.commit_count(ws);
        let again = w.sync(ws, false);
        assert_eq!(again.code, 0, "[{label}] {}", again.summary());
        assert!(
            again.applied.is_empty() && again.commits.is_empty(),
            "[{label}] the next sync is a no-op: {}",
            again.summary()
        );
        assert_eq!(w.commit_count(ws), commits, "[{label}] no new commit");
        assert_eq!(w.hub_value("T04").as_deref(), Some("done"), "[{label}]");
    });
}

/// A real reopen (a clone edits done -> todo after its own base) is held
/// under `block` and propagates under `allow`, to the hub and to a clone
/// that still holds the old `done`.
#[test]
fn a_real_reopen_in_a_clone_is_held_under_block_and_propagates_under_allow() {
    under_both_settings(|reopen| {
        let mut w = World::new(Backend::Sqlite, reopen, &["workstation", "coulombcore"], 0)
            .expect("sqlite needs nothing");
        let label = format!("real reopen, reopen = {reopen}");
        let (ws, cc) = (0, 1);
        for c in [ws, cc] {
            let first = w.sync(c, false);
            assert_eq!(first.code, 0, "[{label}] first sync: {}", first.summary());
        }
        assert_eq!(w.set(ws, "T04", "done", false), 0, "[{label}]");
        let synced = w.sync(ws, false);
        assert_eq!(synced.code, 0, "[{label}] {}", synced.summary());
        assert_eq!(w.file_value(ws, "T04"), "done", "[{label}]");
        assert!(w.push(ws), "[{label}] push");
        assert!(
            w.pull(cc, false, false),
            "[{label}] coulombcore pulls the write-back"
        );
        let synced = w.sync(cc, false);
        assert_eq!(synced.code, 0, "[{label}] {}", synced.summary());
        assert_eq!(w.file_value(cc, "T04"), "done", "[{label}]");

        w.edit_to(ws, "T04", "todo", EditKind::Edit);
        let synced = w.sync(ws, false);
        let journal: Vec<String> = w.journal("T04").iter().map(Entry::describe).collect();
        if reopen == "block" {
            assert_eq!(synced.code, 1, "[{label}] {}", synced.summary());
            assert!(
                synced
                    .held
                    .iter()
                    .any(|(k, r, _)| k == "T04" && r == "REGRESSION_BLOCKED"),
                "[{label}] held: {}",
                synced.summary()
            );
            assert_eq!(
                w.hub_value("T04").as_deref(),
                Some("done"),
                "[{label}] hub unchanged: {journal:#?}"
            );
            assert_eq!(
                w.file_value(ws, "T04"),
                "todo",
                "[{label}] nothing overwritten"
            );
        } else {
            assert_eq!(synced.code, 0, "[{label}] {}", synced.summary());
            assert_eq!(
                w.hub_value("T04").as_deref(),
                Some("todo"),
                "[{label}] the reopen reached the hub: {journal:#?}"
            );
            let last = w
                .journal("T04")
                .into_iter()
                .rev()
                .find(Entry::is_hub)
                .expect("a hub entry");
            assert_eq!(last.reason, "REOPENED", "[{label}] {}", last.describe());
        }
        // coulombcore still holds the `done` it agreed on: a stale copy.
        let synced = w.sync(cc, false);
        let journal: Vec<String> = w.journal("T04").iter().map(Entry::describe).collect();
        let expected = if reopen == "block" { "done" } else { "todo" };
        assert_eq!(
            w.hub_value("T04").as_deref(),
            Some(expected),
            "[{label}] after coulombcore's sync ({}): {journal:#?}",
            synced.summary()
        );
        assert_eq!(
            w.file_value(cc, "T04"),
            expected,
            "[{label}] coulombcore follows the hub: {}",
            synced.summary()
        );
    });
}

/// Changes the title line of `key`'s block in the clone's file and commits
/// it: a change to the file that is not a status.
fn retitle(w: &World, c: usize, key: &str, title: &str) {
    let rel = file_of(key);
    let text = w.read(c, rel);
    let id = format!("id: {key}\n");
    let block = text.find(&id).expect("the block");
    let start = block + text[block..].find("title: ").expect("title line") + "title: ".len();
    let end = start + text[start..].find('\n').expect("line end");
    let text = format!("{}{title}{}", &text[..start], &text[end..]);
    std::fs::write(w.clones[c].app().join(rel), text).expect("write");
    w.git(&w.clones[c].app(), &["commit", "-q", "-am", "retitle"]);
}

/// The seed-471676197 history: laptop, which never synced since T04 went
/// `done`, resolves a conflict in the plan by keeping its whole side
/// (`--ours`) and pushes; its merge commit carries its stale `todo` back.
/// Workstation, which had agreed on `done`, pulls that merge. Its `todo`
/// is an older line its own sync had already moved past, not anyone's
/// edit: the hub keeps `done`, nothing is reopened or held, and
/// workstation's file follows the hub.
#[test]
fn a_stale_value_a_merge_brings_back_is_not_a_reopen() {
    under_both_settings(|reopen| {
        let names = ["workstation", "coulombcore", "laptop"];
        let mut w = World::new(Backend::Sqlite, reopen, &names, 0).expect("sqlite needs nothing");
        let label = format!("merge brings back a stale line, reopen = {reopen}");
        let (ws, cc, lp) = (0, 1, 2);
        for c in [ws, cc, lp] {
            let first = w.sync(c, false);
            assert_eq!(first.code, 0, "[{label}] first sync: {}", first.summary());
        }
        w.edit_to(cc, "T04", "done", EditKind::Edit);
        let synced = w.sync(cc, false);
        assert_eq!(
            synced.code,
            0,
            "[{label}] coulombcore: {}",
            synced.summary()
        );
        retitle(&w, cc, "T03", "step three, as coulombcore says");
        assert!(w.push(cc), "[{label}] coulombcore pushes");

        assert!(w.pull(ws, false, false), "[{label}] workstation pulls");
        let synced = w.sync(ws, false);
        assert_eq!(
            synced.code,
            0,
            "[{label}] workstation: {}",
            synced.summary()
        );
        assert_eq!(w.file_value(ws, "T04"), "done", "[{label}]");

        // Laptop edits the same title line, then keeps its side wholesale.
        retitle(&w, lp, "T03", "step three, as laptop says");
        let app = w.clones[lp].app();
        let (merged, ..) = git_try(
            &app,
            &["pull", "-q", "--no-rebase", "--no-edit", "origin", "main"],
        );
        assert!(!merged, "[{label}] the titles conflict");
        w.git(&app, &["checkout", "--ours", "--", "docs/workplan.md"]);
        w.git(&app, &["add", "--", "docs/workplan.md"]);
        w.git(&app, &["commit", "-q", "--no-edit"]);
        assert_eq!(
            w.file_value(lp, "T04"),
            "todo",
            "[{label}] the merge kept laptop's stale todo"
        );
        assert!(w.push(lp), "[{label}] laptop pushes its merge");

        assert!(
            w.pull(ws, false, false),
            "[{label}] workstation pulls laptop's merge"
        );
        assert_eq!(
            w.file_value(ws, "T04"),
            "todo",
            "[{label}] the stale line is back"
        );
        let synced = w.sync(ws, false);
        assert_followed(&w, ws, ("T04", "done"), &synced, &label);

        // Laptop's own copy is stale too: it follows.
        let synced = w.sync(lp, false);
        assert_eq!(synced.code, 0, "[{label}] laptop: {}", synced.summary());
        assert_eq!(w.hub_value("T04").as_deref(), Some("done"), "[{label}]");
        assert_eq!(w.file_value(lp, "T04"), "done", "[{label}]");
    });
}

/// The other side of the same rule: a person's edit that reaches a clone
/// through a merge is a new commit, not a line from history the clone had
/// already synced past, so it still counts (here: raises T05 to done).
#[test]
fn an_edit_a_merge_brings_in_still_counts() {
    let names = ["workstation", "coulombcore"];
    let mut w = World::new(Backend::Sqlite, "block", &names, 0).expect("sqlite needs nothing");
    let (ws, cc) = (0, 1);
    for c in [ws, cc] {
        assert_eq!(w.sync(c, false).code, 0, "first sync");
    }
    w.edit_to(cc, "T05", "done", EditKind::Edit);
    retitle(&w, ws, "T01", "step one, renamed");
    assert!(w.push(cc), "coulombcore pushes its unsynced edit");
    assert!(w.pull(ws, false, false), "workstation merges it");
    let synced = w.sync(ws, false);
    assert_eq!(synced.code, 0, "{}", synced.summary());
    assert_eq!(
        w.hub_value("T05").as_deref(),
        Some("done"),
        "{}",
        synced.summary()
    );
}
