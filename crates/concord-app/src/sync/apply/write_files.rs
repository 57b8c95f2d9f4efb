//! Writing files: each file read again, edited and written atomically,
//! with the intent recorded first.

use super::{Apply, Ledger, applied_of, native_word};
use crate::hub::Failure;
use crate::sha256_hex;
use crate::sync::NotApplied;
use concord_engine::{Change, Decision};
use concord_store::{PendingWrite, WrittenStatus, now_rfc3339};
use concord_workspace::{AtomicWriter, EditOutcome, FileEdit, HUB_SOURCE, edit_file};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// The planned edits, per (source index, path).
type FileEdits<'p> = BTreeMap<(usize, String), Vec<PlannedEdit<'p>>>;

/// A file's new content (`None`: unchanged or unreadable) and each edit's outcome.
type Prepared = (Option<Vec<u8>>, Vec<EditOutcome>);

/// One planned file edit and the decision it carries out.
type PlannedEdit<'p> = (&'p Decision, &'p Change, FileEdit);

impl<'a> Apply<'a> {
    /// The file edits to make, grouped per file: a file is read, edited
    /// and written once however many of its items change.
    pub(super) fn file_edits(&self, ledger: &mut Ledger) -> FileEdits<'a> {
        let mut per_file: FileEdits<'a> = BTreeMap::new();
        for (decision, change) in self.planned.plan.changes() {
            if change.source == HUB_SOURCE {
                continue;
            }
            if !self.allowed(&change.source) || !self.rule_allowed(&decision.rule) {
                ledger.keep_base(decision);
                continue;
            }
            let Some((index, source)) = self
                .ws
                .sources
                .iter()
                .enumerate()
                .find(|(_, s)| s.name == change.source)
            else {
                continue;
            };
            let skip = |why: &str| NotApplied {
                key: decision.key.clone(),
                target: change.source.clone(),
                problem: why.to_string(),
                raced: false,
            };
            let Some(obs) = self
                .observed
                .get(&(change.source.as_str(), decision.key.as_str()))
            else {
                ledger
                    .not_applied
                    .push(skip("the item was not read from this source"));
                ledger.keep_base(decision);
                continue;
            };
            let new_word = match native_word(source, &change.to.status) {
                Ok(word) => word,
                Err(why) => {
                    ledger.not_applied.push(skip(&why));
                    ledger.keep_base(decision);
                    continue;
                }
            };
            let expected = obs
                .status
                .as_ref()
                .map(|s| s.raw.clone())
                .unwrap_or_default();
            per_file
                .entry((index, obs.path.to_string()))
                .or_default()
                .push((
                    decision,
                    change,
                    FileEdit {
                        key: decision.key.clone(),
                        expected,
                        new_word,
                    },
                ));
        }
        per_file
    }

    /// In chunks: each chunk's files are read and edited in parallel, their
    /// intents recorded in one transaction, then written in parallel.
    pub(super) async fn write_files(
        &self,
        per_file: FileEdits<'a>,
        ledger: &mut Ledger,
    ) -> Result<(), Failure> {
        let bar = self.progress.bar(per_file.len(), "writing files");
        let per_file: Vec<_> = per_file.into_iter().collect();
        let writer = AtomicWriter::default();
        for chunk in per_file.chunks(256) {
            if self.options.no_writeback {
                for (_, edits) in chunk {
                    for (decision, change, _) in edits {
                        ledger.skip_write(decision, change);
                    }
                }
                continue;
            }
            let prepared = self.prepare(chunk);
            // Intent first: a run killed after a write but before the
            // commit lets the next run recognise the file as ours.
            let intents: Vec<PendingWrite> = chunk
                .iter()
                .zip(&prepared)
                .filter_map(|(((index, path), _), (new_bytes, _))| {
                    Some(PendingWrite {
                        repo: self.ws.repo(&self.ws.sources[*index]).name.clone(),
                        path: path.clone(),
                        sha256: sha256_hex(new_bytes.as_ref()?),
                        run_id: self.run_id.clone(),
                        created_at: now_rfc3339(),
                    })
                })
                .collect();
            self.store.add_pending_writes(&intents).await?;
            let write = || -> Vec<Vec<EditOutcome>> {
                chunk
                    .par_iter()
                    .zip(prepared)
                    .map(|(((index, path), edits), (new_bytes, outcomes))| {
                        let Some(new_bytes) = new_bytes else {
                            return outcomes;
                        };
                        let full = self.ws.repo(&self.ws.sources[*index]).root.join(path);
                        match writer.write(&full, &new_bytes) {
                            Ok(()) => outcomes,
                            Err(e) => vec![
                                EditOutcome::Refused(format!("cannot write: {e}"));
                                edits.len()
                            ],
                        }
                    })
                    .collect()
            };
            let results = super::on_io_threads(write);
            for (file, outcomes) in chunk.iter().zip(results) {
                bar.inc(1);
                self.file_written(file, outcomes, ledger);
            }
        }
        bar.finish();
        Ok(())
    }

    /// Each file of a chunk read again and edited, in parallel: its new
    /// content, if any, and how each edit went.
    fn prepare(&self, chunk: &[((usize, String), Vec<PlannedEdit<'a>>)]) -> Vec<Prepared> {
        chunk
            .par_iter()
            .map(|((index, path), edits)| {
                let source = &self.ws.sources[*index];
                let full = self.ws.repo(source).root.join(path);
                let file_edits: Vec<FileEdit> = edits.iter().map(|(_, _, e)| e.clone()).collect();
                // Never blocks: a FIFO swapped in since the read is refused.
                match concord_workspace::read_regular_file(&full, u64::MAX) {
                    Ok(bytes) => {
                        let (new_bytes, outcomes) = edit_file(source, path, &bytes, &file_edits);
                        let new_bytes = (new_bytes != bytes).then_some(new_bytes);
                        (new_bytes, outcomes)
                    }
                    // Deleted since it was read: its items are gone.
                    Err(_) if std::fs::symlink_metadata(&full).is_err() => {
                        (None, vec![EditOutcome::Missing; edits.len()])
                    }
                    Err(e) => (None, vec![EditOutcome::Refused(e); edits.len()]),
                }
            })
            .collect()
    }

    /// One file's edits as they went: applied ones join the commit,
    /// the others are reported (a file changed under the run is a race).
    fn file_written(
        &self,
        ((index, path), edits): &((usize, String), Vec<PlannedEdit<'a>>),
        outcomes: Vec<EditOutcome>,
        ledger: &mut Ledger,
    ) {
        let repo = self.ws.repo(&self.ws.sources[*index]);
        let place = format!("{}:{path}", repo.name);
        for ((decision, change, edit), outcome) in edits.iter().zip(outcomes) {
            let problem = match outcome {
                EditOutcome::Applied => {
                    let entry = ledger.written.entry(repo.name.clone()).or_default();
                    if !entry.0.contains(path) {
                        entry.0.push(path.clone());
                    }
                    entry.1.push(format!(
                        "- {}: {} -> {} (from {}, {})",
                        decision.key,
                        edit.expected,
                        edit.new_word,
                        change.origin,
                        change.reason.as_str()
                    ));
                    ledger.applied.push(applied_of(decision, change, &place));
                    ledger.written_statuses.push(WrittenStatus {
                        source: change.source.clone(),
                        key: decision.key.clone(),
                        status: Some(change.to.status.clone()),
                        raw_status: edit.new_word.clone(),
                    });
                    continue;
                }
                EditOutcome::Changed { found } => (
                    format!(
                        "{place} changed since it was read (now `{}`); run sync again",
                        found.unwrap_or_default()
                    ),
                    true,
                ),
                EditOutcome::Missing => (format!("{place} no longer holds the item"), true),
                EditOutcome::Refused(why) => (format!("{place}: {why}"), false),
            };
            ledger.keep_base(decision);
            ledger.not_applied.push(NotApplied {
                key: decision.key.clone(),
                target: change.source.clone(),
                problem: problem.0,
                raced: problem.1,
            });
        }
    }
}
