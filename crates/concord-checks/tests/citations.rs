//! Citation extraction over the real corpus and large inputs, the cache
//! file, and [`GitHubResolver`] against the fake GitHub over real HTTP.

use concord_checks::citations::{
    Citation, CitationCache, CitationContext, CitedAt, GitHubResolver, Resolution, Resolver,
    distinct, extract, extract_all,
};
use concord_fakes::github::FakeGitHub;
use concord_trackers::github::GitHub;
use concord_trackers::http::RetryPolicy;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/fittracker2"
);
const TOKEN: &str = "ghp_citations_test";

fn fittracker_context() -> CitationContext {
    CitationContext {
        default_repo: Some("Regevba/FitTracker2".into()),
        owners: BTreeMap::from([
            ("fitme-story".to_string(), "Regevba".to_string()),
            ("FT2".to_string(), "Regevba/FitTracker2".to_string()),
        ]),
        default_owner: Some("Regevba".into()),
    }
}

/// The case studies and feature state files, read in place.
fn corpus_files() -> Option<Vec<PathBuf>> {
    let root = Path::new(CORPUS);
    if !root.is_dir() {
        return None;
    }
    let mut files = Vec::new();
    let studies = root.join("docs/case-studies");
    for entry in std::fs::read_dir(studies).expect("case studies") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    for entry in std::fs::read_dir(root.join(".claude/features")).expect("features") {
        let state = entry.expect("entry").path().join("state.json");
        if state.is_file() {
            files.push(state);
        }
    }
    files.sort();
    Some(files)
}

#[test]
fn the_corpus_yields_plausible_citations() {
    let Some(files) = corpus_files() else {
        eprintln!("skipped: no corpus at {CORPUS}");
        return;
    };
    let ctx = fittracker_context();
    let mut all: Vec<CitedAt> = Vec::new();
    let mut unqualified = 0;
    let mut citing_files = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("corpus file");
        let found = extract_all(&text, &ctx);
        let lines: Vec<&str> = text.split('\n').collect();
        for c in &found.cited {
            // Every reported span is what is written there.
            let line: Vec<char> = lines[c.line as usize - 1].chars().collect();
            let written: String = line[c.column as usize - 1..c.end_column as usize - 1]
                .iter()
                .collect();
            assert_eq!(written, c.text, "{}:{}", path.display(), c.line);
        }
        citing_files += usize::from(!found.cited.is_empty());
        unqualified += found.unqualified.len();
        all.extend(found.cited);
    }
    let set = distinct(&all);
    eprintln!(
        "{} files ({citing_files} citing): {} citations, {} distinct, {unqualified} unqualified",
        files.len(),
        all.len(),
        set.len()
    );
    assert!(files.len() > 100, "{} files", files.len());
    assert!(all.len() > 500, "only {} citations", all.len());
    assert!(set.len() > 200, "only {} distinct", set.len());
    assert!(set.len() < all.len() / 2, "de-duplication hardly helped");
    assert!(citing_files > files.len() / 2);
    // Everything is qualified with a default repository and owner.
    assert_eq!(unqualified, 0);
    // The two repositories of the project dominate; numbers are sane.
    let main = set
        .iter()
        .filter(|c| c.repo == "regevba/fittracker2")
        .count();
    let story = set
        .iter()
        .filter(|c| c.repo == "regevba/fitme-story")
        .count();
    assert!(main + story > set.len() * 9 / 10, "{set:?}");
    assert!(story > 10);
    assert!(
        set.iter()
            .filter(|c| c.repo.starts_with("regevba/"))
            .all(|c| c.number < 2_000),
        "{set:?}"
    );
    // Known citations from the case-study index and a state file.
    for known in [
        "regevba/fittracker2#142",
        "regevba/fitme-story#95",
        "regevba/fittracker2#311",
    ] {
        let c: Citation = known.parse().expect("citation");
        assert!(set.contains(&c), "{known} not found");
    }
}

#[test]
fn an_enormous_file_extracts_and_deduplicates() {
    let ctx = fittracker_context();
    let mut text = String::new();
    let mut expected = 0;
    for i in 0..20_000u64 {
        // Each of the five forms cites every number of 1..=500.
        let n = i / 5 % 500 + 1;
        match i % 5 {
            0 => text.push_str(&format!("- Shipped in PR #{n}, see #{} too.\n", n + 1)),
            1 => text.push_str(&format!(
                "| [#{n}](https://github.com/Regevba/FitTracker2/pull/{n}) | é🚀 |\n"
            )),
            2 => text.push_str(&format!("Cross-repo [fitme-story#{n}] and o/r#{n}\n")),
            3 => text.push_str("```\nPR #9999 in a fence\n```\nplain prose with #12 and #fff\n"),
            _ => text.push_str(&format!(
                "{{\"pr_ref\": \"https://github.com/o/r/issues/{n}\"}}\n"
            )),
        }
        expected += [1, 1, 2, 0, 1][(i % 5) as usize];
    }
    // A single line of thousands of links (a minified table).
    let links: String = (1..=5_000)
        .map(|n| format!("[PR #{n}](https://github.com/o/r/pull/{n}) #{n} "))
        .collect();
    text.push_str(&links);
    text.push('\n');
    expected += 5_000;
    // A single line with thousands of citations, as minified JSON has.
    let one_line: String = (1..=5_000).map(|n| format!("\"PR #{n}\",")).collect();
    text.push_str(&one_line);
    expected += 5_000;
    let cites = extract(&text, &ctx);
    assert_eq!(cites.len(), expected);
    let set = distinct(&cites);
    // fittracker2 1..=5000, fitme-story 1..=500, o/r 1..=5000.
    assert_eq!(set.len(), 5_000 + 500 + 5_000);
    let last = cites.last().expect("cites");
    assert_eq!(last.citation, Citation::new("regevba/fittracker2", 5_000));
    assert_eq!(
        last.column as usize,
        one_line.chars().count() - "\"PR #5000\",".len() + 2
    );
}

#[test]
fn the_cache_file_round_trips_sorted_and_stable() {
    let dir = std::env::temp_dir().join(format!("concord-citations-{}", std::process::id()));
    let path = dir.join("nested/citations.json");
    let _ = std::fs::remove_dir_all(&dir);
    // A cache that does not exist yet is empty.
    assert!(CitationCache::load(&path).expect("load").is_empty());

    let mut cache = CitationCache::new();
    for (repo, n, answer) in [
        ("o/r", 10, Resolution::Exists),
        ("o/r", 9, Resolution::Missing),
        ("A/B", 2, Resolution::Exists),
        ("o/r-x", 1, Resolution::Exists),
    ] {
        cache.insert(Citation::new(repo, n), &answer);
    }
    cache.save(&path).expect("save");
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(
        text,
        "{\n  \"version\": 1,\n  \"citations\": {\n    \"a/b#2\": \"exists\",\n    \"o/r#9\": \"missing\",\n    \"o/r#10\": \"exists\",\n    \"o/r-x#1\": \"exists\"\n  }\n}\n"
    );
    let loaded = CitationCache::load(&path).expect("load");
    assert_eq!(loaded, cache);
    loaded.save(&path).expect("save again");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.join("nested"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["citations.json"]);

    for bad in [
        "{\"version\": 2, \"citations\": {}}",
        "{\"version\": 1, \"citations\": {\"o/r\": \"exists\"}}",
        "{\"version\": 1, \"citations\": {\"o/r#1\": \"maybe\"}}",
        "not json",
    ] {
        std::fs::write(&path, bad).expect("write");
        let err = CitationCache::load(&path).expect_err(bad);
        assert!(err.to_string().contains("citations.json"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fake GitHub with `o/r`: issue 1, pull 2 (merged), pull 3 (open).
fn fake() -> FakeGitHub {
    let fake = FakeGitHub::start(TOKEN).expect("fake GitHub");
    fake.add_repo("o/r");
    assert_eq!(fake.add_issue("o/r", "An issue", "open", &[]), 1);
    assert_eq!(fake.add_pull("o/r", "feature", "main", true), 2);
    assert_eq!(fake.add_pull("o/r", "other", "main", false), 3);
    fake
}

fn client(fake: &FakeGitHub, token: &str) -> GitHub {
    GitHub::new(&fake.url(), token)
        .expect("client")
        .with_retry(RetryPolicy {
            attempts: 1,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        })
}

fn wanted(numbers: &[(&str, u64)]) -> BTreeSet<Citation> {
    numbers.iter().map(|&(r, n)| Citation::new(r, n)).collect()
}

#[test]
fn github_answers_exists_and_missing_and_the_cache_spares_requests() {
    let fake = fake();
    let resolver = GitHubResolver::new(client(&fake, TOKEN), CitationCache::new());
    let asked = wanted(&[
        ("o/r", 1),
        ("o/r", 2),
        ("O/R", 3),
        ("o/r", 4),
        ("o/gone", 1),
    ]);
    let answers = resolver.resolve(&asked);
    let c = |r: &str, n| Citation::new(r, n);
    assert_eq!(answers.len(), 5);
    assert_eq!(answers[&c("o/r", 1)], Resolution::Exists);
    assert_eq!(answers[&c("o/r", 2)], Resolution::Exists);
    assert_eq!(answers[&c("o/r", 3)], Resolution::Exists);
    assert_eq!(answers[&c("o/r", 4)], Resolution::Missing);
    assert_eq!(answers[&c("o/gone", 1)], Resolution::Missing);
    assert_eq!(fake.control().count("GET", "/repos/"), 5);
    assert_eq!(resolver.cache().len(), 5);

    // Everything is known now: no request at all.
    fake.control().clear_log();
    assert_eq!(resolver.resolve(&asked), answers);
    assert!(fake.control().requests().is_empty());

    // Only the new citation is asked about; a cache handed over works too.
    let resolver = GitHubResolver::new(client(&fake, TOKEN), resolver.into_cache());
    let more = wanted(&[("o/r", 1), ("o/r", 4), ("o/r", 5)]);
    let answers = resolver.resolve(&more);
    assert_eq!(answers[&c("o/r", 5)], Resolution::Missing);
    assert_eq!(fake.control().count("GET", "/repos/"), 1);

    // Missing answers can be asked about again, once a number exists.
    fake.control().clear_log();
    assert_eq!(fake.add_issue("o/r", "Later", "open", &[]), 4);
    let resolver = resolver.recheck_missing(true);
    let answers = resolver.resolve(&wanted(&[("o/r", 1), ("o/r", 4)]));
    assert_eq!(answers[&c("o/r", 4)], Resolution::Exists);
    assert_eq!(fake.control().count("GET", "/repos/"), 1);
    assert_eq!(resolver.cache().get(&c("o/r", 4)), Some(Resolution::Exists));
}

#[test]
fn many_citations_are_asked_concurrently() {
    let fake = fake();
    fake.control().set_latency(Duration::from_millis(20));
    let resolver =
        GitHubResolver::new(client(&fake, TOKEN), CitationCache::new()).with_concurrency(8);
    let asked: BTreeSet<_> = (1..=40).map(|n| Citation::new("o/r", n)).collect();
    let answers = resolver.resolve(&asked);
    assert_eq!(answers.len(), 40);
    let exists = answers
        .values()
        .filter(|r| **r == Resolution::Exists)
        .count();
    assert_eq!(exists, 3);
    assert!(answers.values().all(Resolution::is_definite));
    assert_eq!(fake.control().count("GET", "/repos/"), 40);
}

#[test]
fn an_exhausted_rate_limit_is_unknown_never_missing() {
    let fake = fake();
    fake.exhaust_rate_limit(Duration::from_secs(3600));
    let resolver = GitHubResolver::new(client(&fake, TOKEN), CitationCache::new());
    let asked = wanted(&[("o/r", 1), ("o/r", 4), ("o/r", 5), ("o/r", 6)]);
    let answers = resolver.resolve(&asked);
    assert_eq!(answers.len(), 4);
    for answer in answers.values() {
        assert!(
            matches!(answer, Resolution::Unknown(m) if m.contains("rate limit")),
            "{answer:?}"
        );
    }
    // Nothing is remembered, and the first refusal stopped the rest.
    assert!(resolver.cache().is_empty());
    assert!(fake.control().count("GET", "/repos/") < 4 + 8);

    // A limit that runs out part-way: answers before it are kept.
    let fake = self::fake();
    fake.set_rate_limit(2);
    let resolver =
        GitHubResolver::new(client(&fake, TOKEN), CitationCache::new()).with_concurrency(1);
    let answers = resolver.resolve(&wanted(&[("o/r", 1), ("o/r", 4), ("o/r", 5), ("o/r", 6)]));
    let definite = answers.values().filter(|r| r.is_definite()).count();
    assert_eq!(definite, 2, "{answers:?}");
    for n in [5, 6] {
        assert!(!answers[&Citation::new("o/r", n)].is_definite());
    }
    assert_eq!(resolver.cache().len(), 2);
    assert_eq!(fake.control().count("GET", "/repos/"), 3);
}

#[test]
fn a_wrong_token_is_unknown_never_missing() {
    let fake = fake();
    let resolver = GitHubResolver::new(client(&fake, "ghp_wrong"), CitationCache::new());
    let answers = resolver.resolve(&wanted(&[("o/r", 1), ("o/r", 4)]));
    for answer in answers.values() {
        assert!(
            matches!(answer, Resolution::Unknown(m) if m.contains("token")),
            "{answer:?}"
        );
    }
    assert!(resolver.cache().is_empty());
}

#[test]
fn a_server_that_is_down_is_unknown() {
    let url = {
        let fake = fake();
        fake.url()
    };
    let client = GitHub::new(&url, TOKEN)
        .expect("client")
        .with_retry(RetryPolicy {
            attempts: 1,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        });
    let resolver = GitHubResolver::new(client, CitationCache::new());
    let answers = resolver.resolve(&wanted(&[("o/r", 1), ("o/r", 2), ("o/r", 3)]));
    assert_eq!(answers.len(), 3);
    assert!(answers.values().all(|r| !r.is_definite()), "{answers:?}");
}
