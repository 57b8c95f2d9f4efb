//! One helper for every CLI test: a temporary workspace and a way to run
//! `concord` in it.
#![allow(dead_code)]

pub mod schema;
pub mod serve;

use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub struct TestWorkspace {
    pub dir: tempfile::TempDir,
}

/// A workflow block most tests share.
pub const TASK_WORKFLOW: &str = r#"
[[workflow]]
name = "task"
statuses = [
  { name = "todo", rank = 0, aliases = ["queued"] },
  { name = "in_progress", rank = 1, aliases = ["In progress"] },
  { name = "blocked", rank = 1 },
  { name = "done", rank = 2, aliases = ["complete", "completed", "Closed"] },
  { name = "cancelled", rank = 2 },
]
"#;

impl TestWorkspace {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        std::fs::write(&path, content).expect("write file");
        path
    }

    pub fn config(&self, toml: &str) {
        self.write("concord.toml", toml);
    }

    /// `concord ARGS` run inside the workspace folder, colours off.
    pub fn concord(&self, args: &[&str]) -> Output {
        run_in(self.path(), args)
    }
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    run_env(dir, &[], args)
}

/// `concord ARGS` in `dir` with `env` set on top of a clean slate: the
/// variables that would point it at another workspace, hub or server are
/// removed first.
pub fn run_env(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let output = Command::cargo_bin("concord")
        .expect("concord binary")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CONCORD_CONFIG")
        .env_remove("CONCORD_HUB_URL")
        .env_remove("CONCORD_HUB")
        .env_remove("CONCORD_HUB_TOKEN")
        .env_remove("CONCORD_WEBHOOK_SECRET")
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run concord");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The project root (two levels above this crate).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("project root")
        .to_path_buf()
}

/// A new git repository at `dir` on `main`, with a committer configured.
pub fn init_repo(dir: &Path) {
    std::fs::create_dir_all(dir).expect("repo dir");
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Test"]);
    git(dir, &["config", "user.email", "test@example.com"]);
}

/// `git ARGS` in `dir`, which must succeed; its stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copies a folder tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}
