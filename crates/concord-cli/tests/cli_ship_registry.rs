//! A release train against a real package registry: pypiserver on loopback
//! (installed by `.ci/run` from PyPI; only when it cannot be had does this
//! test say it was skipped). A library publishes to it with an
//! HTTP upload, probes ask its simple index, apps deploy to bare remotes
//! and a script. What happened is read from the registry's own storage
//! and answers and from the remotes' own reflogs, never from concord.

mod common;
use common::{Output, git, run_in};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// A pypiserver serving `packages`, uploads without a password, no
/// fallback to pypi.org; killed on drop.
struct Registry {
    child: Child,
    url: String,
    packages: PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    fn start(dir: &Path) -> Option<Registry> {
        let installed = Command::new("python3")
            .args(["-c", "import pypiserver"])
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            eprintln!(
                "skipped: pypiserver is not installed and could not be had (`.ci/run` installs it with pip install pypiserver)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let packages = dir.join("registry");
        std::fs::create_dir_all(&packages).expect("packages");
        let child = Command::new("python3")
            .args(["-m", "pypiserver", "run", "-i", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .args(["-a", ".", "-P", ".", "--disable-fallback"])
            .arg(&packages)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pypiserver");
        let registry = Registry {
            child,
            url: format!("http://127.0.0.1:{port}"),
            packages,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "pypiserver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(registry)
    }

    /// The files the registry stores, with when each was written.
    fn stored(&self) -> Vec<(String, SystemTime)> {
        let mut files: Vec<(String, SystemTime)> = std::fs::read_dir(&self.packages)
            .expect("packages")
            .filter_map(Result::ok)
            .map(|e| {
                let written = e.metadata().and_then(|m| m.modified()).expect("mtime");
                (e.file_name().to_string_lossy().into_owned(), written)
            })
            .collect();
        files.sort();
        files
    }

    /// Upload `file` as someone outside the train would.
    fn upload(&self, file: &Path) {
        let ok = Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "-F", ":action=file_upload", "-F"])
            .arg(format!("content=@{}", file.display()))
            .arg(format!("{}/", self.url))
            .status()
            .expect("curl")
            .success();
        assert!(ok, "upload {}", file.display());
    }
}

/// The train's world: lib-a (published to the registry), hub-app
/// (deployed by a push to `production`), sat-one and sat-two (deployed by a
/// script that logs to `deploys.log`; sat-two's fails while `fail-sat-two`
/// exists). Every repo is a clone of a bare remote that keeps a reflog.
struct World {
    dir: tempfile::TempDir,
    registry: Registry,
}

const REPOS: [&str; 4] = ["lib-a", "hub-app", "sat-one", "sat-two"];

impl World {
    fn new() -> Option<World> {
        let dir = tempfile::tempdir().expect("temp dir");
        let registry = Registry::start(dir.path())?;
        let world = World { dir, registry };
        for repo in REPOS {
            world.create_repo(repo);
        }
        let production = world.root().join("remotes/production.git");
        git(
            world.root(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                &production.display().to_string(),
            ],
        );
        git(&production, &["config", "core.logAllRefUpdates", "always"]);
        git(
            &world.root().join("hub-app"),
            &[
                "remote",
                "add",
                "production",
                &production.display().to_string(),
            ],
        );
        std::fs::write(world.root().join("concord.toml"), world.concord_toml()).expect("config");
        std::fs::write(world.root().join("release.toml"), world.release_toml()).expect("release");
        Some(world)
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn create_repo(&self, name: &str) {
        let bare = self.root().join(format!("remotes/{name}.git"));
        git(
            self.root(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                &bare.display().to_string(),
            ],
        );
        git(&bare, &["config", "core.logAllRefUpdates", "always"]);
        git(
            self.root(),
            &["clone", "-q", &bare.display().to_string(), name],
        );
        let repo = self.root().join(name);
        git(&repo, &["symbolic-ref", "HEAD", "refs/heads/main"]);
        for (key, value) in [
            ("user.name", "Test"),
            ("user.email", "test@example.com"),
            ("commit.gpgsign", "false"),
        ] {
            git(&repo, &["config", key, value]);
        }
        if name == "lib-a" {
            std::fs::write(repo.join("VERSION"), "1.4.2\n").expect("version");
        } else {
            std::fs::write(repo.join("deps.txt"), "lib-a = { branch = \"release\" }\n")
                .expect("deps");
            let deploy = format!(
                "#!/bin/sh\n[ -e ../fail-{name} ] && {{ echo 'deploy failed'; exit 1; }}\necho {name} >> ../deploys.log\n"
            );
            std::fs::write(repo.join("deploy"), deploy).expect("deploy");
            std::fs::set_permissions(
                repo.join("deploy"),
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )
            .expect("chmod");
        }
        git(&repo, &["add", "."]);
        git(
            &repo,
            &["commit", "-q", "-m", &format!("feat: {name} begins")],
        );
        git(&repo, &["push", "-q", "origin", "main"]);
        git(&repo, &["checkout", "-q", "-b", "release"]);
        git(&repo, &["push", "-q", "-u", "origin", "release"]);
    }

    fn concord_toml(&self) -> String {
        REPOS
            .iter()
            .map(|r| format!("[[repo]]\nname = \"{r}\"\npath = \"{r}\"\n\n"))
            .collect()
    }

    fn release_toml(&self) -> String {
        let url = &self.registry.url;
        // `git archive` builds the same bytes from the same commit, so a
        // digest can prove what a registry holds is this release.
        let publish = format!(
            "git archive --format=tar.gz -o ../lib_a-$0.tar.gz HEAD VERSION && curl -sf -o /dev/null -F :action=file_upload -F content=@../lib_a-$0.tar.gz {url}/"
        );
        // The probe contract: 0 live, 1 not, anything else unknown.
        let live = format!(
            "out=$(curl -s -w ' %{{http_code}}' {url}/simple/lib-a/) || exit 3; case \"$out\" in *' 200') echo \"$out\" | grep -q \"lib_a-$0.tar.gz\" && exit 0 || exit 1;; *' 404') exit 1;; *) exit 3;; esac"
        );
        // The digest proof: the registry's sha256 of the file (its simple
        // index says it), and the sha256 of what this train builds.
        let digest = format!(
            "curl -sf {url}/simple/lib-a/ | grep -o \"lib_a-$0.tar.gz#sha256=[0-9a-f]*\" | cut -d= -f2"
        );
        let build = "git archive --format=tar.gz HEAD VERSION | sha256sum | cut -d' ' -f1";
        let repin = "[[repo.repin]]\nlibrary = \"lib-a\"\nglob = \"deps.txt\"\nregex = 'lib-a = \\{ branch = \"release\" \\}'\nreplace = 'lib-a = \"{version}\"'\n";
        let test = "test = [\"sh\", \"-c\", \"grep -q 'lib-a = \\\"1.4.2\\\"' deps.txt\"]";
        let mut text = format!(
            "[[repo]]\nname = \"lib-a\"\npath = \"lib-a\"\nrole = \"library\"\ntest = [\"sh\", \"-c\", \"true\"]\n\
             [repo.publish]\ncommand = [\"sh\", \"-c\", {publish:?}, \"{{version}}\"]\n\
             version_file = \"VERSION\"\nversion_regex = '([0-9.]+)'\n\
             is_published = [\"sh\", \"-c\", {live:?}, \"{{version}}\"]\n\
             digest = [\"sh\", \"-c\", {digest:?}, \"{{version}}\"]\n\
             build_digest = [\"sh\", \"-c\", {build:?}, \"{{version}}\"]\n\n\
             [[repo]]\nname = \"hub-app\"\npath = \"hub-app\"\nrole = \"hub\"\ndepends_on = [\"lib-a\"]\n{test}\n{repin}\
             [repo.deploy]\nkind = \"git-push\"\nremote = \"production\"\nbranch = \"main\"\n\n"
        );
        for sat in ["sat-one", "sat-two"] {
            text.push_str(&format!(
                "[[repo]]\nname = \"{sat}\"\npath = \"{sat}\"\nrole = \"satellite\"\ndepends_on = [\"lib-a\", \"hub-app\"]\n{test}\n{repin}\
                 [repo.deploy]\nkind = \"script\"\ncommand = [\"./deploy\"]\n\n"
            ));
        }
        text
    }

    fn ship(&self, args: &[&str]) -> Output {
        let mut all = vec!["ship"];
        all.extend_from_slice(args);
        run_in(self.root(), &all)
    }

    /// How many times the bare remote `remote` moved `reference`.
    fn moves(&self, remote: &str, reference: &str) -> usize {
        let bare = self.root().join(format!("remotes/{remote}.git"));
        let out = Command::new("git")
            .current_dir(bare)
            .args(["reflog", "show", "--format=%H", reference, "--"])
            .output()
            .expect("git reflog");
        if !out.status.success() {
            return 0;
        }
        String::from_utf8_lossy(&out.stdout).lines().count()
    }

    fn deploys(&self) -> Vec<String> {
        std::fs::read_to_string(self.root().join("deploys.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// `lib_a-1.4.2.tar.gz` as someone outside the train built it: a
/// `VERSION` file holding `content`.
fn foreign_tarball(w: &World, content: &str) -> PathBuf {
    let foreign = w.root().join("foreign");
    std::fs::create_dir_all(&foreign).expect("dir");
    std::fs::write(foreign.join("VERSION"), content).expect("write");
    let tarball = w.root().join("lib_a-1.4.2.tar.gz");
    let ok = Command::new("tar")
        .arg("czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&foreign)
        .arg("VERSION")
        .status()
        .expect("tar")
        .success();
    assert!(ok, "tar");
    tarball
}

fn context(out: &Output) -> String {
    format!("exit {}:\n{}\n{}", out.code, out.stdout, out.stderr)
}

/// Points 2 and 4, then a failure in the last satellite and a resume:
/// nothing published, pushed, tagged or deployed twice.
#[test]
fn a_train_ships_through_a_real_registry_and_resumes_without_doing_anything_twice() {
    let Some(w) = World::new() else { return };
    assert_eq!(w.ship(&["prepare"]).code, 0);

    // No terminal, no --yes: refused before anything moves.
    let asked = w.ship(&["run"]);
    assert_eq!(asked.code, 2, "{}", context(&asked));

    // A test command that cannot start: preflight refuses, nothing published.
    let release = w.root().join("release.toml");
    let good = std::fs::read_to_string(&release).expect("release");
    let broken = good.replacen(
        "test = [\"sh\", \"-c\", \"grep",
        "test = [\"no-such-test-runner\", \"-c\", \"grep",
        1,
    );
    std::fs::write(&release, broken).expect("write");
    let refused = w.ship(&["run", "--yes"]);
    assert_eq!(refused.code, 1, "{}", context(&refused));
    assert!(
        refused
            .stdout
            .contains("hub-app: test command `no-such-test-runner` not found"),
        "{}",
        context(&refused)
    );
    assert!(w.registry.stored().is_empty(), "nothing published");
    std::fs::write(&release, &good).expect("write");

    // The last satellite's deploy fails: the train stops there.
    std::fs::write(w.root().join("fail-sat-two"), "").expect("marker");
    let stopped = w.ship(&["run", "--yes"]);
    assert_eq!(stopped.code, 3, "{}", context(&stopped));
    assert!(
        stopped.stdout.contains("deploy sat-two"),
        "{}",
        context(&stopped)
    );
    let published = w.registry.stored();
    assert_eq!(
        published
            .iter()
            .map(|(f, _)| f.as_str())
            .collect::<Vec<_>>(),
        ["lib_a-1.4.2.tar.gz"]
    );
    assert_eq!(w.deploys(), ["sat-one"]);
    assert_eq!(w.moves("production", "refs/heads/main"), 1);

    std::fs::remove_file(w.root().join("fail-sat-two")).expect("fixed");
    let resumed = w.ship(&["resume", "--yes"]);
    assert_eq!(resumed.code, 0, "{}", context(&resumed));
    assert!(resumed.stdout.contains("shipped"), "{}", context(&resumed));

    // From the registry: the one upload, never repeated (it would refuse a
    // second one with 409 anyway, failing the train).
    assert_eq!(w.registry.stored(), published, "published once");
    // From the deploy log and the remotes' reflogs: each once.
    assert_eq!(w.deploys(), ["sat-one", "sat-two"]);
    assert_eq!(
        w.moves("production", "refs/heads/main"),
        1,
        "hub-app pushed once"
    );
    for repo in REPOS {
        let tag = format!("refs/tags/release-1/{repo}");
        assert_eq!(w.moves(repo, &tag), 1, "{repo}: tagged once");
        // main: created by the setup, then fast-forwarded once by the
        // train where it ships a commit of its own (the apps' re-pin);
        // lib-a ships the commit main already has.
        let expected = if repo == "lib-a" { 1 } else { 2 };
        assert_eq!(
            w.moves(repo, "refs/heads/main"),
            expected,
            "{repo}: main moved once at most"
        );
        let shipped = git(&w.root().join(repo), &["rev-parse", "refs/heads/release"]);
        let bare = w.root().join(format!("remotes/{repo}.git"));
        assert_eq!(git(&bare, &["rev-parse", "main"]), shipped, "{repo}");
        assert_eq!(git(&bare, &["rev-parse", &tag]), shipped, "{repo}");
    }
    let again = w.ship(&["resume", "--yes"]);
    assert_eq!(again.code, 0, "{}", context(&again));
    assert_eq!(
        w.deploys(),
        ["sat-one", "sat-two"],
        "nothing deployed again"
    );
}

/// Point 1: a version someone else uploaded first (other content) stops
/// the train at preflight; accepted by the release manager, the train
/// ships without uploading it again and the registry keeps the foreign file.
#[test]
fn a_version_someone_else_uploaded_stops_the_train_until_accepted() {
    let Some(w) = World::new() else { return };
    let tarball = foreign_tarball(&w, "someone else's 1.4.2\n");
    w.registry.upload(&tarball);
    let before = w.registry.stored();

    assert_eq!(w.ship(&["prepare"]).code, 0);
    let refused = w.ship(&["run", "--yes"]);
    assert_eq!(refused.code, 1, "{}", context(&refused));
    assert!(
        refused.stdout.contains(
            "lib-a: version 1.4.2 of lib-a is already live, but this train did not publish it"
        ),
        "{}",
        context(&refused)
    );
    assert!(w.deploys().is_empty());
    assert_eq!(w.moves("production", "refs/heads/main"), 0);

    let accepted = w.ship(&["run", "--yes", "--accept-live", "lib-a@1.4.2"]);
    assert_eq!(accepted.code, 0, "{}", context(&accepted));
    assert_eq!(w.registry.stored(), before, "the foreign file is untouched");
    assert_eq!(w.deploys(), ["sat-one", "sat-two"]);
    let status = w.ship(&["status"]);
    assert!(status.stdout.contains("accepted"), "{}", context(&status));
}

/// Point 1, the digest proof: a version uploaded before the train with
/// exactly what this train builds (an earlier run's upload, say) is proven
/// by its digest, journaled, and not published again; one with other
/// content is refused, both digests named.
#[test]
fn a_live_version_with_this_trains_content_is_proven_by_its_digest() {
    let Some(w) = World::new() else { return };
    let lib = w.root().join("lib-a");
    let ours = w.root().join("lib_a-1.4.2.tar.gz");
    git(
        &lib,
        &[
            "archive",
            "--format=tar.gz",
            "-o",
            &ours.display().to_string(),
            "HEAD",
            "VERSION",
        ],
    );
    w.registry.upload(&ours);
    let before = w.registry.stored();
    assert_eq!(w.ship(&["prepare"]).code, 0);
    let run = w.ship(&["run", "--yes"]);
    assert_eq!(run.code, 0, "{}", context(&run));
    assert_eq!(w.registry.stored(), before, "not uploaded again");
    let status = w.ship(&["status"]);
    assert!(
        status.stdout.contains("accepted") && status.stdout.contains("shipped"),
        "{}",
        context(&status)
    );

    // Another world: the live file has other content.
    let Some(w) = World::new() else { return };
    let tarball = foreign_tarball(&w, "tampered\n");
    w.registry.upload(&tarball);
    assert_eq!(w.ship(&["prepare"]).code, 0);
    let refused = w.ship(&["run", "--yes"]);
    assert_eq!(refused.code, 1, "{}", context(&refused));
    assert!(
        refused
            .stdout
            .contains("lib-a: the registry's digest of 1.4.2 (")
            && refused
                .stdout
                .contains("is not the digest of what this train builds ("),
        "{}",
        context(&refused)
    );
    assert!(w.deploys().is_empty());
}
