//! The git adapter against real repositories in temporary folders: a bare
//! "remote" and clones of it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::{git, git_output, write};
use concord_git::{BlockerKind, FetchOutcome, GitError, Repo};
use tempfile::TempDir;

fn configure(dir: &Path) {
    git(dir, &["config", "user.name", "Test User"]);
    git(dir, &["config", "user.email", "test@example.com"]);
    git(dir, &["config", "commit.gpgsign", "false"]);
}

fn commit_file(dir: &Path, path: &str, text: &str, message: &str) -> String {
    write(dir, path, text);
    git(dir, &["add", "--", path]);
    git(dir, &["commit", "--quiet", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// A single repository with one commit on `main`.
fn single() -> (TempDir, PathBuf) {
    let tmp = TempDir::new().expect("temp dir");
    let dir = tmp.path().join("repo");
    fs::create_dir(&dir).expect("mkdir");
    git(&dir, &["init", "--quiet", "-b", "main"]);
    configure(&dir);
    commit_file(&dir, "README.md", "hello\n", "initial");
    (tmp, dir)
}

/// A bare remote with one commit on `main` and two clones of it, `a` and `b`.
struct Remote {
    _tmp: TempDir,
    bare: PathBuf,
    a: PathBuf,
    b: PathBuf,
}

fn remote_and_two_clones() -> Remote {
    let tmp = TempDir::new().expect("temp dir");
    let root = tmp.path();
    let bare = root.join("remote.git");
    git(
        root,
        &["init", "--quiet", "--bare", "-b", "main", "remote.git"],
    );
    let seed = root.join("seed");
    fs::create_dir(&seed).expect("mkdir");
    git(&seed, &["init", "--quiet", "-b", "main"]);
    configure(&seed);
    commit_file(&seed, "notes/a.md", "one\n", "initial");
    git(
        &seed,
        &[
            "remote",
            "add",
            "origin",
            bare.to_str().expect("utf-8 temp path"),
        ],
    );
    git(&seed, &["push", "--quiet", "-u", "origin", "main"]);
    let clone = |name: &str| {
        git(
            root,
            &["clone", "--quiet", bare.to_str().expect("utf-8"), name],
        );
        let dir = root.join(name);
        configure(&dir);
        dir
    };
    let (a, b) = (clone("a"), clone("b"));
    Remote {
        _tmp: tmp,
        bare,
        a,
        b,
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn staged(dir: &Path) -> String {
    git(dir, &["diff", "--cached", "--name-only"])
}

fn status(dir: &Path) -> String {
    git(dir, &["status", "--porcelain=v1", "--untracked-files=all"])
}

// ----- open -----

#[test]
fn open_on_a_folder_outside_any_repo_fails_clearly() {
    let tmp = TempDir::new().expect("temp dir");
    let err = Repo::open(tmp.path()).expect_err("not a repo");
    assert!(matches!(err, GitError::NotAWorkTree { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("is not inside a git work tree"),
        "{message}"
    );
    assert!(message.contains("not a git repository"), "{message}");

    let err = Repo::open(&tmp.path().join("missing")).expect_err("missing folder");
    assert!(matches!(err, GitError::NotAWorkTree { .. }), "{err:?}");
}

#[test]
fn open_from_a_subfolder_finds_the_work_tree_root() {
    let (_tmp, dir) = single();
    fs::create_dir(dir.join("sub")).expect("mkdir");
    let repo = Repo::open(&dir.join("sub")).expect("opens");
    assert_eq!(
        repo.root().canonicalize().expect("canonical"),
        dir.canonicalize().expect("canonical")
    );
    // The top itself is opened without asking git: the same root.
    let top = Repo::open(&dir).expect("opens");
    assert_eq!(top.root(), repo.root());
    assert_eq!(top.head().expect("head"), repo.head().expect("head"));
}

#[test]
fn head_is_none_on_an_unborn_branch() {
    let tmp = TempDir::new().expect("temp dir");
    git(tmp.path(), &["init", "--quiet", "-b", "main"]);
    let repo = Repo::open(tmp.path()).expect("opens");
    assert_eq!(repo.head().expect("head"), None);
    let state = repo.state().expect("state");
    assert_eq!(state.branch.as_deref(), Some("main"));
    assert_eq!(
        (state.upstream.as_deref(), state.behind, state.ahead),
        (None, 0, 0)
    );
    assert_eq!(state.write_blocker(), None);
    assert_eq!(repo.changed_since("HEAD").expect("changed"), None);
}

// ----- state, fetch, pull, push -----

#[test]
fn clean_clone_is_up_to_date_and_writable() {
    let remote = remote_and_two_clones();
    let repo = Repo::open(&remote.a).expect("opens");
    let state = repo.state().expect("state");
    assert_eq!(
        state.head.as_deref(),
        Some(git(&remote.a, &["rev-parse", "HEAD"]).as_str())
    );
    assert_eq!(state.branch.as_deref(), Some("main"));
    assert_eq!(state.upstream.as_deref(), Some("origin/main"));
    assert_eq!((state.behind, state.ahead), (0, 0));
    assert_eq!(state.operation, None);
    assert!(!state.index_locked);
    assert_eq!(state.write_blocker(), None);
}

#[test]
fn behind_is_detected_after_the_other_clone_pushes_and_a_fetch() {
    let remote = remote_and_two_clones();
    commit_file(&remote.b, "notes/b.md", "from b\n", "b 1");
    commit_file(&remote.b, "notes/b.md", "from b again\n", "b 2");
    git(&remote.b, &["push", "--quiet"]);

    let repo = Repo::open(&remote.a).expect("opens");
    assert_eq!(
        repo.state().expect("state").behind,
        0,
        "not known before a fetch"
    );
    assert_eq!(repo.fetch(Duration::from_secs(20)), FetchOutcome::Fetched);
    let state = repo.state().expect("state");
    assert_eq!((state.behind, state.ahead), (2, 0));
    let blocker = state.write_blocker().expect("stale blocks writes");
    assert_eq!(blocker.kind, BlockerKind::Stale);
    assert!(
        blocker.message.contains("behind origin/main by 2 commits"),
        "{}",
        blocker.message
    );
    assert!(
        blocker.message.contains("pull --ff-only"),
        "{}",
        blocker.message
    );
}

#[test]
fn ahead_is_counted_and_does_not_block() {
    let remote = remote_and_two_clones();
    commit_file(&remote.a, "notes/a.md", "changed\n", "local");
    let repo = Repo::open(&remote.a).expect("opens");
    let state = repo.state().expect("state");
    assert_eq!((state.behind, state.ahead), (0, 1));
    assert_eq!(state.write_blocker(), None);
}

#[test]
fn diverged_clone_is_stale_and_pull_ff_only_fails_with_gits_message() {
    let remote = remote_and_two_clones();
    commit_file(&remote.b, "notes/b.md", "from b\n", "b");
    git(&remote.b, &["push", "--quiet"]);
    commit_file(&remote.a, "notes/a2.md", "from a\n", "a");
    let repo = Repo::open(&remote.a).expect("opens");
    assert_eq!(repo.fetch(Duration::from_secs(20)), FetchOutcome::Fetched);
    let state = repo.state().expect("state");
    assert_eq!((state.behind, state.ahead), (1, 1));
    let blocker = state.write_blocker().expect("blocks");
    assert_eq!(blocker.kind, BlockerKind::Stale);
    assert!(blocker.message.contains("diverged"), "{}", blocker.message);

    let err = repo.pull_ff_only().expect_err("cannot fast-forward");
    let GitError::Failed {
        command, stderr, ..
    } = &err
    else {
        panic!("expected Failed, got {err:?}");
    };
    assert!(command.contains("pull --ff-only"), "{command}");
    assert!(stderr.to_lowercase().contains("fast-forward"), "{stderr}");
}

#[test]
fn pull_ff_only_brings_the_clone_up_to_date() {
    let remote = remote_and_two_clones();
    let pushed = commit_file(&remote.b, "notes/b.md", "from b\n", "b");
    git(&remote.b, &["push", "--quiet"]);
    let repo = Repo::open(&remote.a).expect("opens");
    repo.pull_ff_only().expect("pulls");
    let state = repo.state().expect("state");
    assert_eq!(state.head.as_deref(), Some(pushed.as_str()));
    assert_eq!((state.behind, state.ahead), (0, 0));
    assert_eq!(
        fs::read_to_string(remote.a.join("notes/b.md")).expect("read"),
        "from b\n"
    );
}

#[test]
fn push_publishes_the_branch_to_its_upstream() {
    let remote = remote_and_two_clones();
    let id = commit_file(&remote.a, "notes/a.md", "pushed\n", "a");
    let repo = Repo::open(&remote.a).expect("opens");
    repo.push().expect("pushes");
    assert_eq!(git(&remote.bare, &["rev-parse", "main"]), id);
    assert_eq!(repo.state().expect("state").ahead, 0);
}

#[test]
fn push_without_upstream_is_a_clear_error() {
    let (_tmp, dir) = single();
    let repo = Repo::open(&dir).expect("opens");
    let err = repo.push().expect_err("no upstream");
    assert!(matches!(err, GitError::NoUpstream { .. }), "{err:?}");
    assert!(err.to_string().contains("push -u"), "{err}");
}

#[test]
fn fetch_without_upstream_is_no_upstream() {
    let (_tmp, dir) = single();
    let repo = Repo::open(&dir).expect("opens");
    assert_eq!(repo.fetch(Duration::from_secs(5)), FetchOutcome::NoUpstream);
    git(&dir, &["switch", "--quiet", "--detach", "HEAD"]);
    assert_eq!(repo.fetch(Duration::from_secs(5)), FetchOutcome::NoUpstream);
}

#[test]
fn fetch_from_an_unreachable_remote_fails_quickly_without_error() {
    let remote = remote_and_two_clones();
    let missing = remote.bare.with_file_name("gone.git");
    git(
        &remote.a,
        &[
            "remote",
            "set-url",
            "origin",
            missing.to_str().expect("utf-8"),
        ],
    );
    let repo = Repo::open(&remote.a).expect("opens");
    let started = Instant::now();
    let outcome = repo.fetch(Duration::from_secs(20));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let FetchOutcome::Failed(message) = outcome else {
        panic!("expected Failed, got {outcome:?}");
    };
    assert!(message.contains("fetch"), "{message}");
    // Still usable offline.
    assert_eq!(repo.state().expect("state").write_blocker(), None);
}

#[test]
fn fetch_from_a_hanging_remote_is_stopped_at_the_timeout() {
    let remote = remote_and_two_clones();
    // The local transport runs `uploadpack` through the shell: make it hang.
    git(
        &remote.a,
        &[
            "config",
            "remote.origin.uploadpack",
            "sleep 60; git-upload-pack",
        ],
    );
    let repo = Repo::open(&remote.a).expect("opens");
    let started = Instant::now();
    let outcome = repo.fetch(Duration::from_millis(700));
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(700), "took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    let FetchOutcome::Failed(message) = outcome else {
        panic!("expected Failed, got {outcome:?}");
    };
    assert!(message.contains("timed out"), "{message}");
}

// ----- dirty paths -----

#[test]
fn dirty_paths_lists_modified_staged_untracked_and_renamed_files() {
    let (_tmp, dir) = single();
    commit_file(&dir, "old name.md", "to be renamed\n", "two");
    commit_file(&dir, "keep.md", "keep\n", "three");
    let repo = Repo::open(&dir).expect("opens");
    assert_eq!(repo.dirty_paths().expect("dirty"), BTreeSet::new());

    write(&dir, "README.md", "modified\n");
    write(&dir, "staged file.md", "staged\n");
    git(&dir, &["add", "--", "staged file.md"]);
    write(&dir, "deep/dir/ünïcödé 名前.md", "untracked\n");
    write(&dir, "star*.md", "untracked\n");
    git(&dir, &["mv", "old name.md", "new name.md"]);
    fs::write(dir.join("ignored.log"), "x").expect("write");
    write(&dir, ".gitignore", "*.log\n");

    assert_eq!(
        repo.dirty_paths().expect("dirty"),
        set(&[
            ".gitignore",
            "README.md",
            "deep/dir/ünïcödé 名前.md",
            "new name.md",
            "old name.md",
            "staged file.md",
            "star*.md",
        ])
    );
}

// ----- changed since -----

#[test]
fn changed_since_includes_a_change_two_commits_behind_head() {
    let (_tmp, dir) = single();
    let watermark = git(&dir, &["rev-parse", "HEAD"]);
    commit_file(&dir, "dir/first change.md", "1\n", "first");
    commit_file(&dir, "ünï.md", "2\n", "second");
    git(&dir, &["mv", "README.md", "READ ME.md"]);
    git(&dir, &["commit", "--quiet", "-m", "rename"]);
    let repo = Repo::open(&dir).expect("opens");
    assert_eq!(
        repo.changed_since(&watermark).expect("changed"),
        Some(set(&[
            "READ ME.md",
            "README.md",
            "dir/first change.md",
            "ünï.md"
        ]))
    );
    let head = repo.head().expect("head").expect("born");
    assert_eq!(
        repo.changed_since(&head).expect("changed"),
        Some(BTreeSet::new())
    );
}

#[test]
fn changed_since_an_unknown_commit_is_none() {
    let (_tmp, dir) = single();
    let repo = Repo::open(&dir).expect("opens");
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    assert_eq!(repo.changed_since(unknown).expect("changed"), None);
    assert_eq!(repo.changed_since("not-a-ref").expect("changed"), None);
    assert_eq!(repo.changed_since("--output=x").expect("changed"), None);
    assert_eq!(repo.changed_since("").expect("changed"), None);
}

#[test]
fn changed_since_after_history_was_rewritten_is_none() {
    let (_tmp, dir) = single();
    let base = git(&dir, &["rev-parse", "HEAD"]);
    let watermark = commit_file(&dir, "a.md", "a\n", "will be dropped");
    git(&dir, &["reset", "--quiet", "--hard", &base]);
    commit_file(&dir, "b.md", "b\n", "replacement");
    let repo = Repo::open(&dir).expect("opens");
    assert_eq!(repo.changed_since(&watermark).expect("changed"), None);
    assert!(repo.changed_since(&base).expect("changed").is_some());
}

// ----- commit paths -----

#[test]
fn commit_paths_commits_only_the_given_paths_and_keeps_the_users_changes() {
    let (_tmp, dir) = single();
    commit_file(&dir, "user.md", "user\n", "two");
    commit_file(&dir, "concord/out.md", "old\n", "three");
    // The user's work in progress: one staged file, one unstaged change.
    write(&dir, "staged by user.md", "staged\n");
    git(&dir, &["add", "--", "staged by user.md"]);
    write(&dir, "user.md", "unstaged edit\n");
    // What concord wrote: a changed tracked file and a new one.
    write(&dir, "concord/out.md", "new\n");
    write(&dir, "concord/nëw [1].md", "fresh\n");

    let status_before = status(&dir);
    assert_eq!(staged(&dir), "staged by user.md");

    let repo = Repo::open(&dir).expect("opens");
    let paths = vec!["concord/out.md".to_owned(), "concord/nëw [1].md".to_owned()];
    let id = repo
        .commit_paths(&paths, "concord: sync")
        .expect("commits")
        .expect("a commit");
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), id);
    assert_eq!(
        repo.first_parent(&id).expect("parent"),
        Some(git(&dir, &["rev-parse", "HEAD~1"]))
    );
    let root = git(&dir, &["rev-list", "--max-parents=0", "HEAD"]);
    assert_eq!(repo.first_parent(&root).expect("root"), None);

    let committed = git(&dir, &["show", "--name-only", "-z", "--format=", "HEAD"]);
    let committed: BTreeSet<String> = committed
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    assert_eq!(committed, set(&["concord/nëw [1].md", "concord/out.md"]));
    assert_eq!(git(&dir, &["show", "HEAD:concord/out.md"]), "new");

    // The user's changes are exactly as they were: staged stays staged,
    // unstaged stays unstaged.
    assert_eq!(staged(&dir), "staged by user.md");
    let users_lines = |status: &str| -> Vec<String> {
        status
            .lines()
            .filter(|line| !line.contains("concord/"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(users_lines(&status_before), users_lines(&status(&dir)));
    assert_eq!(status(&dir), "A  \"staged by user.md\"\n M user.md");
    assert_eq!(
        fs::read_to_string(dir.join("user.md")).expect("read"),
        "unstaged edit\n"
    );
}

#[test]
fn commit_paths_keeps_the_message_exactly() {
    let (_tmp, dir) = single();
    write(&dir, "out.md", "x\n");
    let repo = Repo::open(&dir).expect("opens");
    let message =
        "concord: sync 3 files\n\n  Indented body line.  \n# not a comment\n\n\nLast line";
    repo.commit_paths(&["out.md".to_owned()], message)
        .expect("commits")
        .expect("a commit");
    let raw = git_output(&dir, &["cat-file", "commit", "HEAD"]).stdout;
    let raw = String::from_utf8(raw).expect("utf-8");
    let (_, body) = raw.split_once("\n\n").expect("headers then message");
    assert_eq!(body, message);
}

#[test]
fn commit_paths_with_nothing_to_commit_is_none() {
    let (_tmp, dir) = single();
    let repo = Repo::open(&dir).expect("opens");
    let head = repo.head().expect("head");
    assert_eq!(repo.commit_paths(&[], "nothing").expect("ok"), None);
    assert_eq!(
        repo.commit_paths(&["README.md".to_owned()], "unchanged")
            .expect("ok"),
        None
    );
    assert_eq!(repo.head().expect("head"), head);
}

#[test]
fn commit_paths_commits_a_deletion_and_works_on_an_unborn_branch() {
    let tmp = TempDir::new().expect("temp dir");
    let dir = tmp.path();
    git(dir, &["init", "--quiet", "-b", "main"]);
    configure(dir);
    write(dir, "first.md", "1\n");
    write(dir, "other.md", "not mine\n");
    let repo = Repo::open(dir).expect("opens");
    let first = repo
        .commit_paths(&["first.md".to_owned()], "first")
        .expect("commits")
        .expect("a commit");
    assert_eq!(repo.head().expect("head").as_deref(), Some(first.as_str()));
    assert_eq!(status(dir), "?? other.md");

    fs::remove_file(dir.join("first.md")).expect("rm");
    repo.commit_paths(&["first.md".to_owned()], "delete")
        .expect("commits")
        .expect("a commit");
    assert_eq!(git(dir, &["ls-files"]), "");
    assert_eq!(status(dir), "?? other.md");
}

#[test]
fn commit_paths_failing_hook_leaves_the_index_as_it_was() {
    let (_tmp, dir) = single();
    let hook = dir.join(".git/hooks/pre-commit");
    fs::write(&hook, "#!/bin/sh\necho 'hook says no' >&2\nexit 1\n").expect("write hook");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    write(&dir, "new.md", "x\n");
    let repo = Repo::open(&dir).expect("opens");
    let head = repo.head().expect("head");
    let err = repo
        .commit_paths(&["new.md".to_owned()], "blocked")
        .expect_err("the hook refuses");
    assert!(err.to_string().contains("hook says no"), "{err}");
    assert_eq!(repo.head().expect("head"), head);
    assert_eq!(status(&dir), "?? new.md");
}

// ----- write blockers -----

#[test]
fn detached_head_blocks_writes() {
    let (_tmp, dir) = single();
    git(&dir, &["switch", "--quiet", "--detach", "HEAD"]);
    let state = Repo::open(&dir).expect("opens").state().expect("state");
    assert_eq!(state.branch, None);
    let blocker = state.write_blocker().expect("blocks");
    assert_eq!(blocker.kind, BlockerKind::Detached);
    assert!(blocker.message.contains("detached"), "{}", blocker.message);
    assert!(blocker.message.contains("switch"), "{}", blocker.message);
}

#[test]
fn merge_in_progress_blocks_writes() {
    let (_tmp, dir) = single();
    git(&dir, &["switch", "--quiet", "-c", "other"]);
    commit_file(&dir, "README.md", "theirs\n", "other side");
    git(&dir, &["switch", "--quiet", "main"]);
    commit_file(&dir, "README.md", "ours\n", "our side");
    let merge = git_output(&dir, &["merge", "--quiet", "other"]);
    assert!(!merge.status.success(), "the merge conflicts");

    let state = Repo::open(&dir).expect("opens").state().expect("state");
    assert_eq!(state.operation, Some("merge"));
    let blocker = state.write_blocker().expect("blocks");
    assert_eq!(blocker.kind, BlockerKind::Operation);
    assert!(
        blocker.message.contains("merge --abort"),
        "{}",
        blocker.message
    );
}

#[test]
fn rebase_in_progress_blocks_writes() {
    let (_tmp, dir) = single();
    git(&dir, &["switch", "--quiet", "-c", "other"]);
    commit_file(&dir, "README.md", "theirs\n", "other side");
    git(&dir, &["switch", "--quiet", "main"]);
    commit_file(&dir, "README.md", "ours\n", "our side");
    let rebase = git_output(&dir, &["rebase", "--quiet", "other"]);
    assert!(!rebase.status.success(), "the rebase conflicts");

    let state = Repo::open(&dir).expect("opens").state().expect("state");
    assert_eq!(state.operation, Some("rebase"));
    let blocker = state.write_blocker().expect("blocks");
    assert_eq!(blocker.kind, BlockerKind::Operation);
    assert!(
        blocker.message.contains("rebase --continue"),
        "{}",
        blocker.message
    );
}

#[test]
fn locked_index_blocks_writes() {
    let (_tmp, dir) = single();
    fs::write(dir.join(".git/index.lock"), "").expect("lock");
    let state = Repo::open(&dir).expect("opens").state().expect("state");
    assert!(state.index_locked);
    let blocker = state.write_blocker().expect("blocks");
    assert_eq!(blocker.kind, BlockerKind::IndexLocked);
    assert!(
        blocker.message.contains("index.lock"),
        "{}",
        blocker.message
    );
}

// ----- snapshot: state and dirty paths from one `git status` -----

/// `snapshot` agrees with `state` and `dirty_paths`; returns what it said.
fn snapshot_agrees(repo: &Repo) -> (concord_git::RepoState, BTreeSet<String>) {
    let (state, dirty) = repo.snapshot().expect("snapshot");
    assert_eq!(state, repo.state().expect("state"), "state");
    assert_eq!(
        dirty,
        repo.dirty_paths().expect("dirty paths"),
        "dirty paths"
    );
    (state, dirty)
}

#[test]
fn snapshot_of_a_clean_clone() {
    let remote = remote_and_two_clones();
    let repo = Repo::open(&remote.a).expect("opens");
    let (state, dirty) = snapshot_agrees(&repo);
    assert_eq!(
        state.head.as_deref(),
        Some(git(&remote.a, &["rev-parse", "HEAD"]).as_str())
    );
    assert_eq!(state.branch.as_deref(), Some("main"));
    assert_eq!(state.upstream.as_deref(), Some("origin/main"));
    assert_eq!((state.behind, state.ahead), (0, 0));
    assert_eq!(dirty, BTreeSet::new());
}

#[test]
fn snapshot_is_behind_after_a_fetch_and_diverged_when_also_ahead() {
    let remote = remote_and_two_clones();
    commit_file(&remote.b, "notes/b.md", "from b\n", "b 1");
    commit_file(&remote.b, "notes/b.md", "from b again\n", "b 2");
    git(&remote.b, &["push", "--quiet"]);
    let repo = Repo::open(&remote.a).expect("opens");
    let (state, _) = snapshot_agrees(&repo);
    assert_eq!(state.behind, 0, "not known before a fetch");
    assert_eq!(
        repo.fetch_upstream(state.upstream.as_deref(), Duration::from_secs(20)),
        FetchOutcome::Fetched
    );
    let (state, _) = snapshot_agrees(&repo);
    assert_eq!((state.behind, state.ahead), (2, 0));
    assert_eq!(
        state.write_blocker().map(|b| b.kind),
        Some(BlockerKind::Stale)
    );

    commit_file(&remote.a, "notes/a2.md", "from a\n", "a");
    let (state, _) = snapshot_agrees(&repo);
    assert_eq!((state.behind, state.ahead), (2, 1));
}

#[test]
fn snapshot_counts_ahead() {
    let remote = remote_and_two_clones();
    commit_file(&remote.a, "notes/a.md", "changed\n", "local 1");
    commit_file(&remote.a, "notes/a.md", "changed again\n", "local 2");
    let repo = Repo::open(&remote.a).expect("opens");
    let (state, _) = snapshot_agrees(&repo);
    assert_eq!((state.behind, state.ahead), (0, 2));
    assert_eq!(state.write_blocker(), None);
}

#[test]
fn snapshot_of_a_detached_head_has_no_branch_and_no_upstream() {
    let remote = remote_and_two_clones();
    commit_file(&remote.a, "notes/a.md", "changed\n", "local");
    git(&remote.a, &["switch", "--quiet", "--detach", "HEAD~1"]);
    let repo = Repo::open(&remote.a).expect("opens");
    let (state, _) = snapshot_agrees(&repo);
    assert_eq!(state.branch, None);
    assert_eq!(
        (state.upstream.as_deref(), state.behind, state.ahead),
        (None, 0, 0)
    );
    assert_eq!(
        state.write_blocker().map(|b| b.kind),
        Some(BlockerKind::Detached)
    );
}

#[test]
fn snapshot_of_an_unborn_branch_has_no_head() {
    let tmp = TempDir::new().expect("temp dir");
    git(tmp.path(), &["init", "--quiet", "-b", "main"]);
    let repo = Repo::open(tmp.path()).expect("opens");
    let (state, dirty) = snapshot_agrees(&repo);
    assert_eq!((state.head, state.branch.as_deref()), (None, Some("main")));
    assert_eq!(dirty, BTreeSet::new());

    write(tmp.path(), "first file.md", "x\n");
    write(tmp.path(), "staged.md", "y\n");
    git(tmp.path(), &["add", "staged.md"]);
    let (_, dirty) = snapshot_agrees(&repo);
    assert_eq!(dirty, set(&["first file.md", "staged.md"]));
}

#[test]
fn snapshot_of_an_unborn_clone_has_no_upstream() {
    // A clone of an empty repository: the upstream is configured, the
    // branch not born yet.
    let tmp = TempDir::new().expect("temp dir");
    git(
        tmp.path(),
        &["init", "--quiet", "--bare", "-b", "main", "empty.git"],
    );
    let output = git_output(tmp.path(), &["clone", "--quiet", "empty.git", "clone"]);
    assert!(output.status.success(), "clone");
    let repo = Repo::open(&tmp.path().join("clone")).expect("opens");
    let (state, _) = snapshot_agrees(&repo);
    assert_eq!(
        (state.head, state.upstream, state.behind, state.ahead),
        (None, None, 0, 0)
    );
}

#[test]
fn snapshot_with_a_gone_or_local_upstream() {
    let remote = remote_and_two_clones();
    let repo = Repo::open(&remote.a).expect("opens");
    git(
        &remote.a,
        &["switch", "--quiet", "-c", "topic", "--track", "origin/main"],
    );
    commit_file(&remote.a, "notes/t.md", "t\n", "topic");
    git(
        &remote.a,
        &["config", "branch.topic.merge", "refs/heads/gone"],
    );
    let (state, _) = snapshot_agrees(&repo);
    assert_eq!(
        (state.upstream.as_deref(), state.behind, state.ahead),
        (Some("origin/gone"), 0, 0)
    );

    git(
        &remote.a,
        &["branch", "--quiet", "--set-upstream-to", "main"],
    );
    let (state, _) = snapshot_agrees(&repo);
    assert_eq!(
        (state.upstream.as_deref(), state.behind, state.ahead),
        (Some("main"), 0, 1)
    );
    assert_eq!(
        repo.fetch_upstream(state.upstream.as_deref(), Duration::from_secs(20)),
        FetchOutcome::Fetched
    );
}

#[test]
fn snapshot_lists_renames_untracked_unicode_and_spaces_like_dirty_paths() {
    let (_tmp, dir) = single();
    commit_file(&dir, "old name.md", "to be renamed\n", "two");
    commit_file(
        &dir,
        "dir with space/ünï 名前.md",
        "rename me too\n",
        "three",
    );
    commit_file(&dir, "gone.md", "deleted\n", "four");
    commit_file(&dir, "copied.md", "copied\n", "five");
    let repo = Repo::open(&dir).expect("opens");
    assert_eq!(snapshot_agrees(&repo).1, BTreeSet::new());

    write(&dir, "README.md", "modified\n");
    write(&dir, "staged file.md", "staged\n");
    git(&dir, &["add", "--", "staged file.md"]);
    write(&dir, "staged file.md", "staged, then changed\n");
    write(&dir, "deep/dir/ünïcödé 名前.md", "untracked\n");
    write(&dir, "star*.md", "untracked\n");
    write(&dir, " leading and trailing .md", "untracked\n");
    git(&dir, &["mv", "old name.md", "new name.md"]);
    git(
        &dir,
        &["mv", "dir with space/ünï 名前.md", "ünï renamed.md"],
    );
    fs::remove_file(dir.join("gone.md")).expect("rm");
    fs::write(dir.join("ignored.log"), "x").expect("write");
    write(&dir, ".gitignore", "*.log\n");

    let expected = set(&[
        " leading and trailing .md",
        ".gitignore",
        "README.md",
        "deep/dir/ünïcödé 名前.md",
        "dir with space/ünï 名前.md",
        "gone.md",
        "new name.md",
        "old name.md",
        "staged file.md",
        "star*.md",
        "ünï renamed.md",
    ]);
    assert_eq!(snapshot_agrees(&repo).1, expected);

    // With copy detection (a copy of a changed file): a `C` entry.
    git(&dir, &["config", "status.renames", "copies"]);
    fs::copy(dir.join("copied.md"), dir.join("copy.md")).expect("copy");
    write(&dir, "copied.md", "copied\nand changed\n");
    git(&dir, &["add", "copy.md", "copied.md"]);
    assert!(
        git(&dir, &["status", "--porcelain=v2"]).contains(" C100 copy.md"),
        "a copy entry"
    );
    let mut with_copy = expected;
    with_copy.extend(["copy.md".to_owned(), "copied.md".to_owned()]);
    assert_eq!(snapshot_agrees(&repo).1, with_copy);
}

#[test]
fn snapshot_during_a_conflicted_merge_lists_unmerged_files() {
    let (_tmp, dir) = single();
    git(&dir, &["switch", "--quiet", "-c", "other"]);
    commit_file(&dir, "README.md", "theirs\n", "other side");
    git(&dir, &["switch", "--quiet", "main"]);
    commit_file(&dir, "README.md", "ours\n", "our side");
    let merge = git_output(&dir, &["merge", "--quiet", "other"]);
    assert!(!merge.status.success(), "the merge conflicts");
    let repo = Repo::open(&dir).expect("opens");
    let (state, dirty) = snapshot_agrees(&repo);
    assert_eq!(state.operation, Some("merge"));
    assert_eq!(dirty, set(&["README.md"]));
}

#[test]
fn snapshot_sees_a_rebase_and_a_locked_index() {
    let (_tmp, dir) = single();
    git(&dir, &["switch", "--quiet", "-c", "other"]);
    commit_file(&dir, "README.md", "theirs\n", "other side");
    git(&dir, &["switch", "--quiet", "main"]);
    commit_file(&dir, "README.md", "ours\n", "our side");
    let rebase = git_output(&dir, &["rebase", "--quiet", "other"]);
    assert!(!rebase.status.success(), "the rebase conflicts");
    let repo = Repo::open(&dir).expect("opens");
    let (state, _) = snapshot_agrees(&repo);
    assert_eq!((state.operation, state.branch), (Some("rebase"), None));

    git(&dir, &["rebase", "--abort"]);
    fs::write(dir.join(".git/index.lock"), "").expect("lock");
    let (state, _) = snapshot_agrees(&repo);
    assert_eq!((state.operation, state.index_locked), (None, true));
}

#[test]
fn a_linked_worktree_reports_its_own_operation_and_lock() {
    let (tmp, dir) = single();
    let linked = tmp.path().join("linked tree");
    git(
        &dir,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            "side",
            linked.to_str().expect("utf-8"),
        ],
    );
    git(&dir, &["switch", "--quiet", "-c", "other"]);
    commit_file(&dir, "README.md", "theirs\n", "other side");
    git(&dir, &["switch", "--quiet", "main"]);
    commit_file(&linked, "README.md", "ours\n", "linked side");
    let merge = git_output(&linked, &["merge", "--quiet", "other"]);
    assert!(!merge.status.success(), "the merge conflicts");
    // Where git keeps the linked worktree's files.
    let lock = PathBuf::from(git(
        &linked,
        &[
            "rev-parse",
            "--path-format=absolute",
            "--git-path",
            "index.lock",
        ],
    ));
    fs::write(&lock, "").expect("lock");

    let repo = Repo::open(&linked).expect("opens");
    let (state, dirty) = snapshot_agrees(&repo);
    assert_eq!(state.branch.as_deref(), Some("side"));
    assert_eq!((state.operation, state.index_locked), (Some("merge"), true));
    assert_eq!(dirty, set(&["README.md"]));

    let main = Repo::open(&dir).expect("opens");
    let (state, _) = snapshot_agrees(&main);
    assert_eq!(state.branch.as_deref(), Some("main"));
    assert_eq!((state.operation, state.index_locked), (None, false));
}

#[test]
fn open_refuses_a_bare_repository_and_the_git_directory() {
    let (_tmp, dir) = single();
    for folder in [dir.join(".git"), dir.join(".git/refs")] {
        let err = Repo::open(&folder).expect_err("not a work tree");
        assert!(matches!(err, GitError::NotAWorkTree { .. }), "{err:?}");
    }
    let remote = remote_and_two_clones();
    let err = Repo::open(&remote.bare).expect_err("bare");
    assert!(matches!(err, GitError::NotAWorkTree { .. }), "{err:?}");
}

#[test]
fn fetch_upstream_without_upstream_runs_nothing() {
    let remote = remote_and_two_clones();
    // A remote that would hang: `None` must not even try it.
    git(
        &remote.a,
        &[
            "config",
            "remote.origin.uploadpack",
            "sleep 60; git-upload-pack",
        ],
    );
    let repo = Repo::open(&remote.a).expect("opens");
    let started = Instant::now();
    assert_eq!(
        repo.fetch_upstream(None, Duration::from_secs(20)),
        FetchOutcome::NoUpstream
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    let outcome = repo.fetch_upstream(Some("origin/main"), Duration::from_millis(500));
    let FetchOutcome::Failed(message) = outcome else {
        panic!("expected Failed, got {outcome:?}");
    };
    assert!(message.contains("timed out"), "{message}");
}

#[test]
fn fetch_upstream_from_an_unreachable_remote_fails_without_error() {
    let remote = remote_and_two_clones();
    let missing = remote.bare.with_file_name("gone.git");
    git(
        &remote.a,
        &[
            "remote",
            "set-url",
            "origin",
            missing.to_str().expect("utf-8"),
        ],
    );
    let repo = Repo::open(&remote.a).expect("opens");
    let outcome = repo.fetch_upstream(Some("origin/main"), Duration::from_secs(20));
    let FetchOutcome::Failed(message) = outcome else {
        panic!("expected Failed, got {outcome:?}");
    };
    assert!(message.contains("fetch"), "{message}");
    assert!(message.contains("gone.git"), "{message}");
}

// ----- content for check: staged paths and content, commits' trees, first-added dates -----

/// An empty repository on an unborn `main`.
fn unborn() -> (TempDir, PathBuf) {
    let tmp = TempDir::new().expect("temp dir");
    let dir = tmp.path().join("repo");
    fs::create_dir(&dir).expect("mkdir");
    git(&dir, &["init", "--quiet", "-b", "main"]);
    configure(&dir);
    (tmp, dir)
}

fn write_bytes(dir: &Path, path: &str, bytes: &[u8]) {
    let path = dir.join(path);
    fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    fs::write(path, bytes).expect("write");
}

#[cfg(unix)]
fn symlink(dir: &Path, target: &str, link: &str) {
    std::os::unix::fs::symlink(target, dir.join(link)).expect("symlink");
}

/// `git commit --all` with pinned author and committer dates.
fn commit_dated(dir: &Path, message: &str, author_date: &str, committer_date: &str) {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args(["commit", "--quiet", "--allow-empty", "-m", message])
        .env("LC_ALL", "C")
        .env("GIT_AUTHOR_DATE", author_date)
        .env("GIT_COMMITTER_DATE", committer_date);
    for name in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"] {
        command.env_remove(name);
    }
    let output = command.output().expect("git runs");
    assert!(
        output.status.success(),
        "commit failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn staged_paths_lists_added_modified_renamed_not_deleted_or_unstaged() {
    let (_tmp, dir) = single();
    for name in [
        "old name.md",
        "gone.md",
        "modified.md",
        "unstaged.md",
        "typed.md",
    ] {
        commit_file(&dir, name, &format!("{name}\n"), name);
    }
    let repo = Repo::open(&dir).expect("opens");
    assert_eq!(repo.staged_paths().expect("staged"), Vec::<String>::new());

    write(&dir, "dir/ünï 名前 new.md", "new\n");
    write(&dir, "modified.md", "changed\n");
    git(&dir, &["add", "--", "dir/ünï 名前 new.md", "modified.md"]);
    git(&dir, &["mv", "old name.md", "new name.md"]);
    git(&dir, &["rm", "--quiet", "gone.md"]);
    write(&dir, "unstaged.md", "not staged\n");
    write(&dir, "untracked.md", "untracked\n");
    let mut expected = vec!["dir/ünï 名前 new.md", "modified.md", "new name.md"];
    #[cfg(unix)]
    {
        // A file turned into a symbolic link: a type change.
        fs::remove_file(dir.join("typed.md")).expect("rm");
        symlink(&dir, "README.md", "typed.md");
        git(&dir, &["add", "--", "typed.md"]);
        expected.push("typed.md");
    }
    assert_eq!(repo.staged_paths().expect("staged"), strings(&expected));
}

#[test]
fn staged_paths_on_an_unborn_branch_lists_every_staged_path() {
    let (_tmp, dir) = unborn();
    let repo = Repo::open(&dir).expect("opens");
    assert_eq!(repo.staged_paths().expect("staged"), Vec::<String>::new());
    write(&dir, "b.md", "b\n");
    write(&dir, "a dir/a.md", "a\n");
    write(&dir, "untracked.md", "u\n");
    git(&dir, &["add", "--", "b.md", "a dir/a.md"]);
    assert_eq!(
        repo.staged_paths().expect("staged"),
        strings(&["a dir/a.md", "b.md"])
    );
}

#[test]
fn read_staged_reads_the_index_not_the_work_tree() {
    let (_tmp, dir) = single();
    commit_file(&dir, "doc.md", "v0\n", "doc");
    // Staged v1, then edited to v2 without staging.
    write(&dir, "doc.md", "v1\n");
    git(&dir, &["add", "--", "doc.md"]);
    write(&dir, "doc.md", "v2\n");
    // Binary content with NULs and newlines, staged then changed.
    let binary: &[u8] = b"\0\x01\n\xff\xfe\n\nend\0\n";
    write_bytes(&dir, "bin/data.bin", binary);
    git(&dir, &["add", "--", "bin/data.bin"]);
    write_bytes(&dir, "bin/data.bin", b"other");
    let unicode = "dir with space/ünï 名前 [1].md";
    write(&dir, unicode, "unicode\n");
    write(&dir, "empty.md", "");
    git(&dir, &["add", "--", unicode, "empty.md"]);
    write(&dir, "untracked.md", "not in the index\n");

    let status_before = git(&dir, &["status", "--porcelain=v2", "--untracked-files=all"]);
    let index_before = fs::read(dir.join(".git/index")).expect("index");

    let repo = Repo::open(&dir).expect("opens");
    let asked = strings(&[
        "doc.md",
        "bin/data.bin",
        unicode,
        "README.md",
        "empty.md",
        "missing.md",
        "untracked.md",
        "doc.md",
        // Not nameable on a `cat-file --batch` line: skipped, never fatal.
        "",
        "../outside.md",
        "./doc.md",
        "dir with space/../doc.md",
        "doc.md\r",
        "two\nlines.md",
    ]);
    let read = repo.read_staged(&asked).expect("reads");
    let expected: Vec<(String, Vec<u8>)> = vec![
        ("README.md".into(), b"hello\n".to_vec()),
        ("bin/data.bin".into(), binary.to_vec()),
        (unicode.into(), b"unicode\n".to_vec()),
        ("doc.md".into(), b"v1\n".to_vec()),
        ("empty.md".into(), Vec::new()),
    ];
    assert_eq!(read, expected);
    assert_eq!(repo.read_staged(&[]).expect("reads"), Vec::new());

    // Nothing was touched.
    assert_eq!(
        fs::read_to_string(dir.join("doc.md")).expect("read"),
        "v2\n"
    );
    assert_eq!(fs::read(dir.join("bin/data.bin")).expect("read"), b"other");
    assert_eq!(
        git(&dir, &["status", "--porcelain=v2", "--untracked-files=all"]),
        status_before
    );
    assert_eq!(
        fs::read(dir.join(".git/index")).expect("index"),
        index_before
    );
}

#[cfg(unix)]
#[test]
fn read_staged_names_stage_zero_so_a_colon_path_is_not_a_stage() {
    let (_tmp, dir) = single();
    // `:2:x.md` would be stage 2 of `x.md`.
    write(&dir, "2:x.md", "colon\n");
    write(&dir, "x.md", "plain\n");
    git(&dir, &["add", "--", "2:x.md", "x.md"]);
    let repo = Repo::open(&dir).expect("opens");
    assert_eq!(
        repo.read_staged(&strings(&["2:x.md"])).expect("reads"),
        vec![("2:x.md".to_owned(), b"colon\n".to_vec())]
    );
}

#[test]
fn read_staged_skips_unmerged_paths() {
    let (_tmp, dir) = single();
    git(&dir, &["switch", "--quiet", "-c", "other"]);
    commit_file(&dir, "README.md", "theirs\n", "other side");
    git(&dir, &["switch", "--quiet", "main"]);
    commit_file(&dir, "README.md", "ours\n", "our side");
    commit_file(&dir, "clean.md", "clean\n", "clean");
    let merge = git_output(&dir, &["merge", "--quiet", "other"]);
    assert!(!merge.status.success(), "the merge conflicts");
    let repo = Repo::open(&dir).expect("opens");
    assert_eq!(repo.staged_paths().expect("staged"), Vec::<String>::new());
    assert_eq!(
        repo.read_staged(&strings(&["README.md", "clean.md"]))
            .expect("reads"),
        vec![("clean.md".to_owned(), b"clean\n".to_vec())]
    );
}

#[test]
fn resolve_commit_resolves_heads_branches_tags_and_short_ids() {
    let (_tmp, dir) = single();
    let first = git(&dir, &["rev-parse", "HEAD"]);
    git(&dir, &["tag", "light"]);
    git(&dir, &["tag", "-a", "-m", "annotated", "annotated"]);
    git(&dir, &["branch", "old-branch"]);
    let second = commit_file(&dir, "two.md", "2\n", "two");
    let repo = Repo::open(&dir).expect("opens");

    let resolve = |rev: &str| repo.resolve_commit(rev).expect("resolves");
    assert_eq!(resolve("HEAD"), Some(second.clone()));
    assert_eq!(resolve("main"), Some(second.clone()));
    assert_eq!(resolve("refs/heads/main"), Some(second.clone()));
    assert_eq!(resolve("old-branch"), Some(first.clone()));
    assert_eq!(resolve("light"), Some(first.clone()));
    assert_eq!(resolve("annotated"), Some(first.clone()), "peeled");
    assert_eq!(resolve("HEAD~1"), Some(first.clone()));
    assert_eq!(resolve(&second[..8]), Some(second.clone()));
    assert_eq!(resolve(&first), Some(first.clone()));

    assert_eq!(resolve("nope"), None);
    assert_eq!(resolve("origin/main"), None);
    assert_eq!(resolve("0123456789abcdef0123456789abcdef01234567"), None);
    // Something that is not a commit: an error saying so.
    let blob = git(&dir, &["rev-parse", "HEAD:two.md"]);
    for rev in ["HEAD^{tree}", blob.as_str()] {
        let err = repo.resolve_commit(rev).expect_err(rev);
        assert!(err.to_string().contains("expected commit type"), "{err}");
    }
    // Refused, never read as an option.
    assert_eq!(resolve("-x"), None);
    assert_eq!(resolve("--all"), None);
    assert_eq!(resolve(""), None);

    let (_tmp, empty) = unborn();
    let repo = Repo::open(&empty).expect("opens");
    assert_eq!(repo.resolve_commit("HEAD").expect("resolves"), None);
}

#[test]
fn tree_files_reads_an_older_commit_not_the_work_tree() {
    let (_tmp, dir) = single();
    write(&dir, "docs/a.md", "a v1\n");
    write(&dir, "docs/b ü.md", "b v1\n");
    write(&dir, "skip.txt", "not wanted\n");
    write(&dir, "tool.md", "#!/bin/sh\n");
    // A file of 1 MiB, every byte value, no text.
    let large: Vec<u8> = (0..(1usize << 20)).map(|i| (i * 7 % 256) as u8).collect();
    write_bytes(&dir, "large.md", &large);
    git(&dir, &["add", "--all"]);
    git(&dir, &["update-index", "--chmod=+x", "tool.md"]);
    #[cfg(unix)]
    {
        symlink(&dir, "docs/a.md", "link.md");
        git(&dir, &["add", "--", "link.md"]);
    }
    // A submodule entry (a commit id in the tree).
    let head = git(&dir, &["rev-parse", "HEAD"]);
    git(
        &dir,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{head},sub.md"),
        ],
    );
    git(&dir, &["commit", "--quiet", "-m", "v1"]);
    let v1 = git(&dir, &["rev-parse", "HEAD"]);
    let modes = git(&dir, &["ls-tree", "-r", "HEAD"]);
    assert!(modes.contains("100755 blob"), "{modes}");
    assert!(modes.contains("160000 commit"), "{modes}");

    commit_file(&dir, "docs/a.md", "a v2\n", "v2");
    commit_file(&dir, "docs/new.md", "new\n", "v2 new");
    write(&dir, "docs/b ü.md", "b in the work tree\n");
    write(&dir, "docs/untracked.md", "untracked\n");
    let status_before = status(&dir);

    let repo = Repo::open(&dir).expect("opens");
    let files = repo
        .tree_files(&v1, &|path: &str| path.ends_with(".md"))
        .expect("reads");
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "README.md",
            "docs/a.md",
            "docs/b ü.md",
            "large.md",
            "tool.md"
        ],
        "wanted .md files only; no symbolic link, no submodule"
    );
    let content = |name: &str| {
        files
            .iter()
            .find(|(p, _)| p == name)
            .map(|(_, c)| c.clone())
            .expect("present")
    };
    assert_eq!(content("docs/a.md"), b"a v1\n");
    assert_eq!(content("docs/b ü.md"), b"b v1\n");
    assert_eq!(content("tool.md"), b"#!/bin/sh\n");
    assert!(content("large.md") == large, "1 MiB round-trips");

    let now = repo
        .tree_files("HEAD", &|path: &str| path.starts_with("docs/"))
        .expect("reads");
    assert_eq!(
        now,
        vec![
            ("docs/a.md".to_owned(), b"a v2\n".to_vec()),
            ("docs/b ü.md".to_owned(), b"b v1\n".to_vec()),
            ("docs/new.md".to_owned(), b"new\n".to_vec()),
        ]
    );
    assert_eq!(
        repo.tree_files(&v1, &|_: &str| false).expect("reads"),
        Vec::new()
    );
    assert_eq!(status(&dir), status_before, "nothing touched");
}

#[test]
fn tree_files_of_an_unknown_commit_is_an_error() {
    let (_tmp, dir) = single();
    let repo = Repo::open(&dir).expect("opens");
    for rev in [
        "nope",
        "-x",
        "--all",
        "0123456789abcdef0123456789abcdef01234567",
    ] {
        let err = repo.tree_files(rev, &|_: &str| true).expect_err(rev);
        let GitError::Failed { command, .. } = &err else {
            panic!("expected Failed for {rev}, got {err:?}");
        };
        assert!(command.contains("ls-tree"), "{command}");
    }
}

#[test]
fn tree_files_reads_many_files() {
    let (_tmp, dir) = single();
    for i in 0..500 {
        write(
            &dir,
            &format!("many/file {i:03}.md"),
            &format!("content {i}\n"),
        );
    }
    git(&dir, &["add", "--all"]);
    git(&dir, &["commit", "--quiet", "-m", "many"]);
    let repo = Repo::open(&dir).expect("opens");
    let files = repo
        .tree_files("HEAD", &|path: &str| path.starts_with("many/"))
        .expect("reads");
    assert_eq!(files.len(), 500);
    for (i, (path, content)) in files.iter().enumerate() {
        assert_eq!(path, &format!("many/file {i:03}.md"));
        assert_eq!(content, format!("content {i}\n").as_bytes());
    }
}

#[test]
fn first_added_dates_are_the_committer_dates_of_the_oldest_additions() {
    let (_tmp, dir) = unborn();
    let repo = Repo::open(&dir).expect("opens");
    assert_eq!(repo.first_added_dates().expect("dates"), Default::default());

    // The author dates differ from the committer dates: which one is used shows.
    let author = "2000-01-01T12:00:00+0000";
    write(&dir, "a.md", "a\n");
    write(&dir, "dir/ünï 名前.md", "u\n");
    git(&dir, &["add", "--all"]);
    commit_dated(&dir, "one", author, "2021-03-04T12:00:00+0000");

    write(&dir, "b.md", "b\n");
    write(&dir, "c.md", "c\n");
    git(&dir, &["add", "--all"]);
    commit_dated(&dir, "two", author, "2022-05-06T12:00:00+0000");

    // Modified: the date stays.
    write(&dir, "a.md", "a changed\n");
    git(&dir, &["add", "--all"]);
    commit_dated(&dir, "three", author, "2023-01-01T12:00:00+0000");

    // Deleted, then added again: the oldest addition wins.
    git(&dir, &["rm", "--quiet", "b.md"]);
    commit_dated(&dir, "four", author, "2023-02-02T12:00:00+0000");
    write(&dir, "b.md", "b again\n");
    git(&dir, &["add", "--all"]);
    commit_dated(&dir, "five", author, "2024-02-03T12:00:00+0000");

    // Renamed: the new path is added by the rename.
    git(&dir, &["mv", "c.md", "d.md"]);
    commit_dated(&dir, "six", author, "2024-03-04T12:00:00+0000");

    // Added on a branch, merged: the branch commit's date.
    git(&dir, &["switch", "--quiet", "-c", "side"]);
    write(&dir, "side.md", "side\n");
    git(&dir, &["add", "--all"]);
    commit_dated(&dir, "side", author, "2024-04-05T12:00:00+0000");
    git(&dir, &["switch", "--quiet", "main"]);
    write(&dir, "main.md", "main\n");
    git(&dir, &["add", "--all"]);
    commit_dated(&dir, "main", author, "2024-05-06T12:00:00+0000");
    let mut merge = Command::new("git");
    merge
        .arg("-C")
        .arg(&dir)
        .args(["merge", "--quiet", "--no-ff", "--no-edit", "side"])
        .env("GIT_AUTHOR_DATE", author)
        .env("GIT_COMMITTER_DATE", "2024-06-07T12:00:00+0000");
    assert!(merge.output().expect("git runs").status.success(), "merges");

    // The date is in the commit's own time zone.
    write(&dir, "late.md", "late\n");
    git(&dir, &["add", "--all"]);
    commit_dated(&dir, "late", author, "2024-07-08T23:30:00-0500");

    let dates = repo.first_added_dates().expect("dates");
    let expected: std::collections::HashMap<String, String> = [
        ("a.md", "2021-03-04"),
        ("dir/ünï 名前.md", "2021-03-04"),
        ("b.md", "2022-05-06"),
        ("c.md", "2022-05-06"),
        ("d.md", "2024-03-04"),
        ("side.md", "2024-04-05"),
        ("main.md", "2024-05-06"),
        ("late.md", "2024-07-08"),
    ]
    .into_iter()
    .map(|(p, d)| (p.to_owned(), d.to_owned()))
    .collect();
    assert_eq!(dates, expected);
}

#[test]
fn commit_beside_leaves_the_work_tree_index_and_refs_alone() {
    let remote = remote_and_two_clones();
    let dir = &remote.a;
    commit_file(dir, "gone.md", "bye\n", "two");
    write(dir, "user.md", "work in progress\n");
    git(dir, &["add", "user.md"]);
    let status_before = status(dir);
    let head = git(dir, &["rev-parse", "HEAD"]);

    let repo = Repo::open(dir).expect("opens");
    let changes = vec![
        (
            "mirrors/x y.json".to_owned(),
            Some(b"{\"a\": 1}\n".to_vec()),
        ),
        ("gone.md".to_owned(), None),
    ];
    let commit = repo
        .commit_beside(&head, &changes, "mirror: two files\n\nbody\n")
        .expect("commits")
        .expect("a commit");
    assert_eq!(git(dir, &["rev-parse", "HEAD"]), head, "HEAD did not move");
    assert_eq!(status(dir), status_before, "work tree and index untouched");
    assert_eq!(
        git(dir, &["show", &format!("{commit}:mirrors/x y.json")]),
        "{\"a\": 1}"
    );
    let files = git(dir, &["ls-tree", "-r", "--name-only", &commit]);
    assert!(
        !files.contains("gone.md") && files.contains("notes/a.md"),
        "{files}"
    );
    assert_eq!(git(dir, &["rev-parse", &format!("{commit}^")]), head);
    let raw =
        String::from_utf8(git_output(dir, &["cat-file", "commit", &commit]).stdout).expect("utf-8");
    assert!(raw.ends_with("\n\nmirror: two files\n\nbody\n"), "{raw}");
    assert_ne!(
        repo.tree_of(&commit).expect("tree"),
        repo.tree_of(&head).expect("tree")
    );

    // Nothing to change: no commit.
    let same = vec![("notes/a.md".to_owned(), Some(b"one\n".to_vec()))];
    assert_eq!(
        repo.commit_beside(&head, &same, "noop").expect("runs"),
        None
    );

    // Pushed as a branch of the remote, no local branch made.
    assert_eq!(
        repo.default_remote().expect("remote").as_deref(),
        Some("origin")
    );
    repo.push_commit("origin", &commit, "concord/mirror/a-1234567", false)
        .expect("pushes");
    assert_eq!(
        git(
            &remote.bare,
            &["rev-parse", "refs/heads/concord/mirror/a-1234567"]
        ),
        commit
    );
    assert_eq!(git(dir, &["branch", "--list", "concord/*"]), "");
    // A non-fast-forward replacement needs force.
    let other = repo
        .commit_beside(&head, &[("z.md".to_owned(), Some(b"z".to_vec()))], "other")
        .expect("commits")
        .expect("a commit");
    assert!(
        repo.push_commit("origin", &other, "concord/mirror/a-1234567", false)
            .is_err()
    );
    repo.push_commit("origin", &other, "concord/mirror/a-1234567", true)
        .expect("force pushes");
    assert_eq!(
        git(
            &remote.bare,
            &["rev-parse", "refs/heads/concord/mirror/a-1234567"]
        ),
        other
    );
}

#[test]
fn commit_beside_refuses_a_path_git_cannot_name() {
    let (_tmp, dir) = single();
    let repo = Repo::open(&dir).expect("opens");
    let head = git(&dir, &["rev-parse", "HEAD"]);
    let bad = vec![("a\nb".to_owned(), Some(b"x".to_vec()))];
    assert!(repo.commit_beside(&head, &bad, "m").is_err());
}
