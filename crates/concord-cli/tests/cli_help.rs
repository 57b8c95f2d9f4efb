//! The command-line reference in `docs/commands/` is generated from the
//! same clap definitions as `--help` (one page per command), so docs and
//! code cannot drift apart unnoticed. After a deliberate change, refresh it
//! with `UPDATE_SNAPSHOTS=1 cargo test -p concord-cli --test cli_help`.

mod common;
use common::run_in;

fn pages_dir() -> std::path::PathBuf {
    common::project_root().join("docs/commands")
}

/// The page of `concord ARGS`: its first help line as the summary, then
/// the whole help as it prints.
fn page(command: &str, help: &str) -> String {
    let about = help.lines().next().unwrap_or_default();
    format!(
        "# {command}\n\n{about}\n\n```text\n$ {command} --help\n{help}```\n\n\
         Generated from `{command} --help`; see [all commands](README.md).\n"
    )
}

/// Check (or with UPDATE_SNAPSHOTS, write) the page of `concord ARGS`.
fn check(file: &str, args: &[&str]) -> String {
    let out = run_in(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let command = std::iter::once("concord")
        .chain(args.iter().copied().filter(|a| *a != "--help"))
        .collect::<Vec<_>>()
        .join(" ");
    let text = page(&command, &out.stdout);
    let path = pages_dir().join(file);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(pages_dir()).expect("docs/commands");
        std::fs::write(&path, &text).expect("write page");
    } else {
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            text, expected,
            "`{command} --help` changed; if that is intended, rerun with UPDATE_SNAPSHOTS=1"
        );
    }
    out.stdout
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
/// page of `docs/commands/`, listed in its README; a page no command has
/// any more is an error too, so a removed command is reviewed like a
/// changed one.
#[test]
fn help_reference() {
    let mut expected_files = std::collections::BTreeSet::new();
    let mut index = Vec::new();
    let mut queue: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(path) = queue.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let file = if path.is_empty() {
            "concord.md".to_string()
        } else {
            format!("concord-{}.md", path.join("-"))
        };
        let help = check(&file, &args);
        let about = help.lines().next().unwrap_or_default().to_string();
        index.push((path.join(" "), file.clone(), about));
        expected_files.insert(file);
        for sub in subcommands(&help) {
            let mut next = path.clone();
            next.push(sub);
            queue.push(next);
        }
    }
    assert!(expected_files.len() > 20, "{expected_files:?}");
    index.sort();
    let mut readme = String::from(
        "# Command reference\n\nOne page per command, generated from the same definitions as \
         `--help` (a test keeps them equal).\n\n| command | what it does |\n| --- | --- |\n",
    );
    for (command, file, about) in &index {
        let name = format!("concord {command}");
        readme.push_str(&format!("| [`{}`]({file}) | {about} |\n", name.trim()));
    }
    let readme_path = pages_dir().join("README.md");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&readme_path, &readme).expect("write index");
    } else {
        let expected = std::fs::read_to_string(&readme_path).unwrap_or_default();
        assert_eq!(
            readme, expected,
            "docs/commands/README.md: rerun with UPDATE_SNAPSHOTS=1"
        );
        let stale: Vec<String> = std::fs::read_dir(pages_dir())
            .expect("docs/commands")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|f| f != "README.md" && !expected_files.contains(f))
            .collect();
        assert!(
            stale.is_empty(),
            "pages of commands that are gone: {stale:?}"
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

/// `concord manpages DIR` writes a page for the binary and every command
/// the help lists, needs no workspace, and groff reads each without a
/// warning.
#[test]
fn man_pages_cover_every_command() {
    let nowhere = tempfile::tempdir().expect("temp dir");
    let dir = nowhere.path().join("man1");
    let out = run_in(nowhere.path(), &["manpages", dir.to_str().expect("utf-8")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let documented: Vec<String> = std::fs::read_dir(pages_dir())
        .expect("docs/commands")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|f| f.strip_suffix(".md").map(str::to_string))
        .filter(|f| f != "README")
        .collect();
    assert!(documented.len() > 20, "{documented:?}");
    let groff = std::process::Command::new("groff")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    for name in &documented {
        let page = dir.join(format!("{name}.1"));
        let text = std::fs::read_to_string(&page)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", page.display(), out.stdout));
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{name}: {text}"
        );
        if groff {
            let rendered = std::process::Command::new("groff")
                .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
                .arg(&page)
                .output()
                .expect("groff");
            let warnings = String::from_utf8_lossy(&rendered.stderr);
            assert!(warnings.trim().is_empty(), "{name}: {warnings}");
        }
    }
    if !groff {
        println!("groff not installed: the pages were not rendered");
    }
}

/// Every relative link of README.md and docs/ points at a file of the
/// repository: nothing outside it (such as `../shared/`), nothing missing.
#[test]
fn readme_and_docs_links_stay_inside_the_repository() {
    let root = common::project_root();
    let mut pages = vec![root.join("README.md"), root.join("BENCHMARKS.md")];
    for entry in walk(&root.join("docs")) {
        if entry.extension().is_some_and(|e| e == "md") {
            pages.push(entry);
        }
    }
    let link = markdown_links();
    let mut problems = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("page");
        // Benchmarks may name the corpus beside the clone; the README may not.
        if page.ends_with("README.md") && text.contains("../shared") {
            problems.push(format!("{}: mentions ../shared", page.display()));
        }
        for target in link(&text) {
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let path = target.split('#').next().unwrap_or_default();
            let resolved = page.parent().expect("parent").join(path);
            let inside = resolved
                .canonicalize()
                .is_ok_and(|p| p.starts_with(root.canonicalize().expect("root")));
            if !inside {
                problems.push(format!("{}: link to `{target}`", page.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Markdown without its code: fenced blocks and `inline spans`, where a
/// `[text](target)` is an example, not a link.
fn without_code(text: &str) -> String {
    let mut prose = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            let spans: Vec<&str> = line.split('`').collect();
            prose.extend(spans.iter().step_by(2).copied());
            prose.push('\n');
        }
    }
    prose
}

/// The targets of markdown links `[text](target)` in `text`, outside code.
fn markdown_links() -> impl Fn(&str) -> Vec<String> {
    |text: &str| {
        let text = without_code(text);
        let mut targets = Vec::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                targets.push(rest[..end].trim().to_string());
            }
        }
        targets
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").filter_map(|e| e.ok()) {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
