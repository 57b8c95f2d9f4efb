//! Files of a repo's working tree, for the commands that look past the
//! configured sources (check, mirror, ship).

use std::path::{Path, PathBuf};

/// Every file under `root` (folders named in `skip`, and `.git`, pruned),
/// as (repo-relative path with `/` separators, full path).
pub fn walk<'a>(
    root: &'a Path,
    skip: &'a [&'a str],
) -> impl Iterator<Item = (String, PathBuf)> + 'a {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(move |e| e.file_name() != ".git" && !skip.iter().any(|s| e.file_name() == *s))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(move |e| {
            let rel = e
                .path()
                .strip_prefix(root)
                .ok()?
                .to_string_lossy()
                .replace('\\', "/");
            Some((rel, e.path().to_path_buf()))
        })
}
