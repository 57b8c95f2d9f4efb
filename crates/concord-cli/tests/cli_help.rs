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

#[test]
fn help_reference() {
    check("help", &["--help"]);
    check("help-scan", &["scan", "--help"]);
    check("help-status", &["status", "--help"]);
}
