//! Remembering what `git status` said, so that a run in which nothing in
//! a repo changed needs no git process for it.
//!
//! A `git status` costs a process (about 3 ms to start) and a look at every
//! file; a no-op sync over 50 repos spent most of its time there. So the
//! answer is kept in the work tree's git directory (`concord-status`),
//! with a fingerprint of everything it depends on: the stat data (inode,
//! mode, size, modification and change times) of every file and folder of
//! the work tree that git does not ignore, the git files that decide HEAD,
//! the index, the refs and the ignore rules, and the user's and the
//! system's git configuration. When the fingerprint is unchanged, so is
//! what `git status` would say.
//!
//! Why this is safe (git's own "racy git" rule, applied to the whole
//! fingerprint): before git runs, a marker file is created; its
//! modification time `t0` is the filesystem's "now". Any later change to
//! a file gives it a change time at or after `t0`. The answer is kept only
//! when every fingerprinted entry is strictly older than `t0`, so a change
//! made while or after git looked always shows in the next fingerprint (a
//! change time can be set by no one but the kernel). Whatever cannot be
//! fingerprinted this way turns the cache off and git runs as before: git
//! variables that point at other configuration, configuration that
//! includes other files or names its own ignore or attribute files, nested
//! repositories and submodules, linked worktrees, and systems without Unix
//! stat data.

use crate::{GitError, Repo, StatusV2};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The file, inside the work tree's own git directory.
const FILE: &str = "concord-status";
/// The first line of the file; a change of format changes it.
const HEADER: &[u8] = b"concord-status 1\n";

/// Variables that make git read configuration or attributes from
/// elsewhere than the files fingerprinted here.
const CONFIG_ENV: &[&str] = &[
    "GIT_CONFIG",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_PARAMETERS",
    "GIT_ATTR_NOSYSTEM",
    "GIT_ATTR_SOURCE",
    "GIT_IGNORE_CASE",
];

/// Words in a configuration file that point git at files this fingerprint
/// does not follow: with any of them, git runs every time.
const UNFOLLOWED_CONFIG: &[&str] = &["include", "excludesfile", "attributesfile"];

/// Where [`Repo::snapshot_remembered`]'s answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFrom {
    /// Nothing git looks at changed since git last ran here.
    Remembered,
    /// `git status` ran.
    Git,
}

/// Why `git status` cannot be remembered in this environment, if it
/// cannot (a git variable or a configuration file points git at files the
/// fingerprint does not follow).
pub fn status_memory_off() -> Option<&'static str> {
    global_fingerprint().is_none().then_some(
        "a GIT_CONFIG* or GIT_ATTR* variable is set, a git configuration file includes \
         others or names its own ignore or attributes file, or this system has no Unix \
         stat data",
    )
}

impl Repo {
    /// [`Repo::snapshot`], without running git when nothing git looks at
    /// changed since the last time it ran here (see the module's docs).
    pub fn snapshot_cached(&self) -> Result<(crate::RepoState, BTreeSet<String>), GitError> {
        self.snapshot_remembered().map(|(snapshot, _)| snapshot)
    }

    /// [`Repo::snapshot_cached`], saying whether git ran.
    pub fn snapshot_remembered(
        &self,
    ) -> Result<((crate::RepoState, BTreeSet<String>), StatusFrom), GitError> {
        let Some(global) = &global_fingerprint() else {
            return Ok((self.snapshot()?, StatusFrom::Git));
        };
        if self.git_dir != self.root.join(".git") {
            return Ok((self.snapshot()?, StatusFrom::Git));
        }
        if let Some(status) = self.remembered_status(global) {
            return Ok((self.state_of(status)?, StatusFrom::Remembered));
        }
        sweep_old_markers(&self.git_dir);
        // The marker's time is taken before git looks (see the module's docs).
        let marker = tempfile::Builder::new()
            .prefix(".concord-status")
            .tempfile_in(&self.git_dir)
            .ok();
        let t0 = marker
            .as_ref()
            .and_then(|m| m.as_file().metadata().ok())
            .map(|m| stamp::mtime(&m));
        let (out, status) = self.status_v2(&["--ignored=matching"])?;
        if let (Some(marker), Some(t0)) = (marker, t0) {
            self.remember(marker, t0, global, &out, &status);
        }
        Ok((self.state_of(status)?, StatusFrom::Git))
    }

    /// What `git status` said last time, if nothing it depends on changed.
    fn remembered_status(&self, global: &[u8; 32]) -> Option<StatusV2> {
        let bytes = std::fs::read(self.git_dir.join(FILE)).ok()?;
        let rest = bytes.strip_prefix(HEADER)?;
        let newline = rest.iter().position(|&b| b == b'\n')?;
        let (digest, out) = (&rest[..newline], &rest[newline + 1..]);
        let status = StatusV2::parse(out).ok()?;
        let now = self.fingerprint(global, &ignored_of(out), &status)?;
        (hex(&now.digest).as_bytes() == digest).then_some(status)
    }

    /// Keep `out` with the fingerprint of now, if every entry is older
    /// than `t0`; best effort (a read-only git folder keeps nothing).
    fn remember(
        &self,
        mut file: tempfile::NamedTempFile,
        t0: stamp::Time,
        global: &[u8; 32],
        out: &[u8],
        status: &StatusV2,
    ) {
        use std::io::Write;
        let Some(print) = self.fingerprint(global, &ignored_of(out), status) else {
            return;
        };
        if print.newest >= t0 {
            return;
        }
        let written = file
            .write_all(HEADER)
            .and_then(|()| file.write_all(hex(&print.digest).as_bytes()))
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.write_all(out));
        if written.is_ok() {
            let _ = file.persist(self.git_dir.join(FILE));
        }
    }

    /// The fingerprint of the work tree and the git files `status` depends
    /// on; `None` when something in them cannot be fingerprinted.
    fn fingerprint(
        &self,
        global: &[u8; 32],
        ignored: &BTreeSet<Vec<u8>>,
        status: &StatusV2,
    ) -> Option<Fingerprint> {
        let mut print = Printer::default();
        print.bytes(global);
        print.bytes(self.root.as_os_str().as_encoded_bytes());
        if self.root.join(".gitmodules").exists() {
            return None;
        }
        self.print_git_files(&mut print, status)?;
        walk(&self.root, b"", ignored, &mut print)?;
        Some(print.finish())
    }

    fn print_git_files(&self, print: &mut Printer, status: &StatusV2) -> Option<()> {
        // Small files whose content decides the answer.
        // `config.worktree` is read too when `extensions.worktreeConfig` is on.
        for name in ["config", "config.worktree"] {
            print.contents(&self.git_dir.join(name), Kind::Config)?;
        }
        for name in ["HEAD", "info/exclude", "info/attributes"] {
            print.contents(&self.git_dir.join(name), Kind::Plain)?;
        }
        // Files rewritten whole (through a lock file) when they change.
        for name in ["index", "packed-refs", "shallow", "info/grafts"] {
            print.stat(&self.git_dir.join(name))?;
        }
        // Every ref update renames a lock file into its folder, which
        // changes the folder's times: the folders say when any ref moved.
        for folder in ["refs", "reftable"] {
            walk_folders(&self.git_dir.join(folder), print)?;
        }
        // The refs of HEAD's branch and its upstream, wherever they live.
        if let Some(Some(branch)) = &status.branch {
            print.stat(&self.git_dir.join("refs/heads").join(branch))?;
        }
        if let Some((upstream, _)) = &status.upstream {
            print.stat(&self.git_dir.join("refs/remotes").join(upstream))?;
            print.stat(&self.git_dir.join("refs/heads").join(upstream))?;
        }
        Some(())
    }
}

/// Remove the markers of runs killed before they finished (an hour old:
/// a younger one may be another run's, still at work).
fn sweep_old_markers(git_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(git_dir) else {
        return;
    };
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < hour_ago);
        if old
            && entry
                .file_name()
                .as_encoded_bytes()
                .starts_with(b".concord-status")
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The paths `git status --ignored=matching` named as ignored (folders end
/// with `/`).
fn ignored_of(out: &[u8]) -> BTreeSet<Vec<u8>> {
    out.split(|&b| b == 0)
        .filter_map(|record| record.strip_prefix(b"! "))
        .map(<[u8]>::to_vec)
        .collect()
}

/// Every file and folder under `folder` (`prefix` is its path in the work
/// tree, with a trailing `/` unless it is the root), in name order, except
/// the git folder and what git ignores. `None` at a nested repository.
fn walk(
    folder: &Path,
    prefix: &[u8],
    ignored: &BTreeSet<Vec<u8>>,
    print: &mut Printer,
) -> Option<()> {
    let mut entries: Vec<(Vec<u8>, PathBuf)> = std::fs::read_dir(folder)
        .ok()?
        .map(|entry| {
            let entry = entry.ok()?;
            Some((entry.file_name().as_encoded_bytes().to_vec(), entry.path()))
        })
        .collect::<Option<_>>()?;
    entries.sort_unstable();
    for (name, path) in entries {
        if name == b".git" {
            if prefix.is_empty() {
                continue;
            }
            return None; // a submodule or a nested repository
        }
        let mut relative = prefix.to_vec();
        relative.extend_from_slice(&name);
        let meta = std::fs::symlink_metadata(&path).ok()?;
        let is_dir = meta.is_dir();
        if is_dir {
            relative.push(b'/');
        }
        if ignored.contains(&relative) {
            continue;
        }
        print.bytes(&relative);
        print.meta(&meta);
        if is_dir {
            walk(&path, &relative, ignored, print)?;
        }
    }
    Some(())
}

/// The stat data of `folder` and every folder under it (none if missing).
fn walk_folders(folder: &Path, print: &mut Printer) -> Option<()> {
    match std::fs::symlink_metadata(folder) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            print.bytes(b"-");
            return Some(());
        }
        Err(_) => return None,
        Ok(meta) => print.meta(&meta),
    }
    let mut folders: Vec<PathBuf> = std::fs::read_dir(folder)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    folders.sort_unstable();
    for sub in folders {
        print.bytes(sub.as_os_str().as_encoded_bytes());
        walk_folders(&sub, print)?;
    }
    Some(())
}

/// The user's and the system's git configuration, ignore and attribute
/// files, and the git binary; `None` turns the memory off (a variable or a
/// setting points git at files not followed here). Read on every call (a
/// few small files, some 30 µs): a long-running `concord serve` must see
/// an edit of the user's configuration at once.
fn global_fingerprint() -> Option<[u8; 32]> {
    compute_global()
}

fn compute_global() -> Option<[u8; 32]> {
    if !cfg!(unix) || CONFIG_ENV.iter().any(|v| std::env::var_os(v).is_some()) {
        return None;
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|x| !x.is_empty())
        .map(PathBuf::from);
    global_for(home.as_deref(), xdg.as_deref(), first_git().as_deref())
}

/// The fingerprint of the files git reads besides the repo's own, for a
/// user whose home and XDG configuration folder are these and whose
/// `git` is `git`.
fn global_for(home: Option<&Path>, xdg: Option<&Path>, git: Option<&Path>) -> Option<[u8; 32]> {
    let xdg = xdg
        .map(Path::to_path_buf)
        .or_else(|| home.map(|h| h.join(".config")));
    let mut files: Vec<(PathBuf, Kind)> = Vec::new();
    if let Some(home) = home {
        files.push((home.join(".gitconfig"), Kind::Config));
    }
    if let Some(xdg) = &xdg {
        files.push((xdg.join("git/config"), Kind::Config));
        files.push((xdg.join("git/ignore"), Kind::Plain));
        files.push((xdg.join("git/attributes"), Kind::Plain));
    }
    // The system files live under the prefix git was built with: /etc
    // for a distribution's git, <prefix>/etc for one built from source.
    let mut etcs = vec![PathBuf::from("/etc")];
    if let Some(prefix) = git.and_then(Path::parent).and_then(Path::parent) {
        etcs.push(prefix.join("etc"));
    }
    for etc in etcs {
        files.push((etc.join("gitconfig"), Kind::Config));
        files.push((etc.join("gitattributes"), Kind::Plain));
    }
    let mut print = Printer::default();
    for (file, kind) in &files {
        print.bytes(file.as_os_str().as_encoded_bytes());
        print.contents(file, *kind)?;
    }
    if let Some(git) = git {
        print.bytes(git.as_os_str().as_encoded_bytes());
        print.stat(git)?;
    }
    Some(print.finish().digest)
}

/// The `git` that `PATH` finds first.
fn first_git() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("git"))
        .find(|git| git.is_file())
}

/// Whether a file is git configuration (checked for settings that name
/// other files).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Config,
    Plain,
}

struct Fingerprint {
    digest: [u8; 32],
    /// The latest modification or change time of any entry.
    newest: stamp::Time,
}

/// Feeds entries into one digest, each closed by a separator so that no
/// two different sequences read alike.
#[derive(Default)]
struct Printer {
    hasher: Sha256,
    newest: stamp::Time,
}

impl Printer {
    fn bytes(&mut self, bytes: &[u8]) {
        self.hasher.update((bytes.len() as u64).to_le_bytes());
        self.hasher.update(bytes);
    }

    fn meta(&mut self, meta: &std::fs::Metadata) {
        let (fields, newest) = stamp::of(meta);
        for field in fields {
            self.hasher.update(field.to_le_bytes());
        }
        self.newest = self.newest.max(newest);
    }

    /// A file's stat data, or that it is missing; `None` if unreadable.
    fn stat(&mut self, path: &Path) -> Option<()> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) => self.meta(&meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.bytes(b"-"),
            Err(_) => return None,
        }
        Some(())
    }

    /// A small file's content and stat data, or that it is missing;
    /// `None` if unreadable or, for configuration, if it points at files
    /// not followed here.
    fn contents(&mut self, path: &Path, kind: Kind) -> Option<()> {
        match std::fs::read(path) {
            Ok(content) => {
                if kind == Kind::Config && names_other_files(&content) {
                    return None;
                }
                self.bytes(&content);
                self.stat(path)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.bytes(b"-");
                Some(())
            }
            Err(_) => None,
        }
    }

    fn finish(self) -> Fingerprint {
        Fingerprint {
            digest: self.hasher.finalize().into(),
            newest: self.newest,
        }
    }
}

/// Whether configuration text has a setting that points git at files not
/// followed here (any case, as git's keys are).
fn names_other_files(config: &[u8]) -> bool {
    let lower = String::from_utf8_lossy(config).to_ascii_lowercase();
    UNFOLLOWED_CONFIG.iter().any(|word| lower.contains(word))
}

fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stat data as numbers.
mod stamp {
    /// Seconds and nanoseconds since the epoch.
    pub type Time = (i64, i64);

    #[cfg(unix)]
    pub fn of(meta: &std::fs::Metadata) -> ([i64; 8], Time) {
        use std::os::unix::fs::MetadataExt;
        let mtime = (meta.mtime(), meta.mtime_nsec());
        let ctime = (meta.ctime(), meta.ctime_nsec());
        let fields = [
            meta.dev() as i64,
            meta.ino() as i64,
            i64::from(meta.mode()),
            meta.size() as i64,
            mtime.0,
            mtime.1,
            ctime.0,
            ctime.1,
        ];
        (fields, mtime.max(ctime))
    }

    #[cfg(unix)]
    pub fn mtime(meta: &std::fs::Metadata) -> Time {
        use std::os::unix::fs::MetadataExt;
        (meta.mtime(), meta.mtime_nsec())
    }

    // Without Unix stat data the cache is off (`compute_global`).
    #[cfg(not(unix))]
    pub fn of(_: &std::fs::Metadata) -> ([i64; 8], Time) {
        ([0; 8], (i64::MAX, 0))
    }

    #[cfg(not(unix))]
    pub fn mtime(_: &std::fs::Metadata) -> Time {
        (i64::MIN, 0)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_users_git_files_are_fingerprinted_and_an_include_turns_memory_off() {
        let home = tempfile::tempdir().expect("home");
        let (h, git) = (Some(home.path()), None);
        let none = global_for(h, None, git).expect("no files: a fingerprint");
        std::fs::write(
            home.path().join(".gitconfig"),
            "[core]\n\tautocrlf = true\n",
        )
        .expect("w");
        let config = global_for(h, None, git).expect("plain config");
        assert_ne!(none, config);
        std::fs::create_dir_all(home.path().join(".config/git")).expect("mkdir");
        std::fs::write(home.path().join(".config/git/ignore"), "*.log\n").expect("w");
        let ignore = global_for(h, None, git).expect("an ignore file");
        assert_ne!(config, ignore);
        // Settings that point git at files not followed here: no memory.
        for text in [
            "[include]\n\tpath = more.gitconfig\n",
            "[includeIf \"gitdir:~/work/\"]\n\tpath = work\n",
            "[core]\n\texcludesFile = ~/.gitignore_global\n",
            "[core]\n\tattributesfile = ~/.attrs\n",
        ] {
            std::fs::write(home.path().join(".gitconfig"), text).expect("w");
            assert_eq!(global_for(h, None, git), None, "{text}");
        }
    }

    #[test]
    fn a_killed_runs_marker_is_swept_and_a_young_one_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let (old, young) = (
            dir.path().join(".concord-statusOLD"),
            dir.path().join(".concord-statusNEW"),
        );
        std::fs::write(&old, "").expect("w");
        std::fs::write(&young, "").expect("w");
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .and_then(|f| f.set_modified(two_hours_ago))
            .expect("age it");
        sweep_old_markers(dir.path());
        assert!(!old.exists());
        assert!(young.exists());
    }
}
