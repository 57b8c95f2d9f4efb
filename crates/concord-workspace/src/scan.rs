//! Read every source of a workspace into observations. The walk finds files
//! per source; reading and parsing run in parallel; results come back in a
//! stable order (source, path, line) whatever the thread timing.

use crate::config::{Source, UnknownStatus, Workspace};
use concord_formats::{FileContext, ParsedFile};
use concord_model::{Observation, StatusReading, Warning, WarningCode};
use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Everything one source yielded.
#[derive(Debug)]
pub struct SourceScan {
    /// Index into [`Workspace::sources`].
    pub source: usize,
    pub files: usize,
    pub observations: Vec<Observation>,
}

#[derive(Debug)]
pub struct ScanReport {
    pub sources: Vec<SourceScan>,
    pub warnings: Vec<Warning>,
}

impl ScanReport {
    pub fn observations(&self) -> impl Iterator<Item = &Observation> {
        self.sources.iter().flat_map(|s| s.observations.iter())
    }
}

/// The most files of one source that one thread reads alone, when other
/// sources keep the other threads busy.
const ONE_THREAD_FILES: usize = 64;

/// The most items a source's list makes room for ahead, guessed from its
/// first file; past it the list grows as it fills.
const MAX_GUESSED_ITEMS: usize = 1 << 16;

/// Bytes looked at to tell binary content from text.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;

struct FileJob {
    source: usize,
    /// Repo-relative, `/`-separated.
    rel: String,
    abs: PathBuf,
}

pub fn scan(ws: &Workspace) -> ScanReport {
    scan_limited(ws, &HashMap::new())
}

/// Like [`scan`], but a source listed in `only` reads just those
/// repo-relative paths (the files changed since its watermark); a listed
/// path that no longer exists or does not match the glob is skipped.
pub fn scan_limited(ws: &Workspace, only: &HashMap<usize, BTreeSet<String>>) -> ScanReport {
    let (sources, warnings) = scan_sources(ws, only, |scan| scan);
    ScanReport { sources, warnings }
}

/// Like [`scan`], but each source goes through `each` as soon as it is
/// read, on the thread that read it, and what `each` makes of it is kept
/// instead (in workspace order): a caller that needs less than the
/// observations never holds them all. Returns every warning, sorted as
/// [`scan`] sorts them.
pub fn scan_map<T: Send>(
    ws: &Workspace,
    each: impl Fn(SourceScan) -> T + Sync + Send,
) -> (Vec<T>, Vec<Warning>) {
    scan_sources(ws, &HashMap::new(), each)
}

/// Every source (or, where `only` lists one, those of its files), read in
/// parallel and put through `each`; the warnings sorted.
fn scan_sources<T: Send>(
    ws: &Workspace,
    only: &HashMap<usize, BTreeSet<String>>,
    each: impl Fn(SourceScan) -> T + Sync + Send,
) -> (Vec<T>, Vec<Warning>) {
    let per_source: Vec<(T, Vec<Warning>)> = ws
        .sources
        .par_iter()
        .enumerate()
        .map(|(index, source)| {
            let (scan, warnings) = scan_source(ws, index, source, only.get(&index));
            (each(scan), warnings)
        })
        .collect();
    let mut warnings = Vec::new();
    let mut kept = Vec::with_capacity(per_source.len());
    for (made, source_warnings) in per_source {
        kept.push(made);
        warnings.extend(source_warnings);
    }
    sort_warnings(&mut warnings);
    (kept, warnings)
}

/// Like [`scan`], but each source goes to `each` as soon as it is read, on
/// the thread that read it, instead of into a report. Sources are taken in
/// workspace order, a thread at a time, so a caller that shows each source
/// in order and lets it go holds a few sources at a time, not the
/// workspace. Returns every warning, sorted as [`scan`] sorts them.
pub fn scan_each(ws: &Workspace, each: impl Fn(SourceScan) + Sync) -> Vec<Warning> {
    let next = AtomicUsize::new(0);
    let warnings = Mutex::new(Vec::new());
    rayon::broadcast(|_| {
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(source) = ws.sources.get(index) else {
                break;
            };
            let (scan, source_warnings) = scan_source(ws, index, source, None);
            warnings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(source_warnings);
            each(scan);
        }
    });
    let mut warnings = warnings
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    sort_warnings(&mut warnings);
    warnings
}

/// One source, walked (or only its `listed` files), read and joined before
/// the next starts, so what its files held is reused rather than every
/// file's list living until the end; and what it warned of.
fn scan_source(
    ws: &Workspace,
    index: usize,
    source: &Source,
    listed: Option<&BTreeSet<String>>,
) -> (SourceScan, Vec<Warning>) {
    let (files, mut warnings) = match listed {
        Some(paths) => (listed_files(ws, index, source, paths), Vec::new()),
        None => find_files(ws, index, source),
    };
    let observations = read_source(ws, &files, &mut warnings);
    warnings.extend(duplicate_keys(source, &observations));
    let scan = SourceScan {
        source: index,
        files: files.len(),
        observations,
    };
    (scan, warnings)
}

fn sort_warnings(warnings: &mut [Warning]) {
    warnings.sort_by(|a, b| {
        (&a.source, &a.path, a.line, a.code).cmp(&(&b.source, &b.path, b.line, b.code))
    });
}

/// One source's observations, in file order. With enough sources to keep
/// every thread busy, one thread reads a source of a few files straight
/// into one list, sized after its first file, and no file's list is made
/// and copied. With few sources, or a source of many files (which alone
/// would keep one thread busy while the others idle), its files are read
/// in parallel and joined.
fn read_source(ws: &Workspace, files: &[FileJob], warnings: &mut Vec<Warning>) -> Vec<Observation> {
    let threads_busy = ws.sources.len() >= 4 * rayon::current_num_threads();
    let one_thread = threads_busy && files.len() <= ONE_THREAD_FILES;
    if !one_thread && files.len() > 1 {
        let read = files.par_iter().map(|job| read_file(ws, job)).collect();
        return join_files(read, warnings);
    }
    let mut observations = Vec::new();
    for (index, job) in files.iter().enumerate() {
        read_into(ws, job, &mut observations, warnings);
        if index == 0 {
            // Room for files like the first, within reason: one large file
            // followed by many small ones must not reserve gigabytes.
            let guess = observations.len().saturating_mul(files.len() - 1);
            observations.reserve(guess.min(MAX_GUESSED_ITEMS));
        }
    }
    observations
}

/// One source's observations from its files' (in file order), and their
/// warnings added to `warnings`. A source of one file keeps that file's
/// list: nothing is copied.
fn join_files(
    read: Vec<(Vec<Observation>, Vec<Warning>)>,
    warnings: &mut Vec<Warning>,
) -> Vec<Observation> {
    if read.len() == 1 {
        let (observations, file_warnings) = read.into_iter().next().unwrap_or_default();
        warnings.extend(file_warnings);
        return observations;
    }
    let total = read.iter().map(|(obs, _)| obs.len()).sum();
    let mut observations = Vec::with_capacity(total);
    for (obs, file_warnings) in read {
        observations.extend(obs);
        warnings.extend(file_warnings);
    }
    observations
}

/// The folder a glob can only match below: its leading literal components.
fn walk_base(glob: &str) -> &str {
    let is_meta = |c: char| matches!(c, '*' | '?' | '[' | '{' | '\\');
    let mut end = 0;
    for (i, _) in glob.match_indices('/') {
        if glob[..i].contains(is_meta) {
            break;
        }
        end = i;
    }
    &glob[..end]
}

/// The listed files that match the source's glob and are regular files
/// inside the repo (a symlink is followed only if it stays inside).
fn listed_files(
    ws: &Workspace,
    index: usize,
    source: &Source,
    paths: &BTreeSet<String>,
) -> Vec<FileJob> {
    let repo = ws.repo(source);
    let root = repo
        .root
        .canonicalize()
        .unwrap_or_else(|_| repo.root.clone());
    paths
        .iter()
        .filter(|rel| source.matcher.is_match(rel.as_str()))
        .filter_map(|rel| {
            let abs = repo.root.join(rel);
            let inside = abs
                .canonicalize()
                .is_ok_and(|target| target.starts_with(&root) && target.is_file());
            inside.then(|| FileJob {
                source: index,
                rel: rel.clone(),
                abs,
            })
        })
        .collect()
}

fn find_files(ws: &Workspace, index: usize, source: &Source) -> (Vec<FileJob>, Vec<Warning>) {
    let repo = ws.repo(source);
    let warn = |code, path: String, message: String| Warning {
        code,
        source: source.name.clone(),
        repo: repo.name.clone(),
        path,
        line: None,
        message,
    };
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    if !repo.root.is_dir() {
        // Say what is there instead: nothing, or something that is no folder.
        let found = match std::fs::metadata(&repo.root) {
            Ok(meta) if meta.is_file() => "is a file there, not a folder".to_string(),
            Ok(meta) => format!("is {} there, not a folder", kind_of(&meta.file_type())),
            Err(_) => "is not there".to_string(),
        };
        warnings.push(warn(
            WarningCode::MissingRepo,
            source.glob.clone(),
            format!(
                "repo `{}` at {} {found} (nothing read for source `{}`)",
                repo.name,
                repo.root.display(),
                source.name
            ),
        ));
        return (files, warnings);
    }
    let canonical_root = repo
        .root
        .canonicalize()
        .unwrap_or_else(|_| repo.root.clone());
    let base = repo.root.join(walk_base(&source.glob));
    let walker = walkdir::WalkDir::new(&base)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !(e.file_type().is_dir() && e.file_name() == ".git"));
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                // A missing base folder simply means nothing matched.
                if e.depth() == 0
                    && e.io_error()
                        .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
                {
                    continue;
                }
                let path = e
                    .path()
                    .and_then(|p| p.strip_prefix(&repo.root).ok())
                    .map(rel_string)
                    .unwrap_or_else(|| source.glob.clone());
                warnings.push(warn(
                    WarningCode::UnreadableFile,
                    path,
                    format!("cannot walk: {e}"),
                ));
                continue;
            }
        };
        let Ok(rel) = entry.path().strip_prefix(&repo.root) else {
            continue;
        };
        let rel = rel_string(rel);
        if !source.matcher.is_match(&rel) {
            continue;
        }
        let file_type = entry.file_type();
        if !file_type.is_dir() && !file_type.is_file() && !file_type.is_symlink() {
            warnings.push(warn(
                WarningCode::UnreadableFile,
                rel,
                format!(
                    "matches the glob but is {}; only regular files are read",
                    kind_of(&file_type)
                ),
            ));
            continue;
        }
        if file_type.is_dir() {
            warnings.push(warn(
                WarningCode::UnreadableFile,
                rel,
                "matches the glob but is a directory; expected a file".into(),
            ));
            continue;
        }
        if file_type.is_symlink() {
            match entry.path().canonicalize() {
                Ok(target) if !target.starts_with(&canonical_root) => {
                    warnings.push(warn(
                        WarningCode::UnreadableFile,
                        rel,
                        format!(
                            "refused: symlink points outside the repo (to {})",
                            target.display()
                        ),
                    ));
                    continue;
                }
                Ok(target) if target.is_dir() => {
                    warnings.push(warn(
                        WarningCode::UnreadableFile,
                        rel,
                        "matches the glob but links to a directory; expected a file".into(),
                    ));
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    warnings.push(warn(
                        WarningCode::UnreadableFile,
                        rel,
                        format!("broken symlink: {e}"),
                    ));
                    continue;
                }
            }
        }
        files.push(FileJob {
            source: index,
            rel,
            abs: entry.into_path(),
        });
    }
    if files.is_empty() && warnings.is_empty() {
        warnings.push(warn(
            WarningCode::NoFiles,
            source.glob.clone(),
            format!(
                "glob `{}` matched no file in repo `{}` ({})",
                source.glob,
                repo.name,
                repo.root.display()
            ),
        ));
    }
    (files, warnings)
}

fn rel_string(path: &Path) -> String {
    let mut out = String::new();
    for (i, part) in path.components().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&part.as_os_str().to_string_lossy());
    }
    out
}

/// Read one file of source `source` from `bytes` (staged content, an old
/// commit's): what a scan of that file alone would say, duplicate keys
/// within it included.
pub fn read_bytes(
    ws: &Workspace,
    source: usize,
    rel: &str,
    bytes: &[u8],
) -> (Vec<Observation>, Vec<Warning>) {
    let job = FileJob {
        source,
        rel: rel.to_string(),
        abs: ws.repo(&ws.sources[source]).root.join(rel),
    };
    let (observations, mut warnings) = parse_bytes(ws, &job, bytes);
    warnings.extend(duplicate_keys(&ws.sources[source], &observations));
    (observations, warnings)
}

fn read_file(ws: &Workspace, job: &FileJob) -> (Vec<Observation>, Vec<Warning>) {
    let (mut observations, mut warnings) = (Vec::new(), Vec::new());
    read_into(ws, job, &mut observations, &mut warnings);
    (observations, warnings)
}

/// Read one file, adding its observations to `out` and what could not be
/// read to `warnings`.
fn read_into(
    ws: &Workspace,
    job: &FileJob,
    out: &mut Vec<Observation>,
    warnings: &mut Vec<Warning>,
) {
    let source = &ws.sources[job.source];
    let repo = ws.repo(source);
    match read_limited(&job.abs, ws.max_file_bytes) {
        Ok(bytes) => parse_into(ws, job, &bytes, out, warnings),
        Err(message) => warnings.push(Warning {
            code: WarningCode::UnreadableFile,
            source: source.name.clone(),
            repo: repo.name.clone(),
            path: job.rel.clone(),
            line: None,
            message,
        }),
    }
}

fn parse_bytes(ws: &Workspace, job: &FileJob, bytes: &[u8]) -> (Vec<Observation>, Vec<Warning>) {
    let (mut observations, mut warnings) = (Vec::new(), Vec::new());
    parse_into(ws, job, bytes, &mut observations, &mut warnings);
    (observations, warnings)
}

fn parse_into(
    ws: &Workspace,
    job: &FileJob,
    bytes: &[u8],
    out: &mut Vec<Observation>,
    warnings: &mut Vec<Warning>,
) {
    let source = &ws.sources[job.source];
    let repo = ws.repo(source);
    let file_warning = |line: Option<u32>, message: String| Warning {
        code: WarningCode::UnreadableFile,
        source: source.name.clone(),
        repo: repo.name.clone(),
        path: job.rel.clone(),
        line,
        message,
    };
    let sniff = &bytes[..bytes.len().min(BINARY_SNIFF_BYTES)];
    if let Some(offset) = memchr::memchr(0, sniff) {
        warnings.push(file_warning(
            None,
            format!(
                "binary content (a NUL byte at offset {offset}); expected a {} text file",
                source.format_name.as_str()
            ),
        ));
        return;
    }
    match source.format.parse(FileContext { path: &job.rel }, bytes) {
        Ok(parsed) => observe(ws, job, parsed, out, warnings),
        Err(e) => warnings.push(file_warning(
            e.line,
            format!("not a valid {} file: {e}", source.format_name.as_str()),
        )),
    }
}

/// The file's bytes, refusing files over `limit`; one open, one stat.
/// Open `path` for reading without ever blocking, and only if it is a
/// regular file: a FIFO opened the usual way waits for a writer forever.
fn open_regular(path: &Path) -> Result<(std::fs::File, u64), String> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| match e.kind() {
        // Listed by the walk a moment ago: removed or renamed since.
        std::io::ErrorKind::NotFound => {
            format!("gone before it could be read (removed or renamed while concord ran): {e}")
        }
        _ => format!("cannot read: {e}"),
    })?;
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "not read: it is {}, and only regular files are read",
            kind_of(&meta.file_type())
        ));
    }
    Ok((file, meta.len()))
}

/// What a file that is not a regular one is, in words.
pub(crate) fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "a device";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// The bytes of the regular file at `path`, at most `limit` of them; a
/// FIFO, socket or device is refused without blocking.
pub fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    read_limited(path, limit)
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let (file, size) = open_regular(path)?;
    let over = |size: u64| {
        format!(
            "file is {size} bytes, over the limit of {limit} (raise `max_file_bytes` in [scan] to read it)"
        )
    };
    if size > limit {
        return Err(over(size));
    }
    let mut bytes = Vec::with_capacity(size as usize + 1);
    // `take` guards against a file that grows while it is read.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(over(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Turn a parsed file into observations, resolving statuses through the workflow.
fn observe(
    ws: &Workspace,
    job: &FileJob,
    parsed: ParsedFile,
    observations: &mut Vec<Observation>,
    warnings: &mut Vec<Warning>,
) {
    let source = &ws.sources[job.source];
    let repo = ws.repo(source);
    let workflow = ws.workflow(source);
    let warning = |code, line, message| Warning {
        code,
        source: source.name.clone(),
        repo: repo.name.clone(),
        path: job.rel.clone(),
        line: Some(line),
        message,
    };
    warnings.extend(
        parsed
            .warnings
            .into_iter()
            .map(|w| warning(WarningCode::UnparseableRow, w.line, w.message)),
    );
    // One allocation per file for the strings every item of it shares.
    let (source_name, repo_name, path): (Arc<str>, Arc<str>, Arc<str>) = (
        Arc::from(source.name.as_str()),
        Arc::from(repo.name.as_str()),
        Arc::from(job.rel.as_str()),
    );
    // The file's own copy of each canonical name it uses: shared by its
    // items, and not one count that every thread's items bump at once
    // (that contended count cost more than the rest of making an item).
    let mut canonical_names: Vec<Option<Arc<str>>> = vec![None; workflow.statuses().len()];
    let mut canonical = |index: usize| {
        let slot = canonical_names.get_mut(index)?;
        if slot.is_none() {
            *slot = workflow.shared_name(index).map(|name| Arc::from(&*name));
        }
        slot.clone()
    };
    observations.reserve(parsed.items.len());
    let skip_unknown = source.unknown_status == UnknownStatus::Skip;
    for item in parsed.items {
        let mut skipped = false;
        let status = item.status.map(|value| {
            let known = workflow.resolve_index(&value.text);
            if known.is_none() {
                let hint = workflow
                    .suggest(&value.text)
                    .map(|s| format!(" (did you mean `{}`?)", s.name))
                    .unwrap_or_default();
                skipped = skip_unknown;
                let then = if skip_unknown {
                    ": skipped (unknown_status = \"skip\")"
                } else {
                    ": sync holds the item until it is fixed"
                };
                warnings.push(warning(
                    WarningCode::UnknownStatus,
                    value.line,
                    format!(
                        "`{}` has status `{}`, which is no status or alias of workflow `{}`{hint}{then}",
                        item.key,
                        value.text,
                        workflow.name()
                    ),
                ));
            }
            StatusReading {
                canonical: known.and_then(&mut canonical),
                rank: known.map(|i| workflow.statuses()[i].rank),
                raw: value.text,
                line: value.line,
                span: value.span,
                pinned: value.pinned,
            }
        });
        if skipped {
            continue;
        }
        observations.push(Observation {
            source: source_name.clone(),
            repo: repo_name.clone(),
            key: item.key,
            path: path.clone(),
            line: item.line,
            status,
            owner: item.owner.map(|o| o.text),
            fields: item
                .fields
                .into_iter()
                .map(|(name, value)| (name, value.text))
                .collect(),
        });
    }
}

fn duplicate_keys(source: &Source, observations: &[Observation]) -> Vec<Warning> {
    // Keys come from the workspace's own files; a fast hash is enough.
    let mut first_seen: HashMap<&str, &Observation, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(observations.len(), Default::default());
    let mut warnings = Vec::new();
    for obs in observations {
        if let Some(first) = first_seen.get(obs.key.as_str()) {
            warnings.push(Warning {
                code: WarningCode::DuplicateKey,
                source: source.name.clone(),
                repo: obs.repo.to_string(),
                path: obs.path.to_string(),
                line: Some(obs.line),
                message: format!(
                    "key `{}` appears again; first at {}:{}",
                    obs.key, first.path, first.line
                ),
            });
        } else {
            first_seen.insert(&obs.key, obs);
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::{FileJob, read_file, walk_base};
    use crate::Workspace;
    use concord_model::WarningCode;

    /// A file listed by the walk and gone when read (the race cannot be
    /// timed from outside, so the job is made by hand): a warning that names
    /// it, no items, no panic.
    #[test]
    fn a_file_gone_between_the_walk_and_the_read_is_a_warning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ws = Workspace::from_toml(
            r#"
[[repo]]
name = "app"
path = "."
[[workflow]]
name = "task"
statuses = [{ name = "todo", rank = 0 }]
[[source]]
name = "w"
repo = "app"
format = "task-blocks"
glob = "*.md"
workflow = "task"
"#,
            &dir.path().join("concord.toml"),
            dir.path(),
        )
        .expect("config");
        let job = FileJob {
            source: 0,
            rel: "gone.md".into(),
            abs: dir.path().join("gone.md"),
        };
        let (observations, warnings) = read_file(&ws, &job);
        assert!(observations.is_empty());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].code, WarningCode::UnreadableFile);
        assert_eq!(warnings[0].path, "gone.md");
        assert!(
            warnings[0].message.contains("gone before it could be read"),
            "{}",
            warnings[0].message
        );
    }

    /// A workspace of `sources` sources, each reading `files` plan files of
    /// two tasks: whether a source is read on one thread (many sources, few
    /// files) or its files in parallel (few sources, or many files), every
    /// source lists its items in file order, then line order.
    fn scan_in_file_order(sources: usize, files: usize) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut toml = String::from(
            "[[repo]]\nname = \"app\"\npath = \".\"\n[[workflow]]\nname = \"task\"\nstatuses = [{ name = \"todo\", rank = 0 }]\n",
        );
        for s in 0..sources {
            toml.push_str(&format!(
                "[[source]]\nname = \"s{s}\"\nrepo = \"app\"\nformat = \"task-blocks\"\nglob = \"d{s}/*.md\"\nworkflow = \"task\"\n"
            ));
            std::fs::create_dir(dir.path().join(format!("d{s}"))).expect("mkdir");
            // Written in reverse: the walk's order must not depend on it.
            for f in (0..files).rev() {
                let tasks: String = (0..2)
                    .map(|t| format!("```task\nid: S{s}-F{f:03}-T{t}\nstatus: todo\n```\n"))
                    .collect();
                std::fs::write(dir.path().join(format!("d{s}/f{f:03}.md")), tasks).expect("write");
            }
        }
        let ws = Workspace::from_toml(&toml, &dir.path().join("concord.toml"), dir.path())
            .expect("config");
        let report = super::scan(&ws);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert_eq!(report.sources.len(), sources);
        for (s, scanned) in report.sources.iter().enumerate() {
            assert_eq!(scanned.source, s);
            assert_eq!(scanned.files, files);
            let keys: Vec<&str> = scanned
                .observations
                .iter()
                .map(|o| o.key.as_str())
                .collect();
            let expected: Vec<String> = (0..files)
                .flat_map(|f| (0..2).map(move |t| format!("S{s}-F{f:03}-T{t}")))
                .collect();
            assert_eq!(keys, expected, "source {s}");
        }
        // Handed out a source at a time, the same sources, each whole.
        let handed = std::sync::Mutex::new(Vec::new());
        let warnings = super::scan_each(&ws, |scan| {
            handed.lock().expect("lock").push(scan);
        });
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut handed = handed.into_inner().expect("lock");
        handed.sort_by_key(|scan| scan.source);
        let observations = |scans: &[super::SourceScan]| -> Vec<Vec<concord_model::Observation>> {
            scans.iter().map(|s| s.observations.clone()).collect()
        };
        assert_eq!(observations(&handed), observations(&report.sources));
    }

    #[test]
    fn one_source_reads_its_files_in_parallel_and_keeps_their_order() {
        scan_in_file_order(1, 3);
    }

    #[test]
    fn many_sources_read_a_thread_each_and_keep_file_order() {
        scan_in_file_order(40, 3);
    }

    #[test]
    fn a_source_of_many_files_among_many_keeps_file_order() {
        scan_in_file_order(40, super::ONE_THREAD_FILES + 6);
    }

    #[test]
    fn walk_base_is_the_literal_folder_prefix() {
        assert_eq!(
            walk_base(".claude/features/*/state.json"),
            ".claude/features"
        );
        assert_eq!(walk_base("docs/plan.md"), "docs");
        assert_eq!(walk_base("**/*.md"), "");
        assert_eq!(walk_base("plan.md"), "");
        assert_eq!(walk_base("a/b{c,d}/e/*.md"), "a");
    }
}
