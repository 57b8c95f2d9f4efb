//! `concord mirror` in pull-request mode: two repos cloned from real bare
//! remotes, and the fake GitHub whose branches are those remotes' (what
//! concord pushes is what it knows). One pull request per run, updated
//! rather than duplicated; the work trees are never touched.

mod common;
use common::{Output, git, init_repo};
use concord_fakes::github::FakeGitHub;
use std::path::{Path, PathBuf};

const TOKEN: &str = "ghp_mirrortoken0123456789";

struct World {
    dir: tempfile::TempDir,
    gh: FakeGitHub,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let gh = FakeGitHub::start(TOKEN).expect("fake GitHub");
        for name in ["ft2", "story"] {
            let bare = root.join(format!("{name}.git"));
            git(root, &["init", "-q", "--bare", "-b", "main", &path(&bare)]);
            let clone = root.join(name);
            init_repo(&clone);
            std::fs::write(clone.join("README.md"), name).expect("readme");
            git(&clone, &["add", "."]);
            git(&clone, &["commit", "-q", "-m", "start"]);
            git(&clone, &["remote", "add", "origin", &path(&bare)]);
            git(&clone, &["push", "-q", "-u", "origin", "main"]);
            gh.add_repo(&format!("acme/{name}"));
            gh.attach_git(&format!("acme/{name}"), &bare);
        }
        std::fs::write(
            root.join("concord.toml"),
            format!(
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
owners = {{ ft2 = "ft2", "fitme-story" = "story" }}
marker_field = "state_owner_sync_origin"
mode = "pull-request"
github_repos = {{ ft2 = "acme/ft2", story = "acme/story" }}
token_env = "TEST_MIRROR_TOKEN"
url = "{}"
"#,
                gh.url()
            ),
        )
        .expect("config");
        World { dir, gh }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn repo(&self, name: &str) -> PathBuf {
        self.root().join(name)
    }

    fn feature(&self, repo: &str, name: &str, json: &str) {
        let file = self.repo(repo).join(format!("features/{name}/state.json"));
        std::fs::create_dir_all(file.parent().expect("parent")).expect("dirs");
        std::fs::write(file, json).expect("write");
    }

    fn commit(&self, repo: &str, message: &str) {
        git(&self.repo(repo), &["add", "."]);
        git(&self.repo(repo), &["commit", "-q", "-m", message]);
    }

    fn concord(&self, args: &[&str], token: Option<&str>) -> Output {
        let env: Vec<(&str, &str)> = token
            .map(|t| ("TEST_MIRROR_TOKEN", t))
            .into_iter()
            .collect();
        let out = common::run_env(self.root(), &env, args);
        assert!(
            !out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN),
            "the token leaked"
        );
        out
    }

    fn mirror(&self) -> serde_json::Value {
        let out = self.concord(&["mirror", "--json"], Some(TOKEN));
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        out.json()
    }

    /// A file of the bare remote's `branch`.
    fn remote_file(&self, repo: &str, branch: &str, file: &str) -> String {
        git(
            &self.root().join(format!("{repo}.git")),
            &["show", &format!("{branch}:{file}")],
        )
    }
}

fn path(p: &Path) -> String {
    p.to_str().expect("utf-8 temp path").to_string()
}

fn short_head(dir: &Path) -> String {
    git(dir, &["rev-parse", "--short=7", "HEAD"])
        .trim()
        .to_string()
}

#[test]
fn sixty_unmirrored_files_are_proposed_in_one_pull_request_that_later_runs_update() {
    let world = World::new();
    for i in 0..60 {
        world.feature(
            "ft2",
            &format!("f{i:02}"),
            &format!("{{\n  \"name\": \"f{i:02}\",\n  \"state_owner\": \"ft2\"\n}}\n"),
        );
    }
    world.commit("ft2", "sixty features");
    let story_head = git(&world.repo("story"), &["rev-parse", "HEAD"]);
    let story_status = git(&world.repo("story"), &["status", "--porcelain"]);

    let report = world.mirror();
    assert_eq!(report["written"].as_array().map(Vec::len), Some(60));
    let pulls = report["pull_requests"].as_array().expect("pull requests");
    assert_eq!(pulls.len(), 1, "{report}");
    assert_eq!(pulls[0]["action"], "opened");
    assert_eq!(pulls[0]["github_repo"], "acme/story");
    let branch = format!("concord/mirror/ft2-{}", short_head(&world.repo("ft2")));
    assert_eq!(pulls[0]["branch"], branch.as_str());
    let held = world.gh.pulls("acme/story");
    assert_eq!(held.len(), 1);
    assert_eq!(
        (held[0].head.as_str(), held[0].base.as_str()),
        (branch.as_str(), "main")
    );
    assert_eq!(held[0].state, "open");
    assert!(
        held[0]
            .body
            .as_deref()
            .unwrap_or("")
            .contains("features/f59/state.json")
    );
    assert!(
        held[0].title.contains("60 document(s) from ft2"),
        "{}",
        held[0].title
    );
    // The branch holds the 60 mirrors in one commit on top of main.
    let story_bare = world.root().join("story.git");
    let count = git(
        &story_bare,
        &["rev-list", "--count", &format!("main..{branch}")],
    );
    assert_eq!(count.trim(), "1");
    assert_eq!(
        world.remote_file("story", &branch, "features/f07/state.json"),
        "{\n  \"name\": \"f07\",\n  \"state_owner\": \"ft2\",\n  \"state_owner_sync_origin\": \"ft2-reverse\"\n}\n"
    );
    // The target's work tree, index and HEAD were not touched.
    assert_eq!(
        git(&world.repo("story"), &["rev-parse", "HEAD"]),
        story_head
    );
    assert_eq!(
        git(&world.repo("story"), &["status", "--porcelain"]),
        story_status
    );
    assert!(!world.repo("story/features").exists());
    // The control room names the proposed commit.
    let summary = world.concord(&["summary", "--json"], None).json();
    let proposed = git(&story_bare, &["rev-parse", &branch]);
    assert_eq!(
        summary["last_mirror"]["commits"]["story"],
        proposed.trim(),
        "{summary}"
    );

    // Idempotent: the open pull request already proposes exactly this.
    let again = world.mirror();
    assert_eq!(
        again["written"].as_array().map(Vec::len),
        Some(0),
        "{again}"
    );
    assert_eq!(again["pull_requests"][0]["action"], "unchanged");
    assert_eq!(world.gh.pulls("acme/story").len(), 1);

    // A change two commits behind HEAD updates the same pull request.
    world.feature(
        "ft2",
        "f03",
        "{\n  \"name\": \"f03\",\n  \"state_owner\": \"ft2\",\n  \"status\": \"done\"\n}\n",
    );
    world.commit("ft2", "f03 done");
    std::fs::write(world.repo("ft2").join("README.md"), "one").expect("write");
    world.commit("ft2", "unrelated one");
    std::fs::write(world.repo("ft2").join("README.md"), "two").expect("write");
    world.commit("ft2", "unrelated two");
    let updated = world.mirror();
    assert_eq!(
        updated["pull_requests"][0]["action"], "updated",
        "{updated}"
    );
    assert_eq!(updated["pull_requests"][0]["number"], held[0].number);
    assert_eq!(updated["pull_requests"][0]["branch"], branch.as_str());
    let held = world.gh.pulls("acme/story");
    assert_eq!(held.len(), 1, "no duplicate pull request");
    assert!(
        world
            .remote_file("story", &branch, "features/f03/state.json")
            .contains("\"status\": \"done\""),
    );
    let count = git(
        &story_bare,
        &["rev-list", "--count", &format!("main..{branch}")],
    );
    assert_eq!(count.trim(), "1", "still one commit on top of main");
}

#[test]
fn a_merged_proposal_leaves_nothing_to_do_and_the_next_change_opens_a_new_one() {
    let world = World::new();
    world.feature(
        "story",
        "login",
        "{\"name\": \"login\", \"state_owner\": \"fitme-story\"}\n",
    );
    world.commit("story", "login");
    let first = world.mirror();
    let branch = first["pull_requests"][0]["branch"]
        .as_str()
        .expect("branch")
        .to_string();
    assert!(branch.starts_with("concord/mirror/story-"), "{branch}");
    assert_eq!(first["pull_requests"][0]["github_repo"], "acme/ft2");
    let number = first["pull_requests"][0]["number"]
        .as_u64()
        .expect("number");

    // Merged on GitHub: the branch lands on main, the pull request closes.
    let bare = world.root().join("ft2.git");
    git(
        &bare,
        &[
            "update-ref",
            "refs/heads/main",
            &format!("refs/heads/{branch}"),
        ],
    );
    world.gh.edit_externally("acme/ft2", number, "closed");
    git(&world.repo("ft2"), &["pull", "-q", "--ff-only"]);
    assert!(world.repo("ft2/features/login/state.json").exists());

    let settled = world.mirror();
    assert_eq!(
        settled["written"].as_array().map(Vec::len),
        Some(0),
        "{settled}"
    );
    assert_eq!(
        settled["reports"].as_array().map(Vec::len),
        Some(0),
        "{settled}"
    );
    assert_eq!(settled["pull_requests"].as_array().map(Vec::len), Some(0));

    // The next change: a new pull request, the closed one stays closed.
    world.feature(
        "story",
        "login",
        "{\"name\": \"login\", \"state_owner\": \"fitme-story\", \"phase\": \"review\"}\n",
    );
    world.commit("story", "login in review");
    let next = world.mirror();
    assert_eq!(next["pull_requests"][0]["action"], "opened", "{next}");
    assert_eq!(next["written"][0]["reason"], "STALE", "{next}");
    let pulls = world.gh.pulls("acme/ft2");
    assert_eq!(pulls.len(), 2);
    assert_eq!(pulls.iter().filter(|p| p.state == "open").count(), 1);
}

#[test]
fn without_a_token_it_is_a_configuration_error_but_dry_run_works() {
    let world = World::new();
    world.feature("ft2", "a", "{\"state_owner\": \"ft2\"}\n");
    world.commit("ft2", "a");
    let refused = world.concord(&["mirror"], None);
    assert_eq!(refused.code, 2, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("TEST_MIRROR_TOKEN"),
        "{}",
        refused.stderr
    );
    let dry = world.concord(&["mirror", "--dry-run"], None);
    assert_eq!(dry.code, 0, "{}\n{}", dry.stdout, dry.stderr);
    assert!(
        dry.stdout
            .contains("would write story:features/a/state.json"),
        "{}",
        dry.stdout
    );
    assert!(world.gh.pulls("acme/story").is_empty());
    let wrong = world.concord(&["mirror"], Some("ghp_wrong"));
    assert_eq!(wrong.code, 3, "{}\n{}", wrong.stdout, wrong.stderr);
    assert!(wrong.stdout.contains("Bad credentials"), "{}", wrong.stdout);
}
