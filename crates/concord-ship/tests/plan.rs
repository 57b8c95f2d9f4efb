//! Property tests of the train's pure decisions: the order invariants of
//! `plan` over random acyclic trains, cycle reports, `decide` and
//! `next_delay`; and one plan of a train read from a release config.

use concord_ship::model::{Command, Deploy, Publish, Repin, Retry, Role, Train, TrainRepo};
use concord_ship::plan::{
    DONE_BY_THIS_TRAIN, Decision, Observed, PlanError, Probe, Step, decide, next_delay, plan,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

fn cmd(line: &str) -> Command {
    Command {
        argv: line.split_whitespace().map(String::from).collect(),
        shell: false,
        timeout: Duration::from_secs(60),
    }
}

fn publish() -> Publish {
    Publish {
        command: cmd("publish"),
        version_file: "VERSION".into(),
        version_regex: "(.*)".into(),
        is_published: cmd("probe {version}"),
        is_yanked: None,
        digest: None,
        build_digest: None,
    }
}

fn repin(library: &str) -> Repin {
    Repin {
        library: library.into(),
        glob: "deps.txt".into(),
        regex: "branch".into(),
        replace: "{version}".into(),
    }
}

fn retry() -> Retry {
    Retry {
        attempts: 3,
        first_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(4),
    }
}

/// A random train whose dependencies only point to lower indexes (so it is
/// acyclic) and respect the roles (libraries depend on libraries, the hub
/// not on satellites). Names are a random permutation, so name order and
/// dependency order disagree; repos come in a random order.
#[derive(Debug, Clone)]
struct RandomTrain {
    train: Train,
    shuffled: Train,
    versions: BTreeMap<String, String>,
}

fn random_train() -> impl Strategy<Value = RandomTrain> {
    (0..10usize)
        .prop_flat_map(|n| {
            let order: Vec<usize> = (0..n).collect();
            (
                prop::collection::vec(0..3u8, n),
                prop::collection::vec(any::<bool>(), n * n),
                prop::collection::vec(any::<bool>(), n * n),
                prop::collection::vec((any::<bool>(), any::<bool>(), 0..3u8), n),
                Just(order.clone()).prop_shuffle(),
                Just(order).prop_shuffle(),
            )
        })
        .prop_map(|(roles, edges, repins, extras, names, order)| {
            let n = roles.len();
            let mut hub_taken = false;
            let roles: Vec<Role> = roles
                .into_iter()
                .map(|r| match r {
                    0 => Role::Library,
                    2 if !hub_taken => {
                        hub_taken = true;
                        Role::Hub
                    }
                    _ => Role::Satellite,
                })
                .collect();
            let name = |i: usize| format!("r{:02}", names[i]);
            let mut repos = Vec::new();
            for i in 0..n {
                let mut depends_on = Vec::new();
                let mut pins = Vec::new();
                for j in 0..i {
                    let allowed = match roles[i] {
                        Role::Library => roles[j] == Role::Library,
                        Role::Hub => roles[j] != Role::Satellite,
                        Role::Satellite => true,
                    };
                    if allowed && edges[i * n + j] {
                        depends_on.push(name(j));
                        if roles[j] == Role::Library && repins[i * n + j] {
                            pins.push(repin(&name(j)));
                        }
                    }
                }
                let (test, lock, deploy) = extras[i];
                repos.push(TrainRepo {
                    name: name(i),
                    path: name(i),
                    role: roles[i],
                    release_branch: "release".into(),
                    depends_on,
                    test: test.then(|| cmd("make test")),
                    publish: (roles[i] == Role::Library).then(publish),
                    repins: pins,
                    lock_refresh: lock.then(|| cmd("lock")),
                    deploy: match deploy {
                        0 => Deploy::None,
                        1 => Deploy::Script {
                            command: cmd("./deploy"),
                        },
                        _ => Deploy::GitPush {
                            remote: "prod".into(),
                            branch: "main".into(),
                            smoke: None,
                        },
                    },
                });
            }
            let versions = repos
                .iter()
                .filter(|r| r.role == Role::Library)
                .map(|r| (r.name.clone(), format!("1.{}.0", r.name.len())))
                .collect();
            let shuffled = Train {
                repos: order.iter().map(|&i| repos[i].clone()).collect(),
                retry: retry(),
                git: Default::default(),
                github: None,
            };
            RandomTrain {
                train: Train {
                    repos,
                    retry: retry(),
                    git: Default::default(),
                    github: None,
                },
                shuffled,
                versions,
            }
        })
}

fn position(steps: &[Step], step: &Step) -> Option<usize> {
    steps.iter().position(|s| s == step)
}

fn of_repo<'a>(steps: &'a [Step], repo: &'a str) -> impl Iterator<Item = usize> + 'a {
    steps
        .iter()
        .enumerate()
        .filter(move |(_, s)| s.repo() == Some(repo))
        .map(|(i, _)| i)
}

fn kind(step: &Step) -> u8 {
    match step {
        Step::Publish { .. } => 0,
        Step::Repin { .. } => 1,
        Step::LockRefresh { .. } => 2,
        Step::Test { .. } => 3,
        Step::Deploy { .. } => 4,
        Step::Record { .. } => 6,
        Step::Flip => 5,
    }
}

/// The positions of the steps of `kind` on repos with `role`.
fn positions(train: &Train, steps: &[Step], kind_of: u8, roles: &[Role]) -> Vec<usize> {
    steps
        .iter()
        .enumerate()
        .filter(|(_, s)| kind(s) == kind_of)
        .filter(|(_, s)| {
            s.repo()
                .and_then(|r| train.repo(r))
                .is_some_and(|r| roles.contains(&r.role))
        })
        .map(|(i, _)| i)
        .collect()
}

/// Every position in `before` is smaller than every one in `after`.
fn all_before(before: &[usize], after: &[usize]) -> bool {
    match (before.iter().max(), after.iter().min()) {
        (Some(b), Some(a)) => b < a,
        _ => true,
    }
}

const APPS: &[Role] = &[Role::Hub, Role::Satellite];
const ALL: &[Role] = &[Role::Library, Role::Hub, Role::Satellite];

proptest! {
    // No regression files: this crate's tree is not the place for them.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn plan_is_the_same_whatever_the_order_of_repos(t in random_train()) {
        let steps = plan(&t.train, &t.versions);
        prop_assert!(steps.is_ok(), "{:?}", steps);
        prop_assert_eq!(steps, plan(&t.shuffled, &t.versions));
    }

    #[test]
    fn plan_holds_exactly_the_configured_steps(t in random_train()) {
        let steps = plan(&t.shuffled, &t.versions).expect("acyclic trains plan");
        let mut expected = BTreeSet::from([Step::Flip]);
        for r in &t.train.repos {
            let repo = r.name.clone();
            if r.role == Role::Library {
                expected.insert(Step::Publish { repo: repo.clone(), version: t.versions[&repo].clone() });
            }
            if !r.repins.is_empty() {
                expected.insert(Step::Repin { repo: repo.clone() });
                if r.lock_refresh.is_some() {
                    expected.insert(Step::LockRefresh { repo: repo.clone() });
                }
            }
            if r.test.is_some() {
                expected.insert(Step::Test { repo: repo.clone() });
            }
            if r.deploy != Deploy::None {
                expected.insert(Step::Deploy { repo });
            }
        }
        let unique: BTreeSet<Step> = steps.iter().cloned().collect();
        prop_assert_eq!(unique.len(), steps.len(), "no step twice");
        prop_assert_eq!(unique, expected);
        prop_assert_eq!(steps.last(), Some(&Step::Flip));
    }

    #[test]
    fn plan_respects_every_dependency(t in random_train()) {
        let steps = plan(&t.train, &t.versions).expect("acyclic trains plan");
        for r in &t.train.repos {
            for dep in &r.depends_on {
                let Some(d) = t.train.repo(dep) else { continue };
                if d.role == Role::Library {
                    // The dependency is live before the dependent moves.
                    let published = position(&steps, &Step::Publish {
                        repo: dep.clone(),
                        version: t.versions[dep].clone(),
                    });
                    prop_assert!(published.is_some());
                    for at in of_repo(&steps, &r.name) {
                        prop_assert!(published < Some(at), "{} before {}", dep, steps[at]);
                    }
                } else {
                    // Between apps: each stage of the dependency first.
                    for s in of_repo(&steps, &r.name) {
                        for d_at in of_repo(&steps, dep) {
                            if kind(&steps[s]) == kind(&steps[d_at]) {
                                prop_assert!(d_at < s, "{} before {}", steps[d_at], steps[s]);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn plan_runs_stage_by_stage(t in random_train()) {
        let train = &t.train;
        let steps = plan(train, &t.versions).expect("acyclic trains plan");
        let publishes = positions(train, &steps, 0, ALL);
        let app_repins = positions(train, &steps, 1, APPS);
        let app_locks = positions(train, &steps, 2, APPS);
        let app_tests = positions(train, &steps, 3, APPS);
        let all_repins = positions(train, &steps, 1, ALL);
        let all_tests = positions(train, &steps, 3, ALL);
        let deploys = positions(train, &steps, 4, ALL);
        // Apps move once every library is live, one stage across all apps
        // before the next.
        prop_assert!(all_before(&publishes, &app_repins));
        prop_assert!(all_before(&publishes, &app_tests));
        prop_assert!(all_before(&app_repins, &app_locks));
        prop_assert!(all_before(&app_locks, &app_tests));
        // Nothing deploys before everything is published, pinned and tested.
        prop_assert!(all_before(&publishes, &deploys));
        prop_assert!(all_before(&all_repins, &deploys));
        prop_assert!(all_before(&all_tests, &deploys));
        // A library is pinned, refreshed and tested before it publishes.
        for r in train.repos.iter().filter(|r| r.role == Role::Library) {
            let rank = |s: &Step| match kind(s) {
                0 => 4, // publish: after re-pin (1), lock (2) and test (3)
                k => k + u8::from(k == 4), // deploy: after publish
            };
            let mine: Vec<&Step> = of_repo(&steps, &r.name).map(|i| &steps[i]).collect();
            prop_assert!(mine.windows(2).all(|w| rank(w[0]) < rank(w[1])), "{:?}", mine);
            let published = mine.iter().position(|s| kind(s) == 0);
            let deployed = mine.iter().position(|s| kind(s) == 4);
            prop_assert!(published.is_some());
            prop_assert!(mine.len() == published.map_or(0, |p| p + 1) + usize::from(deployed.is_some()));
        }
        // The hub deploys first, then satellites, then libraries.
        let hub = positions(train, &steps, 4, &[Role::Hub]);
        let satellites = positions(train, &steps, 4, &[Role::Satellite]);
        let libraries = positions(train, &steps, 4, &[Role::Library]);
        prop_assert!(all_before(&hub, &satellites));
        prop_assert!(all_before(&satellites, &libraries));
        prop_assert!(all_before(&hub, &libraries));
    }

    #[test]
    fn a_cycle_is_reported_as_a_real_cycle(
        t in random_train(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..5),
    ) {
        // Satellites only, so roles cannot get in the way; then close a loop.
        let mut train = t.shuffled.clone();
        prop_assume!(!train.repos.is_empty());
        for r in &mut train.repos {
            r.role = Role::Satellite;
            r.publish = None;
            r.repins.clear();
        }
        let names: Vec<String> = train.repos.iter().map(|r| r.name.clone()).collect();
        let mut chosen: Vec<String> = picks.iter().map(|i| i.get(&names).clone()).collect();
        chosen.dedup();
        for (k, from) in chosen.iter().enumerate() {
            let to = chosen[(k + 1) % chosen.len()].clone();
            if let Some(r) = train.repos.iter_mut().find(|r| &r.name == from) {
                r.depends_on.push(to);
            }
        }
        let result = plan(&train, &BTreeMap::new());
        let Err(PlanError::Cycle(cycle)) = result.clone() else {
            return Err(TestCaseError::fail(format!("expected a cycle, got {result:?}")));
        };
        let distinct: BTreeSet<&String> = cycle.iter().collect();
        prop_assert_eq!(distinct.len(), cycle.len());
        prop_assert_eq!(cycle.iter().min(), cycle.first());
        for (k, from) in cycle.iter().enumerate() {
            let to = &cycle[(k + 1) % cycle.len()];
            let repo = train.repo(from).expect("a repo of the train");
            prop_assert!(repo.depends_on.contains(to), "{} -> {} is an edge", from, to);
        }
        // The same cycle however the repos are ordered.
        train.repos.reverse();
        prop_assert_eq!(plan(&train, &BTreeMap::new()), Err(PlanError::Cycle(cycle)));
    }

    #[test]
    fn decide_never_publishes_on_a_guess(
        journaled in any::<bool>(),
        vouched in any::<bool>(),
        probe in prop::option::of(prop_oneof![
            Just(Probe::Done), Just(Probe::NotDone), Just(Probe::Unknown("503".into()))
        ]),
        yank in prop::option::of(prop_oneof![
            Just(Probe::Done), Just(Probe::NotDone), Just(Probe::Unknown("timeout".into()))
        ]),
        which in 0..6u8,
    ) {
        let step = match which {
            0 => Step::Publish { repo: "lib".into(), version: "1.0.0".into() },
            1 => Step::Repin { repo: "lib".into() },
            2 => Step::LockRefresh { repo: "lib".into() },
            3 => Step::Test { repo: "lib".into() },
            4 => Step::Deploy { repo: "lib".into() },
            _ => Step::Flip,
        };
        let mut observed = Observed::default();
        if journaled {
            observed.done_in_journal.insert(step.clone());
        }
        if let Some(p) = &probe {
            observed.probes.insert(step.clone(), p.clone());
        }
        if let Some(y) = &yank {
            observed.yanked.insert("lib".into(), y.clone());
        }
        if vouched {
            observed.vouched.insert(step.clone());
        }
        let decision = decide(&step, &observed);
        if journaled {
            prop_assert_eq!(decision, Decision::Skip(DONE_BY_THIS_TRAIN.into()));
            return Ok(());
        }
        prop_assert_ne!(&decision, &Decision::Skip(DONE_BY_THIS_TRAIN.into()));
        let is_publish = matches!(step, Step::Publish { .. });
        let yank_clear = matches!(yank, None | Some(Probe::NotDone));
        match &decision {
            // A publish runs only on a clear "not live" and a clear "not yanked".
            Decision::Run if is_publish => {
                prop_assert!(probe == Some(Probe::NotDone) && yank_clear)
            }
            // Other steps run unless they are known done or a deploy is unknown.
            Decision::Run => prop_assert!(probe != Some(Probe::Done)),
            // A live version is skipped only when this train vouches for
            // it (its own earlier attempt, or accepted): never someone
            // else's artifact on a guess.
            Decision::Skip(_) => {
                prop_assert_eq!(probe, Some(Probe::Done));
                prop_assert!(!is_publish || (yank_clear && vouched));
            }
            Decision::Abort(_) if is_publish => {
                prop_assert!(!yank_clear || probe != Some(Probe::Done) || !vouched)
            }
            Decision::Abort(_) => {
                let deploy = matches!(step, Step::Deploy { .. });
                prop_assert!(deploy, "only a deploy aborts: {}", step);
                prop_assert!(matches!(probe, Some(Probe::Unknown(_))));
            }
        }
    }

    #[test]
    fn next_delay_grows_within_bounds_and_stops(
        attempts in 0..20u32,
        first_ms in 0..10_000u64,
        max_ms in 0..100_000u64,
    ) {
        let retry = Retry {
            attempts,
            first_delay: Duration::from_millis(first_ms),
            max_delay: Duration::from_millis(max_ms),
        };
        let mut last = Duration::ZERO;
        for attempt in 1..attempts.max(1) {
            let delay = next_delay(&retry, attempt);
            prop_assert!(delay.is_some(), "attempt {} of {}", attempt, attempts);
            let delay = delay.unwrap_or_default();
            prop_assert!(delay >= last && delay <= retry.max_delay);
            if attempt == 1 {
                prop_assert_eq!(delay, retry.first_delay.min(retry.max_delay));
            }
            last = delay;
        }
        for attempt in attempts.max(1)..attempts.max(1) + 3 {
            prop_assert_eq!(next_delay(&retry, attempt), None);
        }
    }
}

#[test]
fn a_configured_train_plans() {
    let text = r#"
[[repo]]
name = "lib-a"
path = "lib-a"
role = "library"
test = ["make", "test"]
[repo.publish]
command = ["./publish", "{version}"]
version_file = "VERSION"
version_regex = '([0-9.]+)'
is_published = ["./probe", "{version}"]

[[repo]]
name = "sat"
path = "sat"
role = "satellite"
depends_on = ["hub"]
[repo.deploy]
kind = "script"
command = ["./deploy"]

[[repo]]
name = "hub"
path = "hub"
role = "hub"
depends_on = ["lib-a"]
test = ["make", "test"]
lock_refresh = ["./lock"]
[[repo.repin]]
library = "lib-a"
glob = "Gemfile"
regex = 'branch: "release"'
replace = '"~> {version}"'
[repo.deploy]
kind = "git-push"
remote = "production"
branch = "main"

[[repo]]
name = "docs"
path = "docs"
role = "satellite"
[repo.deploy]
kind = "none"
"#;
    let train = concord_ship::config::parse(Path::new("release.toml"), text).expect("valid");
    let versions = BTreeMap::from([("lib-a".to_string(), "1.2.0".to_string())]);
    let shown: Vec<String> = plan(&train, &versions)
        .expect("plans")
        .iter()
        .map(Step::to_string)
        .collect();
    assert_eq!(
        shown,
        [
            "test lib-a",
            "publish lib-a 1.2.0",
            "re-pin hub",
            "refresh lock hub",
            "test hub",
            "deploy hub",
            "deploy sat",
            // [train.git] is on unless it says otherwise.
            "record lib-a in git",
            "record docs in git",
            "record hub in git",
            "record sat in git",
            "flip release record",
        ]
    );
    assert_eq!(
        train.git.tag_name("hub", "release", 7, None),
        "release-7/hub"
    );

    let off = format!("[train.git]\nenabled = false\n{text}");
    let train = concord_ship::config::parse(Path::new("release.toml"), &off).expect("valid");
    let steps = plan(&train, &versions).expect("plans");
    assert!(!steps.iter().any(|s| matches!(s, Step::Record { .. })));

    for (github, says) in [
        (
            "[train.git]\nenabled = false\n[train.github]\nrepos = { hub = \"acme/hub\" }\n",
            "[train.git] must be on",
        ),
        (
            "[train.github]\nrepos = { nowhere = \"acme/x\" }\n",
            "`nowhere`, which is not a repo of the train",
        ),
        (
            "[train.github]\nrepos = { hub = \"acme\" }\n",
            "not a GitHub repository of the form owner/name",
        ),
    ] {
        let bad = format!("{github}{text}");
        let error = concord_ship::config::parse(Path::new("release.toml"), &bad)
            .expect_err("a bad [train.github]");
        assert!(error.to_string().contains(says), "{error}");
    }
    let good = format!("[train.github]\nrepos = {{ hub = \"acme/hub\" }}\n{text}");
    let train = concord_ship::config::parse(Path::new("release.toml"), &good).expect("valid");
    let github = train.github.expect("github");
    assert_eq!(
        (github.url.as_str(), github.token_env.as_str()),
        ("https://api.github.com", "GITHUB_TOKEN")
    );

    for (tag, says) in [
        ("v{version}", "needs `{repo}`"),
        ("{repo}-{when}", "unknown placeholder `{when}`"),
    ] {
        let bad = format!("[train.git]\ntag = \"{tag}\"\n{text}");
        let error = concord_ship::config::parse(Path::new("release.toml"), &bad)
            .expect_err("a bad tag template");
        assert!(error.to_string().contains(says), "{error}");
        assert!(
            error.location.starts_with("release.toml:2:"),
            "{}",
            error.location
        );
    }
}
