//! Files of one kind, grouped under globs a person would write: one state
//! file per feature folder is `.claude/features/*/state.json`, numbered
//! workplans are `docs/workplan-*.md`, not one source per file. Pure.

use std::collections::BTreeMap;

/// How a glob was made, which decides whether it may be narrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobKind {
    /// The same file name in sibling folders (`parent/*/state.json`):
    /// every such file is the same kind of file, so a glob match that
    /// reads badly is worth a warning, not a narrower glob.
    SiblingFolders,
    /// Several names in one folder by a pattern (`docs/workplan-*.md`).
    Pattern,
    /// The files named one by one.
    Exact,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGroup {
    pub glob: String,
    pub kind: GlobKind,
    /// Repo-relative paths of the files it was made for.
    pub members: Vec<String>,
    /// A short name for the source (`features`, `workplan`, `plan`).
    pub name: String,
}

fn split(rel: &str) -> (&str, &str) {
    match rel.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", rel),
    }
}

fn join(dir: &str, rest: &str) -> String {
    if dir.is_empty() {
        rest.to_string()
    } else {
        format!("{}/{rest}", globset::escape(dir))
    }
}

/// Group `members` (repo-relative paths of files read the same way).
pub fn group(members: &[String]) -> Vec<FileGroup> {
    let mut groups = Vec::new();
    let mut left: Vec<&str> = Vec::new();
    // file name -> parent of its folder -> files
    let mut by_name: BTreeMap<&str, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
    for rel in members {
        let (dir, name) = split(rel);
        let parent = split(dir).0;
        if dir.is_empty() {
            left.push(rel);
            continue;
        }
        by_name
            .entry(name)
            .or_default()
            .entry(parent)
            .or_default()
            .push(rel);
    }
    for (name, parents) in by_name {
        for (parent, files) in parents {
            if files.len() < 2 {
                left.extend(files);
                continue;
            }
            let base = split(parent).1;
            groups.push(FileGroup {
                glob: join(parent, &format!("*/{}", globset::escape(name))),
                kind: GlobKind::SiblingFolders,
                members: files.iter().map(|f| f.to_string()).collect(),
                name: if base.is_empty() {
                    stem(name)
                } else {
                    base.to_string()
                },
            });
        }
    }
    let mut by_dir: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for rel in left {
        let (dir, name) = split(rel);
        by_dir.entry(dir).or_default().push(name);
    }
    for (dir, names) in by_dir {
        groups.push(in_one_folder(dir, &names));
    }
    groups.sort_by(|a, b| a.glob.cmp(&b.glob));
    groups
}

fn stem(name: &str) -> String {
    name.split('.').next().unwrap_or(name).to_string()
}

/// Names in one folder: a shared prefix (`workplan-*.md`), a numbered
/// single file (`workplan-0026.md` -> `workplan-*.md`), all files of the
/// extension (`*.md`), or the one file itself.
fn in_one_folder(dir: &str, names: &[&str]) -> FileGroup {
    let members: Vec<String> = names
        .iter()
        .map(|n| {
            if dir.is_empty() {
                n.to_string()
            } else {
                format!("{dir}/{n}")
            }
        })
        .collect();
    let extension = |n: &str| n.rsplit_once('.').map(|(_, e)| e.to_string());
    let ext = extension(names[0]);
    let same_ext = names.iter().all(|n| extension(n) == ext);
    let folder = split(dir).1;
    let prefix = if names.len() == 1 {
        numbered_prefix(names[0])
    } else {
        shared_prefix(names)
    };
    match (prefix, ext, same_ext) {
        (Some(prefix), Some(ext), true) => FileGroup {
            glob: join(
                dir,
                &format!("{}*.{}", globset::escape(&prefix), globset::escape(&ext)),
            ),
            kind: GlobKind::Pattern,
            members,
            name: prefix.trim_end_matches(['-', '_', '.']).to_string(),
        },
        (None, Some(ext), true) if names.len() > 1 => FileGroup {
            glob: join(dir, &format!("*.{}", globset::escape(&ext))),
            kind: GlobKind::Pattern,
            members,
            name: if folder.is_empty() {
                ext
            } else {
                folder.to_string()
            },
        },
        _ => exact(dir, names),
    }
}

/// The files named one by one: `dir/name` or `dir/{a,b}`.
pub fn exact(dir: &str, names: &[&str]) -> FileGroup {
    let members: Vec<String> = names
        .iter()
        .map(|n| {
            if dir.is_empty() {
                n.to_string()
            } else {
                format!("{dir}/{n}")
            }
        })
        .collect();
    let glob = if names.len() == 1 {
        join(dir, &globset::escape(names[0]))
    } else {
        let listed: Vec<String> = names
            .iter()
            .map(|n| globset::escape(n).replace(',', "[,]"))
            .collect();
        join(dir, &format!("{{{}}}", listed.join(",")))
    };
    let folder = split(dir).1;
    FileGroup {
        glob,
        kind: GlobKind::Exact,
        members,
        name: if names.len() == 1 || folder.is_empty() {
            stem(names[0])
        } else {
            folder.to_string()
        },
    }
}

/// `workplan-0026.md` -> `workplan-`: a name that ends in a number or date
/// is one of a series.
fn numbered_prefix(name: &str) -> Option<String> {
    let stem = name.split('.').next()?;
    let cut = stem.rfind(['-', '_'])?;
    let tail = &stem[cut + 1..];
    let head = &stem[..=cut];
    (tail.starts_with(|c: char| c.is_ascii_digit()) && head.chars().any(char::is_alphabetic))
        .then(|| head.to_string())
}

/// The longest prefix all names share, cut back to a separator, when what
/// follows it is a number in every name (`workplan-0026`, `workplan-0027`):
/// a series. Names that merely start alike (`portal-export`,
/// `portal-invoices`) are better read as the whole folder.
fn shared_prefix(names: &[&str]) -> Option<String> {
    let first = names[0];
    let mut len = first.len();
    for name in &names[1..] {
        len = first
            .bytes()
            .zip(name.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count();
    }
    let prefix = first.get(..len)?;
    let cut = prefix.rfind(['-', '_', '.'])?;
    let prefix = &prefix[..=cut];
    let numbered = names
        .iter()
        .all(|n| n[prefix.len()..].starts_with(|c: char| c.is_ascii_digit()));
    (numbered && prefix.chars().any(char::is_alphabetic)).then(|| prefix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn matches(glob: &str, path: &str) -> bool {
        globset::GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .expect("a valid glob")
            .compile_matcher()
            .is_match(path)
    }

    #[test]
    fn state_files_in_sibling_folders_share_one_glob() {
        let groups = group(&paths(&[
            ".claude/features/a/state.json",
            ".claude/features/b/state.json",
        ]));
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].glob, ".claude/features/*/state.json");
        assert_eq!(groups[0].name, "features");
        assert_eq!(groups[0].kind, GlobKind::SiblingFolders);
    }

    #[test]
    fn series_of_files_get_a_pattern_and_single_files_stay_exact() {
        let groups = group(&paths(&["docs/workplan-0026.md", "docs/plan.md"]));
        let globs: Vec<&str> = groups.iter().map(|g| g.glob.as_str()).collect();
        assert_eq!(globs, ["docs/*.md"]);
        let groups = group(&paths(&["docs/workplan-0026.md"]));
        assert_eq!(groups[0].glob, "docs/workplan-*.md");
        assert_eq!(groups[0].name, "workplan");
        let groups = group(&paths(&["docs/plan.md"]));
        assert_eq!(groups[0].glob, "docs/plan.md");
        assert_eq!(groups[0].name, "plan");
        let groups = group(&paths(&["docs/wp-1.md", "docs/wp-22.md"]));
        assert_eq!(groups[0].glob, "docs/wp-*.md");
        let groups = group(&paths(&["content/work/p-a.md", "content/work/p-b.md"]));
        assert_eq!(groups[0].glob, "content/work/*.md");
        assert_eq!(groups[0].name, "work");
    }

    #[test]
    fn every_member_matches_its_glob_even_with_odd_names() {
        let members = paths(&["d[1]/x,y.md", "d[1]/z{2}.md", "top.md", "a b/c*d.json"]);
        for g in group(&members) {
            for m in &g.members {
                assert!(matches(&g.glob, m), "{} does not match {m}", g.glob);
            }
        }
        let g = exact("d[1]", &["x,y.md", "z{2}.md"]);
        assert!(matches(&g.glob, "d[1]/x,y.md"), "{}", g.glob);
        assert!(!matches(&g.glob, "d[1]/other.md"), "{}", g.glob);
    }
}
