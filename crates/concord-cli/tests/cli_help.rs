//! The command-line reference is a snapshot, so docs and code cannot drift
//! apart unnoticed. After a deliberate change, refresh it with
//! `UPDATE_SNAPSHOTS=1 cargo test -p concord-cli --test cli_help`.

mod common;
use common::run_in;

fn check(name: &str, args: &[&str]) {
    let out = run_in(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &out.stdout).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        out.stdout,
        expected,
        "`concord {}` changed; if that is intended, rerun with UPDATE_SNAPSHOTS=1",
        args.join(" ")
    );
}

/// The subcommands a `--help` page lists under `Commands:` (not `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Every command's `--help`, found by walking the `Commands:` lists, is a
/// snapshot; a snapshot no command has any more is an error too, so a
/// removed command is reviewed like a changed one.
#[test]
fn help_reference() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut expected_files = std::collections::BTreeSet::new();
    let mut queue: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(path) = queue.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let name = if path.is_empty() {
            "help".to_string()
        } else {
            format!("help-{}", path.join("-"))
        };
        check(&name, &args);
        expected_files.insert(format!("{name}.txt"));
        let help = run_in(root, &args).stdout;
        for sub in subcommands(&help) {
            let mut next = path.clone();
            next.push(sub);
            queue.push(next);
        }
    }
    assert!(expected_files.len() > 20, "{expected_files:?}");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_none() {
        let stale: Vec<String> = std::fs::read_dir(root.join("tests/snapshots"))
            .expect("snapshots")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|f| f.starts_with("help") && !expected_files.contains(f))
            .collect();
        assert!(
            stale.is_empty(),
            "snapshots of commands that are gone: {stale:?}"
        );
    }
}

/// `concord completions SHELL` works anywhere (no workspace), is generated
/// from the same definitions as `--help` (every subcommand is in it), and
/// bash accepts the script it prints.
#[test]
fn completions_cover_every_command_and_need_no_workspace() {
    let nowhere = tempfile::tempdir().expect("temp dir");
    let help = run_in(nowhere.path(), &["--help"]);
    let commands = subcommands(&help.stdout);
    assert!(commands.len() > 10, "{}", help.stdout);
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run_in(nowhere.path(), &["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        for command in &commands {
            assert!(
                out.stdout.contains(command.as_str()),
                "{shell} lacks {command}"
            );
        }
        if shell == "bash" {
            let script = nowhere.path().join("concord.bash");
            std::fs::write(&script, &out.stdout).expect("write");
            let checked = std::process::Command::new("bash")
                .arg("-n")
                .arg(&script)
                .status()
                .expect("bash");
            assert!(checked.success(), "bash -n rejects the script");
        }
    }
    let unknown = run_in(nowhere.path(), &["completions", "tcsh"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
}
