//! `concord mirror` in commit mode on two real git repos: bootstrap,
//! changes two commits behind HEAD, idempotence, hand edits, --force.

mod common;
use common::{git, run_in};
use std::path::Path;

fn repo(root: &Path, name: &str) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["config", "user.name", "Test"]);
    git(&dir, &["config", "user.email", "test@example.com"]);
    std::fs::write(dir.join("README.md"), name).expect("readme");
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "start"]);
}

fn feature(root: &Path, repo: &str, name: &str, json: &str) {
    let path = root.join(repo).join(format!("features/{name}/state.json"));
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
    std::fs::write(path, json).expect("write");
}

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    repo(root, "ft2");
    repo(root, "story");
    std::fs::write(
        root.join("concord.toml"),
        r#"
[[repo]]
name = "ft2"
path = "ft2"

[[repo]]
name = "story"
path = "story"

[[mirror]]
repos = ["ft2", "story"]
glob = "features/*/state.json"
owner_field = "/state_owner"
owners = { ft2 = "ft2", "fitme-story" = "story" }
marker_field = "state_owner_sync_origin"
marker_value = "{owner}-reverse"
"#,
    )
    .expect("config");
    dir
}

#[test]
fn a_feature_owned_by_one_repo_is_mirrored_into_the_other_and_kept_in_step() {
    let ws = workspace();
    let root = ws.path();
    // Created in the second repo, which owns it.
    feature(
        root,
        "story",
        "universe",
        "{\n  \"name\": \"universe\",\n  \"state_owner\": \"fitme-story\",\n  \"current_phase\": \"prd\"\n}\n",
    );
    git(&root.join("story"), &["add", "."]);
    git(&root.join("story"), &["commit", "-q", "-m", "universe"]);
    let first = run_in(root, &["mirror"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first
            .stdout
            .contains("wrote ft2:features/universe/state.json (BOOTSTRAP)"),
        "{}",
        first.stdout
    );
    let mirror =
        std::fs::read_to_string(root.join("ft2/features/universe/state.json")).expect("mirror");
    assert_eq!(
        mirror,
        "{\n  \"name\": \"universe\",\n  \"state_owner\": \"fitme-story\",\n  \"current_phase\": \"prd\",\n  \"state_owner_sync_origin\": \"fitme-story-reverse\"\n}\n"
    );
    let log = git(&root.join("ft2"), &["log", "-1", "--format=%s"]);
    assert!(
        log.starts_with("chore(concord): mirror 1 document(s)"),
        "{log}"
    );

    // Idempotent.
    let again = run_in(root, &["mirror"]);
    assert!(
        again.stdout.contains("0 written, 0 reported"),
        "{}",
        again.stdout
    );

    // A change in the owner, two commits behind HEAD, is not missed.
    let story = root.join("story");
    feature(
        root,
        "story",
        "universe",
        "{\n  \"name\": \"universe\",\n  \"state_owner\": \"fitme-story\",\n  \"current_phase\": \"tasks\"\n}\n",
    );
    git(&story, &["commit", "-q", "-am", "tasks"]);
    std::fs::write(story.join("README.md"), "later").expect("readme");
    git(&story, &["commit", "-q", "-am", "later 1"]);
    std::fs::write(story.join("README.md"), "later still").expect("readme");
    git(&story, &["commit", "-q", "-am", "later 2"]);
    let stale = run_in(root, &["mirror"]);
    assert!(stale.stdout.contains("(STALE)"), "{}", stale.stdout);
    let mirror =
        std::fs::read_to_string(root.join("ft2/features/universe/state.json")).expect("mirror");
    assert!(mirror.contains("\"current_phase\": \"tasks\""), "{mirror}");

    // A hand edit of the mirror is reported and left alone...
    let edited = mirror.replace("tasks", "review");
    std::fs::write(root.join("ft2/features/universe/state.json"), &edited).expect("edit");
    git(&root.join("ft2"), &["commit", "-q", "-am", "hand edit"]);
    let reported = run_in(root, &["mirror"]);
    assert_eq!(reported.code, 1, "{}", reported.stdout);
    assert!(
        reported.stdout.contains("MIRROR_EDITED"),
        "{}",
        reported.stdout
    );
    assert_eq!(
        std::fs::read_to_string(root.join("ft2/features/universe/state.json")).expect("read"),
        edited
    );
    // ...until --force repairs it.
    let forced = run_in(root, &["mirror", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stdout);
    assert!(forced.stdout.contains("(REPAIR)"), "{}", forced.stdout);
    let repaired =
        std::fs::read_to_string(root.join("ft2/features/universe/state.json")).expect("read");
    assert!(
        repaired.contains("\"current_phase\": \"tasks\""),
        "{repaired}"
    );
}

#[test]
fn an_unknown_owner_is_reported_and_a_dirty_target_is_not_written() {
    let ws = workspace();
    let root = ws.path();
    feature(
        root,
        "ft2",
        "a",
        "{\"name\": \"a\", \"state_owner\": \"nobody\"}",
    );
    feature(
        root,
        "ft2",
        "b",
        "{\"name\": \"b\", \"state_owner\": \"ft2\"}",
    );
    git(&root.join("ft2"), &["add", "."]);
    git(&root.join("ft2"), &["commit", "-q", "-m", "features"]);
    // The mirror target exists with uncommitted changes.
    feature(
        root,
        "story",
        "b",
        "{\"name\": \"b\", \"state_owner\": \"ft2\", \"x\": 1}",
    );
    git(&root.join("story"), &["add", "."]);
    git(&root.join("story"), &["commit", "-q", "-m", "b"]);
    feature(
        root,
        "story",
        "b",
        "{\"name\": \"b\", \"state_owner\": \"ft2\", \"x\": 2}",
    );
    let out = run_in(root, &["mirror", "--force"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("OWNER_UNKNOWN"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("DIRTY_FILE story:features/b/state.json"),
        "{}",
        out.stdout
    );
    assert!(!root.join("story/features/a/state.json").exists());
}

#[test]
fn check_reports_a_stale_mirror_until_mirror_runs() {
    let ws = workspace();
    let root = ws.path();
    feature(
        root,
        "ft2",
        "a",
        "{\"name\": \"a\", \"state_owner\": \"ft2\", \"phase\": 1}",
    );
    git(&root.join("ft2"), &["add", "."]);
    git(&root.join("ft2"), &["commit", "-q", "-m", "a"]);
    assert_eq!(run_in(root, &["mirror"]).code, 0);
    let clean = run_in(root, &["check", "--no-hub"]);
    assert!(!clean.stdout.contains("MIRROR_STALE"), "{}", clean.stdout);
    feature(
        root,
        "ft2",
        "a",
        "{\"name\": \"a\", \"state_owner\": \"ft2\", \"phase\": 2}",
    );
    let stale = run_in(root, &["check", "--no-hub"]);
    assert!(
        stale
            .stdout
            .contains("warning[MIRROR_STALE]: differs from the owner's copy in repo ft2"),
        "{}",
        stale.stdout
    );
    git(&root.join("ft2"), &["commit", "-q", "-am", "phase 2"]);
    assert_eq!(run_in(root, &["mirror"]).code, 0);
    let fixed = run_in(root, &["check", "--no-hub"]);
    assert!(!fixed.stdout.contains("MIRROR_STALE"), "{}", fixed.stdout);
}

#[test]
fn a_mirror_carrying_the_rules_marker_is_not_an_owner_location_mismatch() {
    let ws = workspace();
    let root = ws.path();
    let config = std::fs::read_to_string(root.join("concord.toml")).expect("config");
    std::fs::write(
        root.join("concord.toml"),
        format!(
            "{config}\n[checks.owner]\nglob = \"features/*/state.json\"\nfield = \"/state_owner\"\nowners = {{ ft2 = \"ft2\", \"fitme-story\" = \"story\" }}\n"
        ),
    )
    .expect("config");
    feature(
        root,
        "story",
        "u",
        "{\"name\": \"u\", \"state_owner\": \"fitme-story\"}",
    );
    git(&root.join("story"), &["add", "."]);
    git(&root.join("story"), &["commit", "-q", "-m", "u"]);
    assert_eq!(run_in(root, &["mirror"]).code, 0);
    let out = run_in(root, &["check", "--no-hub"]);
    assert!(
        !out.stdout.contains("OWNER_LOCATION_MISMATCH"),
        "{}",
        out.stdout
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    // A copy without the marker in the wrong repo is a mismatch.
    feature(
        root,
        "ft2",
        "v",
        "{\"name\": \"v\", \"state_owner\": \"fitme-story\"}",
    );
    let out = run_in(root, &["check", "--no-hub"]);
    assert!(
        out.stdout.contains("OWNER_LOCATION_MISMATCH"),
        "{}",
        out.stdout
    );
}

#[test]
fn sixty_never_mirrored_files_are_bootstrapped_in_one_commit() {
    let ws = workspace();
    let root = ws.path();
    for i in 0..60 {
        feature(
            root,
            "ft2",
            &format!("f{i:02}"),
            &format!("{{\n  \"name\": \"f{i:02}\",\n  \"state_owner\": \"ft2\"\n}}\n"),
        );
    }
    git(&root.join("ft2"), &["add", "."]);
    git(&root.join("ft2"), &["commit", "-q", "-m", "sixty"]);
    let before: usize = git(&root.join("story"), &["rev-list", "--count", "HEAD"])
        .trim()
        .parse()
        .expect("count");
    let out = run_in(root, &["mirror"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("60 written, 0 reported"),
        "{}",
        out.stdout
    );
    let after: usize = git(&root.join("story"), &["rev-list", "--count", "HEAD"])
        .trim()
        .parse()
        .expect("count");
    assert_eq!(after, before + 1, "one commit");
    // The control room shows the run and the commit it made.
    let head = git(&root.join("story"), &["rev-parse", "HEAD"]);
    let summary = run_in(root, &["summary", "--json"]).json();
    let last = &summary["last_mirror"];
    assert_eq!(last["written"], 60, "{summary}");
    assert_eq!(last["commits"]["story"], head.trim(), "{summary}");
    let text = run_in(root, &["summary"]).stdout;
    assert!(
        text.contains("last mirror: ") && text.contains("60 written"),
        "{text}"
    );
    let again = run_in(root, &["mirror"]);
    assert!(
        again.stdout.contains("0 written, 0 reported"),
        "{}",
        again.stdout
    );
    let summary = run_in(root, &["summary", "--json"]).json();
    assert_eq!(
        summary["last_mirror"]["written"], 0,
        "the newest run: {summary}"
    );
}

#[test]
fn a_deleted_owner_copy_removes_its_mirror_only_with_delete() {
    let ws = workspace();
    let root = ws.path();
    feature(
        root,
        "ft2",
        "gone",
        "{\"name\": \"gone\", \"state_owner\": \"ft2\"}",
    );
    git(&root.join("ft2"), &["add", "."]);
    git(&root.join("ft2"), &["commit", "-q", "-m", "gone"]);
    assert_eq!(run_in(root, &["mirror"]).code, 0);
    git(&root.join("ft2"), &["rm", "-q", "features/gone/state.json"]);
    git(&root.join("ft2"), &["commit", "-q", "-m", "removed"]);
    let kept = run_in(root, &["mirror"]);
    assert!(
        kept.stdout.contains("OWNER_COPY_MISSING"),
        "{}",
        kept.stdout
    );
    assert!(root.join("story/features/gone/state.json").exists());
    let config = std::fs::read_to_string(root.join("concord.toml")).expect("config");
    std::fs::write(
        root.join("concord.toml"),
        config.replace(
            "marker_value = \"{owner}-reverse\"",
            "marker_value = \"{owner}-reverse\"\ndelete = true",
        ),
    )
    .expect("config");
    let removed = run_in(root, &["mirror"]);
    assert_eq!(removed.code, 0, "{}", removed.stdout);
    assert!(!root.join("story/features/gone/state.json").exists());
    let log = git(
        &root.join("story"),
        &["log", "-1", "--name-status", "--format=%s"],
    );
    assert!(log.contains("D\tfeatures/gone/state.json"), "{log}");
}

#[test]
fn an_ownership_flip_is_handled_in_one_run_without_ping_pong() {
    let ws = workspace();
    let root = ws.path();
    feature(
        root,
        "ft2",
        "moving",
        "{\n  \"name\": \"moving\",\n  \"state_owner\": \"ft2\"\n}\n",
    );
    git(&root.join("ft2"), &["add", "."]);
    git(&root.join("ft2"), &["commit", "-q", "-m", "moving"]);
    assert_eq!(run_in(root, &["mirror"]).code, 0);
    // The story repo takes the document over: its copy now names itself.
    let path = root.join("story/features/moving/state.json");
    let text = std::fs::read_to_string(&path).expect("mirror");
    std::fs::write(
        &path,
        text.replace(
            "\"state_owner\": \"ft2\"",
            "\"state_owner\": \"fitme-story\"",
        ),
    )
    .expect("flip");
    git(&root.join("story"), &["commit", "-q", "-am", "take over"]);
    let flip = run_in(root, &["mirror"]);
    assert!(
        flip.stdout
            .contains("wrote ft2:features/moving/state.json (OWNER_FLIP)"),
        "{}",
        flip.stdout
    );
    let ft2 = std::fs::read_to_string(root.join("ft2/features/moving/state.json")).expect("ft2");
    assert!(ft2.contains("\"state_owner\": \"fitme-story\""), "{ft2}");
    assert!(
        ft2.contains("\"state_owner_sync_origin\": \"fitme-story-reverse\""),
        "{ft2}"
    );
    // No ping-pong: nothing more to write.
    let again = run_in(root, &["mirror"]);
    assert!(again.stdout.contains("0 written"), "{}", again.stdout);
}

#[test]
fn a_marker_field_colliding_with_an_owner_field_writes_nothing() {
    let ws = workspace();
    let root = ws.path();
    // The owner's copy already uses the marker's name for something else.
    feature(
        root,
        "ft2",
        "odd",
        "{\"name\": \"odd\", \"state_owner\": \"ft2\", \"state_owner_sync_origin\": \"manual import\"}",
    );
    git(&root.join("ft2"), &["add", "."]);
    git(&root.join("ft2"), &["commit", "-q", "-m", "odd"]);
    let out = run_in(root, &["mirror"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("MARKER_COLLISION"), "{}", out.stdout);
    assert!(!root.join("story/features/odd/state.json").exists());
}
