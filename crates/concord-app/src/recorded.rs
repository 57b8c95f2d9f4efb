//! What a run changes in the hub's recorded observations of one source:
//! only the readings that differ from what is recorded are written, and the
//! files they come from are named, so that an incremental read re-reads
//! them (see [`crate::sync`]'s read marks).
//!
//! Why the files matter: the recorded observations of a file that no
//! commit changed since a source's read position stand in for the file in
//! the next incremental read. A run that records a reading of a file that
//! differs from the one recorded (a dirty edit seen by `status`, a file a
//! pulled commit changed seen by `diff`) would break that, once the file
//! goes back to what it was: nothing would say it changed, and the stale
//! reading would be planned with. So such files are remembered until a
//! sync has read them at a position it records.

use concord_store::ObservationRecord;
use std::collections::{BTreeSet, HashMap};

/// The writes that make a source's recorded observations what was read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Readings new or different from the recorded ones (this run's id
    /// and time on them); unchanged ones keep theirs.
    pub upsert: Vec<ObservationRecord>,
    /// Items recorded before that the read no longer holds.
    pub forget: Vec<String>,
    /// The files whose recorded readings change: those of every upserted
    /// reading and every forgotten one, before and after.
    pub changed_paths: BTreeSet<String>,
}

/// Whether two readings say the same (the run and time that recorded
/// them aside).
fn same_reading(a: &ObservationRecord, b: &ObservationRecord) -> bool {
    a.source == b.source
        && a.key == b.key
        && a.status == b.status
        && a.raw_status == b.raw_status
        && a.repo == b.repo
        && a.path == b.path
        && a.line == b.line
        && a.owner == b.owner
        && a.pinned == b.pinned
}

/// Compare what one source's read found (`read`) with what the hub
/// recorded of the same files (`recorded`). With `forget_missing`, a
/// recorded item the read does not hold is forgotten; without it (a file
/// of the source could not be read: its items are unknown, not gone) it
/// stays. A key read twice counts once, the last reading, as the store's
/// upsert would keep it.
pub fn reconcile(
    recorded: Vec<ObservationRecord>,
    read: Vec<ObservationRecord>,
    forget_missing: bool,
) -> Reconciled {
    if recorded.is_empty() {
        // Nothing recorded (a first read): every reading is new.
        return all_new(read);
    }
    let mut before: HashMap<String, ObservationRecord> =
        recorded.into_iter().map(|o| (o.key.clone(), o)).collect();
    let mut last: HashMap<String, ObservationRecord> = HashMap::with_capacity(read.len());
    for o in read {
        last.insert(o.key.clone(), o);
    }
    let mut out = Reconciled::default();
    for (key, now) in last {
        match before.remove(&key) {
            Some(was) if same_reading(&was, &now) => {}
            Some(was) => {
                out.changed_paths.insert(was.path);
                out.changed_paths.insert(now.path.clone());
                out.upsert.push(now);
            }
            None => {
                out.changed_paths.insert(now.path.clone());
                out.upsert.push(now);
            }
        }
    }
    if forget_missing {
        for (key, was) in before {
            out.changed_paths.insert(was.path);
            out.forget.push(key);
        }
    }
    out.upsert.sort_by(|a, b| a.key.cmp(&b.key));
    out.forget.sort();
    out
}

/// Every reading new: each key's last one, in the order read.
fn all_new(read: Vec<ObservationRecord>) -> Reconciled {
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(read.len());
    for (i, o) in read.iter().enumerate() {
        last.insert(o.key.as_str(), i);
    }
    if last.len() == read.len() {
        let changed_paths = read.iter().map(|o| o.path.clone()).collect();
        return Reconciled {
            upsert: read,
            forget: Vec::new(),
            changed_paths,
        };
    }
    let keep: std::collections::HashSet<usize> = last.into_values().collect();
    let upsert: Vec<ObservationRecord> = read
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, o)| o)
        .collect();
    let changed_paths = upsert.iter().map(|o| o.path.clone()).collect();
    Reconciled {
        upsert,
        forget: Vec::new(),
        changed_paths,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reading(key: &str, status: &str, path: &str, run: &str) -> ObservationRecord {
        ObservationRecord {
            source: "plans".into(),
            key: key.into(),
            run_id: run.into(),
            status: Some(status.into()),
            raw_status: Some(status.into()),
            repo: "app".into(),
            path: path.into(),
            line: 1,
            observed_at: format!("at {run}"),
            owner: None,
            pinned: None,
        }
    }

    #[test]
    fn an_unchanged_read_writes_nothing_and_names_no_file() {
        let recorded = vec![reading("A", "todo", "a.md", "r1")];
        let read = vec![reading("A", "todo", "a.md", "r2")];
        assert_eq!(reconcile(recorded, read, true), Reconciled::default());
    }

    #[test]
    fn a_changed_reading_names_its_file_before_and_after() {
        let recorded = vec![reading("A", "todo", "a.md", "r1")];
        let read = vec![reading("A", "done", "b.md", "r2")];
        let out = reconcile(recorded, read, true);
        assert_eq!(out.upsert.len(), 1);
        assert_eq!(out.upsert[0].run_id, "r2");
        assert_eq!(
            out.changed_paths,
            BTreeSet::from(["a.md".to_string(), "b.md".to_string()])
        );
    }

    #[test]
    fn an_item_gone_is_forgotten_unless_a_file_was_not_read() {
        let recorded = vec![reading("A", "todo", "a.md", "r1")];
        let out = reconcile(recorded.clone(), Vec::new(), true);
        assert_eq!(out.forget, ["A"]);
        assert_eq!(out.changed_paths, BTreeSet::from(["a.md".to_string()]));
        assert_eq!(
            reconcile(recorded, Vec::new(), false),
            Reconciled::default()
        );
    }

    fn readings() -> impl Strategy<Value = Vec<ObservationRecord>> {
        prop::collection::vec(
            (0..6u8, prop::sample::select(vec!["todo", "done"]), 0..3u8),
            0..8,
        )
        .prop_map(|rows| {
            rows.into_iter()
                .map(|(k, s, p)| reading(&format!("K{k}"), s, &format!("f{p}.md"), "r"))
                .collect()
        })
    }

    proptest! {
        /// Applying the writes to what was recorded gives what was read,
        /// and every file whose readings differ is named.
        #[test]
        fn the_writes_make_the_record_what_was_read(recorded in readings(), read in readings()) {
            let mut before: HashMap<String, ObservationRecord> =
                recorded.iter().map(|o| (o.key.clone(), o.clone())).collect();
            let out = reconcile(before.values().cloned().collect(), read.clone(), true);
            for key in &out.forget {
                before.remove(key);
            }
            for o in &out.upsert {
                before.insert(o.key.clone(), o.clone());
            }
            let wanted: HashMap<String, ObservationRecord> =
                read.iter().map(|o| (o.key.clone(), o.clone())).collect();
            prop_assert_eq!(before.len(), wanted.len());
            for (key, o) in &wanted {
                prop_assert!(same_reading(&before[key], o));
            }
            let by_path = |rows: &HashMap<String, ObservationRecord>, path: &str| {
                let mut keys: Vec<(String, Option<String>)> = rows
                    .values()
                    .filter(|o| o.path == path)
                    .map(|o| (o.key.clone(), o.status.clone()))
                    .collect();
                keys.sort();
                keys
            };
            let old: HashMap<String, ObservationRecord> =
                recorded.iter().map(|o| (o.key.clone(), o.clone())).collect();
            for path in ["f0.md", "f1.md", "f2.md"] {
                if by_path(&old, path) != by_path(&wanted, path) {
                    prop_assert!(out.changed_paths.contains(path), "{} not named", path);
                }
            }
        }
    }
}
