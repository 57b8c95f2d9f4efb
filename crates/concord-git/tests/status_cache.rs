//! A remembered `git status` against git itself, on real repositories: after
//! any change a user or git can make, the remembered answer is the one
//! `git status` gives, and an unchanged repo is answered without git.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod common;

use common::{git, write};
use concord_git::{Repo, StatusFrom, status_memory_off};
use proptest::prelude::*;
use tempfile::TempDir;

/// A repo with tracked files in two folders, an ignored folder, and an
/// upstream (`origin/main`) that is a ref only.
fn repo() -> (TempDir, PathBuf) {
    let tmp = TempDir::new().expect("temp dir");
    let dir = tmp.path().join("repo");
    fs::create_dir(&dir).expect("mkdir");
    git(&dir, &["init", "--quiet", "-b", "main"]);
    git(&dir, &["config", "user.name", "Test"]);
    git(&dir, &["config", "user.email", "test@example.com"]);
    git(&dir, &["config", "commit.gpgsign", "false"]);
    write(&dir, ".gitignore", "build/\n*.log\n");
    write(&dir, "plan.md", "status: todo\n");
    write(&dir, "docs/a.md", "status: todo\n");
    write(&dir, "docs/deep/b.json", "{\"status\":\"todo\"}\n");
    write(&dir, "build/out.txt", "ignored\n");
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "--quiet", "-m", "initial"]);
    git(&dir, &["remote", "add", "origin", "/nonexistent"]);
    git(&dir, &["update-ref", "refs/remotes/origin/main", "HEAD"]);
    git(&dir, &["branch", "--quiet", "-u", "origin/main"]);
    (tmp, dir)
}

/// Wait until the filesystem's clock has ticked past every change made so
/// far (a file made now is newer than one made before the wait), so that
/// what git says next may be remembered, whatever the clock's grain.
fn settle(dir: &Path) {
    let probe = |name: &str| {
        let path = dir.join(".git").join(name);
        fs::write(&path, name).expect("probe");
        fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime")
    };
    let before = probe("settle-before");
    while probe("settle-after") <= before {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The remembered answer equals git's, and says where it came from.
fn check(dir: &Path) -> StatusFrom {
    let repo = Repo::open(dir).expect("opens");
    let (remembered, from) = repo.snapshot_remembered().expect("remembered");
    let fresh = repo.snapshot().expect("git status");
    assert_eq!(remembered, fresh, "remembered ({from:?}) against git");
    from
}

#[test]
fn an_unchanged_repo_is_answered_without_git_and_any_change_runs_it_again() {
    if let Some(why) = status_memory_off() {
        eprintln!("skipped: git status cannot be remembered here: {why}");
        return;
    }
    let (_tmp, dir) = repo();
    settle(&dir);
    assert_eq!(check(&dir), StatusFrom::Git);
    assert_eq!(check(&dir), StatusFrom::Remembered);

    // The same size, so only the times tell. Whether the answer right
    // after the edit is kept depends on the clock's tick; once the clock
    // has moved on, it is.
    write(&dir, "plan.md", "status: done\n");
    assert_eq!(check(&dir), StatusFrom::Git);
    settle(&dir);
    let _ = check(&dir);
    assert_eq!(check(&dir), StatusFrom::Remembered);

    // Something new in an ignored folder is not git's business.
    write(&dir, "build/more.txt", "x\n");
    write(&dir, "docs/debug.log", "x\n");
    settle(&dir);
    let _ = check(&dir);
    write(&dir, "build/more.txt", "changed\n");
    assert_eq!(check(&dir), StatusFrom::Remembered);

    // A new file deep in a folder, a ref moved by another command.
    write(&dir, "docs/deep/new.md", "status: todo\n");
    assert_eq!(check(&dir), StatusFrom::Git);
    settle(&dir);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "--quiet", "-m", "more"]);
    assert_eq!(check(&dir), StatusFrom::Git);
    settle(&dir);
    let _ = check(&dir);
    git(&dir, &["update-ref", "refs/remotes/origin/main", "HEAD"]);
    assert_eq!(check(&dir), StatusFrom::Git);
}

/// Set a file's modification time to 2001-09-09, as an editor or a
/// restore from an archive could.
fn touch_back(path: &Path) {
    let ok = Command::new("touch")
        .args(["-m", "-d", "@1000000000"])
        .arg(path)
        .status()
        .expect("touch")
        .success();
    assert!(ok);
}

#[test]
fn an_edit_that_keeps_the_size_and_the_modification_time_is_seen() {
    if let Some(why) = status_memory_off() {
        eprintln!("skipped: git status cannot be remembered here: {why}");
        return;
    }
    let (_tmp, dir) = repo();
    let plan = dir.join("plan.md");
    touch_back(&plan);
    settle(&dir);
    let _ = check(&dir);
    assert_eq!(check(&dir), StatusFrom::Remembered);
    // Same size, same modification time, same inode: only the change
    // time, which no one but the kernel sets, tells.
    write(&dir, "plan.md", "status: done\n");
    touch_back(&plan);
    assert_eq!(check(&dir), StatusFrom::Git);
}

#[test]
fn a_file_changed_while_git_looks_is_never_remembered() {
    // Another program keeps rewriting a tracked file, alternating the
    // committed text (clean) and an edit of the same size (dirty), while
    // the status is asked again and again. Writes in the same tick of the
    // filesystem's clock leave the same times, so an answer kept while the
    // file was changing could name the wrong one for good: none may be
    // kept, and once the writer stops the answer is git's. (A kernel with
    // fine-grained change times after a look, as Linux 6.13 and later,
    // never gives two writes the same times here; older ones can.)
    let (_tmp, dir) = repo();
    let repo = Repo::open(&dir).expect("opens");
    for round in 0..20 {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (stop, path) = (stop.clone(), dir.join("plan.md"));
            std::thread::spawn(move || {
                let mut n = round;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let text = if n % 2 == 0 {
                        "status: todo\n"
                    } else {
                        "status: done\n"
                    };
                    fs::write(&path, text).expect("write");
                    n += 1;
                }
            })
        };
        for _ in 0..4 {
            repo.snapshot_remembered().expect("status");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().expect("writer");
        let _ = check(&dir);
    }
}

#[derive(Debug, Clone)]
enum Op {
    EditSameSize(usize),
    Append(usize),
    Create(usize),
    CreateIgnored,
    Delete(usize),
    MakeEmptyFolder,
    Chmod(usize),
    TouchBack(usize),
    IgnoreMore,
    /// `core.fileMode` flipped: a mode change is reported, or not.
    ToggleFileMode,
    StageAll,
    Commit,
    MoveUpstream,
    Settle,
}

const FILES: &[&str] = &["plan.md", "docs/a.md", "docs/deep/b.json", "empty/new.md"];

fn op() -> impl Strategy<Value = Op> {
    let file = 0..FILES.len();
    prop_oneof![
        file.clone().prop_map(Op::EditSameSize),
        file.clone().prop_map(Op::Append),
        file.clone().prop_map(Op::Create),
        Just(Op::CreateIgnored),
        file.clone().prop_map(Op::Delete),
        Just(Op::MakeEmptyFolder),
        file.clone().prop_map(Op::Chmod),
        file.prop_map(Op::TouchBack),
        Just(Op::IgnoreMore),
        Just(Op::ToggleFileMode),
        Just(Op::StageAll),
        Just(Op::Commit),
        Just(Op::MoveUpstream),
        Just(Op::Settle),
        Just(Op::Settle),
    ]
}

fn apply(dir: &Path, op: &Op) {
    let path = |i: &usize| dir.join(FILES[*i]);
    match op {
        Op::EditSameSize(i) => {
            if let Ok(text) = fs::read(path(i)) {
                let flipped: Vec<u8> = text
                    .iter()
                    .map(|b| {
                        if *b == b'o' {
                            b'x'
                        } else if *b == b'x' {
                            b'o'
                        } else {
                            *b
                        }
                    })
                    .collect();
                fs::write(path(i), flipped).expect("write");
            }
        }
        Op::Append(i) => {
            let mut text = fs::read(path(i)).unwrap_or_default();
            text.extend_from_slice(b"- more\n");
            write(dir, FILES[*i], &String::from_utf8_lossy(&text));
        }
        Op::Create(i) => write(dir, &format!("{}.new", FILES[*i]), "status: todo\n"),
        Op::CreateIgnored => write(dir, "build/deeper/x.txt", "x\n"),
        Op::Delete(i) => {
            let _ = fs::remove_file(path(i));
        }
        Op::MakeEmptyFolder => fs::create_dir_all(dir.join("empty")).expect("mkdir"),
        Op::Chmod(i) => {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = fs::metadata(path(i)) {
                let mode = meta.permissions().mode() ^ 0o100;
                fs::set_permissions(path(i), fs::Permissions::from_mode(mode)).expect("chmod");
            }
        }
        // An edit whose modification time is put back: only the change
        // time tells.
        Op::TouchBack(i) => {
            if path(i).exists() {
                touch_back(&path(i));
            }
        }
        Op::IgnoreMore => {
            let mut rules = fs::read_to_string(dir.join(".gitignore")).unwrap_or_default();
            rules.push_str("*.new\n");
            write(dir, ".gitignore", &rules);
        }
        Op::ToggleFileMode => {
            let on = git(dir, &["config", "--get", "core.fileMode"]) == "true";
            git(
                dir,
                &["config", "core.fileMode", if on { "false" } else { "true" }],
            );
        }
        Op::StageAll => {
            git(dir, &["add", "-A"]);
        }
        Op::Commit => {
            git(dir, &["add", "-A"]);
            git(dir, &["commit", "--quiet", "--allow-empty", "-m", "step"]);
        }
        Op::MoveUpstream => {
            let target = git(dir, &["rev-parse", "HEAD~1"]);
            git(dir, &["update-ref", "refs/remotes/origin/main", &target]);
        }
        Op::Settle => settle(dir),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn after_any_change_the_remembered_status_is_gits(ops in prop::collection::vec(op(), 1..12)) {
        let (_tmp, dir) = repo();
        git(&dir, &["commit", "--quiet", "--allow-empty", "-m", "second"]);
        for op in &ops {
            apply(&dir, op);
            let _ = check(&dir);
        }
    }
}
