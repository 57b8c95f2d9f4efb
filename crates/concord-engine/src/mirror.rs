//! The planner of `concord mirror`: per-feature documents that several
//! repositories share, each naming its owner in a field. The owner's copy
//! is the truth; every other repository holds a mirror: the owner's content
//! plus a marker member saying where it came from.
//!
//! Pure, like the rest of the engine: documents as read, what concord last
//! wrote, and the rule in; actions out, in a fixed order. What a document
//! is made of stays with the caller: it supplies how a mirror is made from
//! the owner's bytes (`mirror_bytes`), how two copies compare ignoring the
//! marker (`same_content`) and the hash of what concord writes (`hash`,
//! sha256 hex in practice; the engine has no hashing dependency).
//!
//! Who owns a document, when its copies agree on the owner value: that
//! value's repository. When they disagree (ownership is changing hands):
//! - two copies without the marker each naming their own repository, or
//!   two mirrors each naming their own, or copies without the marker
//!   naming different owners: `MIRROR_CONFLICT`, nothing is done;
//! - one mirror naming its own repository took the document over: that
//!   repository owns it, and the old owner's copy (without marker, naming
//!   itself) is rewritten as a mirror (`OwnerFlip`);
//! - otherwise one copy without the marker naming its own repository is
//!   the owner (mirrors naming someone else are stale or edited);
//! - otherwise the copies without the marker all name the same owner: it
//!   was handed over. The new owner's repository gets their content as its
//!   own copy, without marker, and they become mirrors (`OwnerFlip`); its
//!   old mirror is overwritten only if concord wrote it (or `force`).
//!
//! Then, for the owner's repository O:
//! - the owner value names no repository of the rule, or O's copy does
//!   not name it: `OWNER_UNKNOWN`;
//! - O has no copy: with `delete`, each mirror carrying the marker that
//!   concord wrote (or any, with `force`) is deleted; a copy without the
//!   marker is never deleted, and an edited one not without `force`
//!   (`MIRROR_EDITED`); without `delete`: `OWNER_COPY_MISSING`, nothing else;
//! - O's copy has the marker field: if its value is one the rule writes, it
//!   is a mirror that became the owner (`MARKER_LEFTOVER`, advisory: the
//!   member should be removed by hand); any other value is a real field
//!   of that name: `MARKER_COLLISION`, nothing is done;
//! - each other repository: no copy: `Write` (`Bootstrap`); the mirror is
//!   there with the content and marker it should have: nothing; the same
//!   content but no marker or another marker value: `Write` (`Bootstrap`,
//!   `Stale`); other content: `Write` (`Stale`) if it is what concord last
//!   wrote, else `MIRROR_EDITED`, or with `force` `Write` (`Repair`).
//!
//! A plan applied and planned again writes and deletes nothing.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The owner value names no repository of the rule, or no copy names one.
pub const OWNER_UNKNOWN: &str = "OWNER_UNKNOWN";
/// The copies disagree on the owner in a way no single change explains.
pub const MIRROR_CONFLICT: &str = "MIRROR_CONFLICT";
/// The owner's repository holds no copy (advisory; `delete` acts on it).
pub const OWNER_COPY_MISSING: &str = "OWNER_COPY_MISSING";
/// A mirror that concord did not write as it is: not overwritten or deleted.
pub const MIRROR_EDITED: &str = "MIRROR_EDITED";
/// The owner's copy has a member of the marker's name that is no marker.
pub const MARKER_COLLISION: &str = "MARKER_COLLISION";
/// The owner's copy still carries a marker from when it was a mirror.
pub const MARKER_LEFTOVER: &str = "MARKER_LEFTOVER";
/// `mirror_bytes` failed on the owner's copy.
pub const MIRROR_FAILED: &str = "MIRROR_FAILED";
/// The same path was given twice.
pub const DUPLICATE_PATH: &str = "DUPLICATE_PATH";

/// Which repositories share the documents and how mirrors are marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorRule {
    pub repos: Vec<String>,
    /// Owner value (as the owner field holds it) -> repository.
    pub owners: BTreeMap<String, String>,
    /// The member mirrors carry, e.g. `state_owner_sync_origin`.
    pub marker_field: String,
    /// The marker's value; `{owner}` is the owner value, `{repo}` the
    /// owner's repository, e.g. `{owner}-reverse`.
    pub marker_value_template: String,
    /// Delete mirrors whose owner copy is gone.
    pub delete: bool,
}

impl MirrorRule {
    /// The marker value for documents owned by `owner` (in `repo`).
    pub fn marker_value(&self, owner: &str, repo: &str) -> String {
        self.marker_value_template
            .replace("{owner}", owner)
            .replace("{repo}", repo)
    }
}

/// One repository's copy of a document, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub bytes: Vec<u8>,
    /// The owner field's value, if it has one.
    pub owner: Option<String>,
    /// Whether it has a member named like the marker.
    pub has_marker: bool,
    /// That member's value when it is a string.
    pub marker_value: Option<String>,
}

/// Every copy of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocState {
    /// Repo-relative path, the same in every repository.
    pub path: String,
    /// Repository -> its copy; repositories the rule does not list are ignored.
    pub copies: BTreeMap<String, Copy>,
}

/// Why a mirror is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// The repository had no mirror, or one without the marker.
    Bootstrap,
    /// The owner's copy changed since concord wrote the mirror.
    Stale,
    /// The mirror was edited by hand and is overwritten (`force`).
    Repair,
    /// Ownership moved: a copy changes between owner copy and mirror.
    OwnerFlip,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Bootstrap => "BOOTSTRAP",
            Reason::Stale => "STALE",
            Reason::Repair => "REPAIR",
            Reason::OwnerFlip => "OWNER_FLIP",
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorAction {
    Write {
        repo: String,
        path: String,
        bytes: Vec<u8>,
        reason: Reason,
    },
    Delete {
        repo: String,
        path: String,
    },
    /// Nothing is done for this copy (or document, `repo: None`), and why.
    Report {
        repo: Option<String>,
        path: String,
        code: &'static str,
        message: String,
    },
}

impl MirrorAction {
    pub fn path(&self) -> &str {
        match self {
            MirrorAction::Write { path, .. }
            | MirrorAction::Delete { path, .. }
            | MirrorAction::Report { path, .. } => path,
        }
    }

    pub fn repo(&self) -> Option<&str> {
        match self {
            MirrorAction::Write { repo, .. } | MirrorAction::Delete { repo, .. } => Some(repo),
            MirrorAction::Report { repo, .. } => repo.as_deref(),
        }
    }
}

/// Makes a mirror: (the owner's copy, the marker value) -> the mirror's bytes.
pub type MirrorBytes<'a> = dyn Fn(&[u8], &str) -> Result<Vec<u8>, String> + 'a;
/// Whether two copies hold the same content, ignoring the marker member
/// (the third argument names it).
pub type SameContent<'a> = dyn Fn(&[u8], &[u8], &str) -> bool + 'a;
/// The hash `last_written` records (sha256 hex in practice).
pub type HashBytes<'a> = dyn Fn(&[u8]) -> String + 'a;

/// Plan every document. `last_written` holds, per (repository, path), the
/// hash (`hash`) of the bytes concord last wrote there; `force` overwrites
/// and deletes mirrors edited since. `mirror_bytes(owner copy, marker
/// value)` makes a mirror; `same_content(a, b, marker field)` compares two
/// copies ignoring the marker member.
///
/// Actions come out sorted by path, then repository (document-wide
/// reports first), whatever the order of `docs` and `rule.repos`.
pub fn plan(
    rule: &MirrorRule,
    docs: &[DocState],
    last_written: &BTreeMap<(String, String), String>,
    force: bool,
    mirror_bytes: &MirrorBytes<'_>,
    same_content: &SameContent<'_>,
    hash: &HashBytes<'_>,
) -> Vec<MirrorAction> {
    let planner = Planner {
        rule,
        repos: rule.repos.iter().map(String::as_str).collect(),
        markers: rule
            .owners
            .iter()
            .map(|(owner, repo)| rule.marker_value(owner, repo))
            .collect(),
        last_written,
        force,
        mirror_bytes,
        same_content,
        hash,
    };
    let mut by_path: BTreeMap<&str, Vec<&DocState>> = BTreeMap::new();
    for doc in docs {
        by_path.entry(doc.path.as_str()).or_default().push(doc);
    }
    let mut out = Vec::new();
    for (path, docs) in by_path {
        let mut actions = Vec::new();
        match docs.as_slice() {
            [doc] => planner.document(doc, &mut actions),
            _ => actions.push(report(
                None,
                path,
                DUPLICATE_PATH,
                format!("given {} times; skipped", docs.len()),
            )),
        }
        actions.sort_by(|a, b| a.repo().cmp(&b.repo()));
        out.extend(actions);
    }
    out
}

fn report(repo: Option<&str>, path: &str, code: &'static str, message: String) -> MirrorAction {
    MirrorAction::Report {
        repo: repo.map(String::from),
        path: path.to_string(),
        code,
        message,
    }
}

fn write(repo: &str, path: &str, bytes: Vec<u8>, reason: Reason) -> MirrorAction {
    MirrorAction::Write {
        repo: repo.to_string(),
        path: path.to_string(),
        bytes,
        reason,
    }
}

/// How the owner was found.
enum Owner<'d> {
    /// The copies agree, or the owner's copy says so and the rest are stale.
    Settled,
    /// A mirror named its own repository; these old owner copies become
    /// mirrors.
    TakenOver(Vec<&'d str>),
    /// Copies without the marker name another repository; they become
    /// mirrors and it gets their content.
    HandedOver(Vec<&'d str>),
}

struct Planner<'a> {
    rule: &'a MirrorRule,
    /// The rule's repositories, sorted.
    repos: BTreeSet<&'a str>,
    /// Every marker value the rule writes.
    markers: BTreeSet<String>,
    last_written: &'a BTreeMap<(String, String), String>,
    force: bool,
    mirror_bytes: &'a MirrorBytes<'a>,
    same_content: &'a SameContent<'a>,
    hash: &'a HashBytes<'a>,
}

impl<'a> Planner<'a> {
    /// The rule's repository an owner value maps to.
    fn repo_of(&self, owner: &str) -> Option<&'a str> {
        let repo = self.rule.owners.get(owner)?;
        self.repos.get(repo.as_str()).copied()
    }

    /// Whether `copy`, in `repo`, names `repo` as its owner.
    fn claims_itself(&self, repo: &str, copy: &Copy) -> bool {
        copy.owner.as_deref().and_then(|o| self.repo_of(o)) == Some(repo)
    }

    /// Whether concord wrote `copy` as it is now.
    fn unedited(&self, repo: &str, path: &str, copy: &Copy) -> bool {
        self.last_written
            .get(&(repo.to_string(), path.to_string()))
            .is_some_and(|h| *h == (self.hash)(&copy.bytes))
    }

    /// The owner value and how it was found, or the report that stops
    /// the document.
    fn resolve<'d>(
        &self,
        path: &str,
        copies: &[(&'d str, &'d Copy)],
    ) -> Result<(&'d str, Owner<'d>), MirrorAction> {
        let values: BTreeSet<&str> = copies
            .iter()
            .filter_map(|(_, c)| c.owner.as_deref())
            .collect();
        let conflict = |message: String| report(None, path, MIRROR_CONFLICT, message);
        let mut values_iter = values.iter();
        match (values_iter.next(), values_iter.next()) {
            (None, _) => {
                return Err(report(
                    None,
                    path,
                    OWNER_UNKNOWN,
                    "no copy names an owner".into(),
                ));
            }
            (Some(value), None) => return Ok((value, Owner::Settled)),
            _ => {}
        }
        let repos = |pick: &dyn Fn(&str, &Copy) -> bool| -> Vec<&'d str> {
            copies
                .iter()
                .filter(|(repo, copy)| pick(repo, copy))
                .map(|(repo, _)| *repo)
                .collect()
        };
        let owner_in = |repo: &str| {
            copies
                .iter()
                .find(|(r, _)| *r == repo)
                .and_then(|(_, c)| c.owner.as_deref())
                .unwrap_or("")
        };
        let unmarked_self = repos(&|repo, c| !c.has_marker && self.claims_itself(repo, c));
        let marked_self = repos(&|repo, c| c.has_marker && self.claims_itself(repo, c));
        let unmarked: BTreeMap<&str, Vec<&str>> = copies
            .iter()
            .filter(|(_, c)| !c.has_marker)
            .fold(BTreeMap::new(), |mut map, (repo, c)| {
                if let Some(owner) = c.owner.as_deref() {
                    map.entry(owner).or_insert_with(Vec::new).push(*repo);
                }
                map
            });
        if unmarked_self.len() > 1 {
            return Err(conflict(format!(
                "the copies in {} each name their own repository as owner, and none carries `{}`",
                listed(&unmarked_self),
                self.rule.marker_field
            )));
        }
        if unmarked.len() > 1 {
            let named: Vec<String> = unmarked
                .iter()
                .map(|(owner, repos)| format!("`{owner}` ({})", listed(repos)))
                .collect();
            return Err(conflict(format!(
                "the copies without `{}` name different owners: {}",
                self.rule.marker_field,
                named.join(", ")
            )));
        }
        match marked_self.as_slice() {
            [] => {}
            [taker] => {
                // A handover to someone else at the same time: two changes.
                if let Some((owner, from)) = unmarked.iter().next()
                    && unmarked_self.is_empty()
                    && self.repo_of(owner) != Some(*taker)
                {
                    return Err(conflict(format!(
                        "the mirror in {taker} names {taker} as owner while {} names `{owner}`",
                        listed(from)
                    )));
                }
                return Ok((owner_in(taker), Owner::TakenOver(unmarked_self)));
            }
            several => {
                return Err(conflict(format!(
                    "the mirrors in {} each name their own repository as owner",
                    listed(several)
                )));
            }
        }
        if let [owner] = unmarked_self.as_slice() {
            return Ok((owner_in(owner), Owner::Settled));
        }
        match unmarked.into_iter().next() {
            Some((owner, from)) => Ok((owner, Owner::HandedOver(from))),
            None => Err(conflict(format!(
                "the mirrors name different owners ({}) and no copy without `{}` says which",
                values.into_iter().collect::<Vec<_>>().join(", "),
                self.rule.marker_field
            ))),
        }
    }

    fn document(&self, doc: &DocState, out: &mut Vec<MirrorAction>) {
        let path = doc.path.as_str();
        let copies: Vec<(&str, &Copy)> = doc
            .copies
            .iter()
            .filter(|(repo, _)| self.repos.contains(repo.as_str()))
            .map(|(repo, copy)| (repo.as_str(), copy))
            .collect();
        if copies.is_empty() {
            return;
        }
        let (owner, how) = match self.resolve(path, &copies) {
            Ok(found) => found,
            Err(action) => return out.push(action),
        };
        let Some(home) = self.repo_of(owner) else {
            let message = match self.rule.owners.get(owner) {
                Some(repo) => {
                    format!("owner `{owner}` is repository {repo}, which the rule does not list")
                }
                None => format!("owner `{owner}` names no repository of the rule"),
            };
            return out.push(report(None, path, OWNER_UNKNOWN, message));
        };
        let copy_in = |repo: &str| copies.iter().find(|(r, _)| *r == repo).map(|(_, c)| *c);
        let mut how = how;
        if let Owner::HandedOver(_) = how
            && copy_in(home).is_some_and(|c| !c.has_marker)
        {
            // The new owner's copy is its own already.
            how = Owner::Settled;
        }
        // The copy whose content is the truth, and the copies to turn into
        // mirrors whatever they hold.
        let mut actions = Vec::new();
        let (truth_repo, flipped) = match how {
            Owner::Settled => (home, Vec::new()),
            Owner::TakenOver(old) => (home, old),
            Owner::HandedOver(from) => match self.hand_over(path, home, &copies, &from) {
                Ok(write) => {
                    actions.extend(write);
                    (from[0], from)
                }
                Err(report) => return out.push(report),
            },
        };
        let Some(truth) = copy_in(truth_repo) else {
            self.owner_copy_missing(path, home, &copies, out);
            return;
        };
        if truth.owner.as_deref().and_then(|o| self.repo_of(o)) != Some(home) {
            return out.push(report(
                Some(home),
                path,
                OWNER_UNKNOWN,
                format!("the owner's copy names no owner; the other copies name `{owner}`"),
            ));
        }
        if truth.has_marker {
            match &truth.marker_value {
                Some(value) if self.markers.contains(value) => actions.push(report(
                    Some(truth_repo),
                    path,
                    MARKER_LEFTOVER,
                    format!(
                        "the owner's copy still carries `{}: {value}` from when it was a mirror; remove it",
                        self.rule.marker_field
                    ),
                )),
                _ => {
                    return out.push(report(
                        Some(truth_repo),
                        path,
                        MARKER_COLLISION,
                        format!(
                            "the owner's copy has a member `{}` that is not a marker; mirrors would overwrite it",
                            self.rule.marker_field
                        ),
                    ));
                }
            }
        }
        let marker = self.rule.marker_value(owner, home);
        let expected = match (self.mirror_bytes)(&truth.bytes, &marker) {
            Ok(bytes) => bytes,
            Err(e) => {
                return out.push(report(
                    Some(truth_repo),
                    path,
                    MIRROR_FAILED,
                    format!("cannot make a mirror of the owner's copy: {e}"),
                ));
            }
        };
        self.follow(
            path,
            home,
            &copies,
            &flipped,
            (&expected, &marker),
            &mut actions,
        );
        out.extend(actions);
    }

    /// Copies without the marker hand the document to `home`: they must
    /// agree, and `home`'s mirror (if any) must be unedited (or forced).
    /// The write that gives `home` their content, if it needs one.
    fn hand_over(
        &self,
        path: &str,
        home: &str,
        copies: &[(&str, &Copy)],
        from: &[&str],
    ) -> Result<Option<MirrorAction>, MirrorAction> {
        let copy_in = |repo: &str| copies.iter().find(|(r, _)| *r == repo).map(|(_, c)| *c);
        let first = from[0];
        let truth = copy_in(first).map_or(&[][..], |c| &c.bytes[..]);
        if let Some(other) = from.iter().skip(1).find(|r| {
            !copy_in(r)
                .is_some_and(|c| (self.same_content)(truth, &c.bytes, &self.rule.marker_field))
        }) {
            return Err(report(
                None,
                path,
                MIRROR_CONFLICT,
                format!("{first} and {other} both hand it to {home} with different content"),
            ));
        }
        match copy_in(home) {
            None => Ok(Some(write(home, path, truth.to_vec(), Reason::OwnerFlip))),
            Some(mirror) if self.force || self.unedited(home, path, mirror) => Ok((mirror.bytes
                != truth)
                .then(|| write(home, path, truth.to_vec(), Reason::OwnerFlip))),
            Some(_) => Err(report(
                Some(home),
                path,
                MIRROR_EDITED,
                format!(
                    "{} hands it to {home}, whose mirror changed since concord wrote it; --force replaces it with the owner's copy",
                    listed(from)
                ),
            )),
        }
    }

    /// Every repository but `home` gets `expected` (the owner's copy with
    /// `marker`), unless its copy already is that, or was edited by hand.
    fn follow(
        &self,
        path: &str,
        home: &str,
        copies: &[(&str, &Copy)],
        flipped: &[&str],
        (expected, marker): (&[u8], &str),
        actions: &mut Vec<MirrorAction>,
    ) {
        let copy_in = |repo: &str| copies.iter().find(|(r, _)| *r == repo).map(|(_, c)| *c);
        for &repo in self.repos.iter().filter(|r| **r != home) {
            let Some(copy) = copy_in(repo) else {
                actions.push(write(repo, path, expected.to_vec(), Reason::Bootstrap));
                continue;
            };
            if flipped.contains(&repo) {
                if copy.bytes != expected {
                    actions.push(write(repo, path, expected.to_vec(), Reason::OwnerFlip));
                }
                continue;
            }
            let same = (self.same_content)(expected, &copy.bytes, &self.rule.marker_field);
            let marked = copy.has_marker && copy.marker_value.as_deref() == Some(marker);
            let reason = match (same, marked) {
                (true, true) => continue,
                (true, false) if copy.has_marker => Reason::Stale,
                (true, false) => Reason::Bootstrap,
                (false, _) if self.unedited(repo, path, copy) => Reason::Stale,
                (false, _) if self.force => Reason::Repair,
                (false, _) => {
                    actions.push(report(
                        Some(repo),
                        path,
                        MIRROR_EDITED,
                        format!(
                            "differs from {home}'s copy and is not what concord last wrote there; --force overwrites it"
                        ),
                    ));
                    continue;
                }
            };
            actions.push(write(repo, path, expected.to_vec(), reason));
        }
    }

    /// The owner's repository holds no copy: delete the mirrors concord
    /// wrote (with `delete`), or say so.
    fn owner_copy_missing(
        &self,
        path: &str,
        home: &str,
        copies: &[(&str, &Copy)],
        out: &mut Vec<MirrorAction>,
    ) {
        if !self.rule.delete {
            let others: Vec<&str> = copies.iter().map(|(repo, _)| *repo).collect();
            out.push(report(
                Some(home),
                path,
                OWNER_COPY_MISSING,
                format!(
                    "{home} holds no copy; the copies in {} are left as they are",
                    others.join(", ")
                ),
            ));
            return;
        }
        for &(repo, copy) in copies {
            if !copy.has_marker {
                out.push(report(
                    Some(repo),
                    path,
                    MIRROR_EDITED,
                    format!(
                        "not deleted: the owner's copy is gone but this one carries no `{}`, so it is not a mirror",
                        self.rule.marker_field
                    ),
                ));
            } else if self.force || self.unedited(repo, path, copy) {
                out.push(MirrorAction::Delete {
                    repo: repo.to_string(),
                    path: path.to_string(),
                });
            } else {
                out.push(report(
                    Some(repo),
                    path,
                    MIRROR_EDITED,
                    "not deleted: the owner's copy is gone but this mirror changed since concord wrote it; --force deletes it".into(),
                ));
            }
        }
    }
}

fn listed(repos: &[&str]) -> String {
    repos.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // A stand-in format: one `name=value` line per member, in order.

    const MARKER: &str = "sync_origin";
    const PATH: &str = ".claude/features/onboarding/state.json";

    fn members(bytes: &[u8]) -> Vec<(String, String)> {
        String::from_utf8_lossy(bytes)
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn bytes_of(members: &[(String, String)]) -> Vec<u8> {
        members
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect::<String>()
            .into_bytes()
    }

    /// Set `sync_origin` in place, or add it last; fails on `broken=`.
    fn mirror_bytes(owner: &[u8], marker: &str) -> Result<Vec<u8>, String> {
        let mut m = members(owner);
        if m.iter().any(|(k, _)| k == "broken") {
            return Err("cannot read it".into());
        }
        match m.iter_mut().find(|(k, _)| k == MARKER) {
            Some(member) => member.1 = marker.to_string(),
            None => m.push((MARKER.into(), marker.into())),
        }
        Ok(bytes_of(&m))
    }

    fn same_content(a: &[u8], b: &[u8], marker: &str) -> bool {
        let without = |bytes: &[u8]| {
            let mut m = members(bytes);
            m.retain(|(k, _)| k != marker);
            m
        };
        without(a) == without(b)
    }

    /// Collision-free: the bytes in hex.
    fn hash(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A copy as the caller reads it from its bytes.
    fn copy_of(bytes: Vec<u8>) -> Copy {
        let m = members(&bytes);
        let get = |name: &str| m.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        Copy {
            owner: get("owner"),
            has_marker: get(MARKER).is_some(),
            marker_value: get(MARKER).filter(|v| !v.starts_with('{')),
            bytes,
        }
    }

    fn text(lines: &[&str]) -> Vec<u8> {
        lines
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .into_bytes()
    }

    fn copy(lines: &[&str]) -> Copy {
        copy_of(text(lines))
    }

    fn rule() -> MirrorRule {
        MirrorRule {
            repos: vec!["ft2".into(), "story".into(), "web".into()],
            owners: BTreeMap::from([
                ("ft2".into(), "ft2".into()),
                ("fitme-story".into(), "story".into()),
                ("web".into(), "web".into()),
                ("elsewhere".into(), "other-repo".into()),
            ]),
            marker_field: MARKER.into(),
            marker_value_template: "{owner}-reverse".into(),
            delete: false,
        }
    }

    fn doc(copies: &[(&str, Copy)]) -> DocState {
        DocState {
            path: PATH.into(),
            copies: copies
                .iter()
                .map(|(repo, c)| (repo.to_string(), c.clone()))
                .collect(),
        }
    }

    type Written = BTreeMap<(String, String), String>;

    fn run(
        rule: &MirrorRule,
        docs: &[DocState],
        written: &Written,
        force: bool,
    ) -> Vec<MirrorAction> {
        plan(
            rule,
            docs,
            written,
            force,
            &mirror_bytes,
            &same_content,
            &hash,
        )
    }

    fn plan_one(docs: &[DocState]) -> Vec<MirrorAction> {
        run(&rule(), docs, &Written::new(), false)
    }

    /// (repo, path, reason) of writes, (repo, path) of deletes, (repo, code) of reports.
    fn summary(actions: &[MirrorAction]) -> Vec<String> {
        actions
            .iter()
            .map(|a| match a {
                MirrorAction::Write { repo, reason, .. } => {
                    format!("write {repo} {}", reason.as_str())
                }
                MirrorAction::Delete { repo, .. } => format!("delete {repo}"),
                MirrorAction::Report { repo, code, .. } => {
                    format!("report {} {code}", repo.as_deref().unwrap_or("-"))
                }
            })
            .collect()
    }

    fn written_to(actions: &[MirrorAction], to: &str) -> Vec<u8> {
        actions
            .iter()
            .find_map(|a| match a {
                MirrorAction::Write { repo, bytes, .. } if repo == to => Some(bytes.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no write to {to}: {actions:?}"))
    }

    /// The documents and records after `actions` are carried out.
    fn apply(
        docs: &[DocState],
        written: &Written,
        actions: &[MirrorAction],
    ) -> (Vec<DocState>, Written) {
        let mut docs = docs.to_vec();
        let mut written = written.clone();
        for action in actions {
            let doc = docs.iter_mut().find(|d| d.path == action.path());
            match (action, doc) {
                (
                    MirrorAction::Write {
                        repo, path, bytes, ..
                    },
                    Some(doc),
                ) => {
                    doc.copies.insert(repo.clone(), copy_of(bytes.clone()));
                    written.insert((repo.clone(), path.clone()), hash(bytes));
                }
                (MirrorAction::Delete { repo, path }, Some(doc)) => {
                    doc.copies.remove(repo);
                    written.remove(&(repo.clone(), path.clone()));
                }
                _ => {}
            }
        }
        (docs, written)
    }

    fn changes(actions: &[MirrorAction]) -> Vec<&MirrorAction> {
        actions
            .iter()
            .filter(|a| !matches!(a, MirrorAction::Report { .. }))
            .collect()
    }

    const OWNER: &[&str] = &["owner=fitme-story", "phase=tasks"];
    const MIRROR: &[&str] = &[
        "owner=fitme-story",
        "phase=tasks",
        "sync_origin=fitme-story-reverse",
    ];

    #[test]
    fn missing_mirrors_are_bootstrapped_and_equal_ones_left_alone() {
        let actions = plan_one(&[doc(&[("story", copy(OWNER))])]);
        assert_eq!(
            summary(&actions),
            ["write ft2 BOOTSTRAP", "write web BOOTSTRAP"]
        );
        assert_eq!(written_to(&actions, "ft2"), text(MIRROR));
        // The marker anywhere in the mirror: same content, same marker.
        let moved = copy(&[
            "sync_origin=fitme-story-reverse",
            "owner=fitme-story",
            "phase=tasks",
        ]);
        let actions = plan_one(&[doc(&[
            ("story", copy(OWNER)),
            ("ft2", copy(MIRROR)),
            ("web", moved),
        ])]);
        assert_eq!(actions, []);
    }

    #[test]
    fn same_content_with_no_or_another_marker_is_marked() {
        let old_marker = copy(&[
            "owner=fitme-story",
            "phase=tasks",
            "sync_origin=old-reverse",
        ]);
        let actions = plan_one(&[doc(&[
            ("story", copy(OWNER)),
            ("ft2", copy(OWNER)),
            ("web", old_marker),
        ])]);
        assert_eq!(
            summary(&actions),
            ["write ft2 BOOTSTRAP", "write web STALE"]
        );
        assert_eq!(written_to(&actions, "web"), text(MIRROR));
    }

    #[test]
    fn a_stale_mirror_concord_wrote_is_rewritten() {
        let owner = copy(&["owner=fitme-story", "phase=review"]);
        let docs = [doc(&[("story", owner), ("ft2", copy(MIRROR))])];
        let written = Written::from([(("ft2".into(), PATH.into()), hash(&text(MIRROR)))]);
        let actions = run(&rule(), &docs, &written, false);
        assert_eq!(
            summary(&actions),
            ["write ft2 STALE", "write web BOOTSTRAP"]
        );
        assert_eq!(
            written_to(&actions, "ft2"),
            text(&[
                "owner=fitme-story",
                "phase=review",
                "sync_origin=fitme-story-reverse"
            ])
        );
    }

    #[test]
    fn an_edited_mirror_is_reported_unless_forced() {
        let edited = copy(&[
            "owner=fitme-story",
            "phase=done",
            "sync_origin=fitme-story-reverse",
        ]);
        let docs = [doc(&[
            ("story", copy(OWNER)),
            ("ft2", edited.clone()),
            ("web", copy(MIRROR)),
        ])];
        // No record, or a record of other bytes: an edit.
        for written in [
            Written::new(),
            Written::from([(("ft2".into(), PATH.into()), hash(&text(MIRROR)))]),
        ] {
            let actions = run(&rule(), &docs, &written, false);
            assert_eq!(summary(&actions), ["report ft2 MIRROR_EDITED"]);
            let actions = run(&rule(), &docs, &written, true);
            assert_eq!(summary(&actions), ["write ft2 REPAIR"]);
            assert_eq!(written_to(&actions, "ft2"), text(MIRROR));
        }
    }

    #[test]
    fn an_unknown_or_missing_owner_skips_the_document() {
        for owner in ["owner=nobody", "owner=elsewhere", "phase=tasks"] {
            let actions = plan_one(&[doc(&[("story", copy(&[owner])), ("ft2", copy(&[owner]))])]);
            assert_eq!(summary(&actions), ["report - OWNER_UNKNOWN"], "{owner}");
        }
        // The owner's own copy must name it.
        let actions = plan_one(&[doc(&[("story", copy(&["phase=x"])), ("ft2", copy(MIRROR))])]);
        assert_eq!(summary(&actions), ["report story OWNER_UNKNOWN"]);
        // Repositories the rule does not list are not read.
        let actions = plan_one(&[doc(&[("other-repo", copy(&["owner=elsewhere"]))])]);
        assert_eq!(actions, []);
    }

    #[test]
    fn two_unmarked_copies_claiming_ownership_conflict() {
        let ft2 = copy(&["owner=ft2", "phase=a"]);
        let actions = plan_one(&[doc(&[("story", copy(OWNER)), ("ft2", ft2.clone())])]);
        assert_eq!(summary(&actions), ["report - MIRROR_CONFLICT"]);
        let MirrorAction::Report { message, .. } = &actions[0] else {
            unreachable!()
        };
        assert!(
            message.contains("ft2, story each name their own"),
            "{message}"
        );
        // Two mirrors doing it, or unmarked copies naming different owners, too.
        let web_taker = copy(&["owner=web", "sync_origin=ft2-reverse"]);
        let story_taker = copy(&["owner=fitme-story", "sync_origin=ft2-reverse"]);
        let actions = plan_one(&[doc(&[
            ("ft2", ft2.clone()),
            ("story", story_taker),
            ("web", web_taker),
        ])]);
        assert_eq!(summary(&actions), ["report - MIRROR_CONFLICT"]);
        let actions = plan_one(&[doc(&[
            ("ft2", copy(&["owner=web"])),
            ("web", copy(&["owner=fitme-story"])),
        ])]);
        assert_eq!(summary(&actions), ["report - MIRROR_CONFLICT"]);
    }

    #[test]
    fn a_mirror_that_names_its_own_repo_takes_ownership_once() {
        // story owned it; ft2's mirror was edited to name ft2.
        let taken = copy(&[
            "owner=ft2",
            "phase=build",
            "sync_origin=fitme-story-reverse",
        ]);
        let docs = [doc(&[
            ("story", copy(OWNER)),
            ("ft2", taken),
            ("web", copy(MIRROR)),
        ])];
        let written = Written::from([(("web".into(), PATH.into()), hash(&text(MIRROR)))]);
        let actions = run(&rule(), &docs, &written, false);
        assert_eq!(
            summary(&actions),
            [
                "report ft2 MARKER_LEFTOVER",
                "write story OWNER_FLIP",
                "write web STALE"
            ]
        );
        let mirror = text(&["owner=ft2", "phase=build", "sync_origin=ft2-reverse"]);
        assert_eq!(written_to(&actions, "story"), mirror);
        assert_eq!(written_to(&actions, "web"), mirror);
        let (docs, written) = apply(&docs, &written, &actions);
        let again = run(&rule(), &docs, &written, false);
        assert_eq!(summary(&again), ["report ft2 MARKER_LEFTOVER"]);
    }

    #[test]
    fn an_owner_handing_over_moves_the_owner_copy() {
        // story's owner copy now names ft2; ft2 holds the mirror concord wrote.
        let handed = copy(&["owner=ft2", "phase=build"]);
        let docs = [doc(&[("story", handed.clone()), ("ft2", copy(MIRROR))])];
        let written = Written::from([(("ft2".into(), PATH.into()), hash(&text(MIRROR)))]);
        let actions = run(&rule(), &docs, &written, false);
        assert_eq!(
            summary(&actions),
            [
                "write ft2 OWNER_FLIP",
                "write story OWNER_FLIP",
                "write web BOOTSTRAP"
            ]
        );
        assert_eq!(written_to(&actions, "ft2"), handed.bytes);
        assert_eq!(
            written_to(&actions, "story"),
            text(&["owner=ft2", "phase=build", "sync_origin=ft2-reverse"])
        );
        let (after, after_written) = apply(&docs, &written, &actions);
        assert_eq!(run(&rule(), &after, &after_written, false), []);
        // ft2's mirror edited by hand: held unless forced.
        let actions = run(&rule(), &docs, &Written::new(), false);
        assert_eq!(summary(&actions), ["report ft2 MIRROR_EDITED"]);
        let forced = run(&rule(), &docs, &Written::new(), true);
        assert_eq!(
            summary(&forced),
            summary(&run(&rule(), &docs, &written, false))
        );
        // Handed to a repository with no copy yet.
        let actions = plan_one(&[doc(&[("story", handed.clone()), ("web", copy(MIRROR))])]);
        assert_eq!(
            summary(&actions),
            [
                "write ft2 OWNER_FLIP",
                "write story OWNER_FLIP",
                "report web MIRROR_EDITED"
            ]
        );
        // Two owners' copies handing it over with different content.
        let other = copy(&["owner=ft2", "phase=other"]);
        let actions = plan_one(&[doc(&[
            ("story", handed),
            ("web", other),
            ("ft2", copy(MIRROR)),
        ])]);
        assert_eq!(summary(&actions), ["report - MIRROR_CONFLICT"]);
    }

    #[test]
    fn a_missing_owner_copy_deletes_only_mirrors_concord_wrote() {
        let hand_made = copy(&["owner=fitme-story", "phase=tasks"]);
        let docs = [doc(&[("ft2", copy(MIRROR)), ("web", hand_made)])];
        let actions = plan_one(&docs);
        assert_eq!(summary(&actions), ["report story OWNER_COPY_MISSING"]);
        let deleting = MirrorRule {
            delete: true,
            ..rule()
        };
        let written = Written::from([(("ft2".into(), PATH.into()), hash(&text(MIRROR)))]);
        let actions = run(&deleting, &docs, &written, false);
        assert_eq!(
            summary(&actions),
            ["delete ft2", "report web MIRROR_EDITED"]
        );
        // A mirror edited since: deleted only with force; no marker: never.
        let actions = run(&deleting, &docs, &Written::new(), false);
        assert_eq!(
            summary(&actions),
            ["report ft2 MIRROR_EDITED", "report web MIRROR_EDITED"]
        );
        let actions = run(&deleting, &docs, &Written::new(), true);
        assert_eq!(
            summary(&actions),
            ["delete ft2", "report web MIRROR_EDITED"]
        );
    }

    #[test]
    fn a_marker_field_in_the_owner_copy_is_a_collision() {
        for value in ["sync_origin=manual", "sync_origin={\"a\":1}"] {
            let owner = copy(&["owner=fitme-story", value]);
            let actions = plan_one(&[doc(&[("story", owner), ("ft2", copy(MIRROR))])]);
            assert_eq!(
                summary(&actions),
                ["report story MARKER_COLLISION"],
                "{value}"
            );
        }
        // A marker value the rule writes is a leftover, not a collision.
        let owner = copy(&[
            "owner=fitme-story",
            "phase=tasks",
            "sync_origin=web-reverse",
        ]);
        let actions = plan_one(&[doc(&[("story", owner), ("ft2", copy(MIRROR))])]);
        assert_eq!(
            summary(&actions),
            ["report story MARKER_LEFTOVER", "write web BOOTSTRAP"]
        );
    }

    #[test]
    fn a_mirror_that_cannot_be_made_is_reported() {
        let owner = copy(&["owner=fitme-story", "broken=1"]);
        let actions = plan_one(&[doc(&[("story", owner)])]);
        assert_eq!(summary(&actions), ["report story MIRROR_FAILED"]);
        let MirrorAction::Report { message, .. } = &actions[0] else {
            unreachable!()
        };
        assert_eq!(
            message,
            "cannot make a mirror of the owner's copy: cannot read it"
        );
    }

    #[test]
    fn output_is_sorted_by_path_then_repo() {
        let mut b = doc(&[("web", copy(&["owner=web"]))]);
        b.path = "b/state.json".into();
        let mut a = doc(&[("story", copy(OWNER))]);
        a.path = "a/state.json".into();
        let mut c = doc(&[("story", copy(&["owner=nobody"]))]);
        c.path = "c/state.json".into();
        let mut rule = rule();
        rule.repos.reverse();
        let actions = run(
            &rule,
            &[c.clone(), b.clone(), a.clone()],
            &Written::new(),
            false,
        );
        let order: Vec<(&str, Option<&str>)> =
            actions.iter().map(|a| (a.path(), a.repo())).collect();
        assert_eq!(
            order,
            [
                ("a/state.json", Some("ft2")),
                ("a/state.json", Some("web")),
                ("b/state.json", Some("ft2")),
                ("b/state.json", Some("story")),
                ("c/state.json", None),
            ]
        );
        let twice = run(&rule, &[a.clone(), b, a], &Written::new(), false);
        assert_eq!(summary(&twice)[0], "report - DUPLICATE_PATH");
        assert_eq!(twice.len(), 3);
    }

    // ------------------------------------------------------------ properties

    fn any_copy() -> impl Strategy<Value = Option<Copy>> {
        let owner = prop_oneof![
            Just(None),
            Just(Some("ft2")),
            Just(Some("fitme-story")),
            Just(Some("web")),
            Just(Some("nobody")),
        ];
        let marker = prop_oneof![
            3 => Just(None),
            1 => Just(Some("ft2-reverse")),
            1 => Just(Some("fitme-story-reverse")),
            1 => Just(Some("web-reverse")),
            1 => Just(Some("junk")),
        ];
        let body = prop_oneof![Just("phase=a"), Just("phase=b"), Just("broken=1")];
        proptest::option::weighted(
            0.8,
            (owner, marker, body, any::<bool>()).prop_map(|(owner, marker, body, marker_first)| {
                let mut lines = Vec::new();
                let marker = marker.map(|m| format!("{MARKER}={m}"));
                if marker_first {
                    lines.extend(marker.clone());
                }
                lines.extend(owner.map(|o| format!("owner={o}")));
                lines.push(body.to_string());
                if !marker_first {
                    lines.extend(marker);
                }
                copy_of(
                    lines
                        .iter()
                        .map(|l| format!("{l}\n"))
                        .collect::<String>()
                        .into_bytes(),
                )
            }),
        )
    }

    /// What concord last wrote: nothing, these bytes, or something else.
    fn any_record() -> impl Strategy<Value = u8> {
        0u8..3
    }

    fn any_state() -> impl Strategy<Value = (Vec<DocState>, Written)> {
        proptest::collection::vec(
            (
                0u8..4,
                proptest::collection::vec((any_copy(), any_record()), 3),
            ),
            0..4,
        )
        .prop_map(|docs| {
            let mut written = Written::new();
            let docs = docs
                .into_iter()
                .map(|(n, copies)| {
                    let path = format!("f{n}/state.json");
                    let mut doc = DocState {
                        path: path.clone(),
                        copies: BTreeMap::new(),
                    };
                    for (repo, (copy, record)) in ["ft2", "story", "web"].iter().zip(copies) {
                        let key = (repo.to_string(), path.clone());
                        match (&copy, record) {
                            (Some(c), 1) => {
                                written.insert(key, hash(&c.bytes));
                            }
                            (_, 2) => {
                                written.insert(key, "0000".into());
                            }
                            _ => {}
                        }
                        if let Some(c) = copy {
                            doc.copies.insert(repo.to_string(), c);
                        }
                    }
                    doc
                })
                .collect();
            (docs, written)
        })
    }

    proptest! {
        #[test]
        fn applying_a_plan_then_replanning_writes_nothing(
            (docs, written) in any_state(),
            delete in any::<bool>(),
            force in any::<bool>(),
        ) {
            let rule = MirrorRule { delete, ..rule() };
            let first = run(&rule, &docs, &written, force);
            for action in &first {
                match action {
                    // Only mirrors concord marks are deleted.
                    MirrorAction::Delete { repo, path } => {
                        let doc = docs.iter().find(|d| &d.path == path).unwrap();
                        prop_assert!(doc.copies[repo].has_marker);
                    }
                    // Every write but an owner copy moving carries the marker.
                    MirrorAction::Write { bytes, reason, .. } if *reason != Reason::OwnerFlip => {
                        prop_assert!(copy_of(bytes.clone()).has_marker);
                    }
                    _ => {}
                }
            }
            let (after, after_written) = apply(&docs, &written, &first);
            let second = run(&rule, &after, &after_written, force);
            prop_assert!(
                changes(&second).is_empty(),
                "before {:?}\nfirst {:?}\nafter {:?}\nsecond {:?}",
                docs, summary(&first), after, summary(&second)
            );
        }

        #[test]
        fn plans_are_deterministic_and_order_independent(
            (docs, written) in any_state(),
            delete in any::<bool>(),
            force in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let rule = MirrorRule { delete, ..rule() };
            let first = run(&rule, &docs, &written, force);
            prop_assert_eq!(&first, &run(&rule, &docs, &written, force));
            let mut shuffled = docs.clone();
            let mut other_rule = rule.clone();
            if !shuffled.is_empty() {
                let n = shuffled.len();
                shuffled.rotate_left(seed as usize % n);
            }
            other_rule.repos.rotate_left(seed as usize % 3);
            if seed % 2 == 0 {
                shuffled.reverse();
                other_rule.repos.reverse();
            }
            prop_assert_eq!(&first, &run(&other_rule, &shuffled, &written, force));
            let keys: Vec<(&str, Option<&str>)> = first.iter().map(|a| (a.path(), a.repo())).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            prop_assert_eq!(keys, sorted);
        }
    }
}
