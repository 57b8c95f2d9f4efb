//! Key templates such as `wp#{1}`, `{dir}/{id}` or `{/feature}`: literal text
//! with placeholders. Path placeholders (`{dir}`, `{stem}`, `{file}`,
//! `{path}`) come from the file's path; every other name is looked up in the
//! item by its format (a field, a column, a regex group, a JSON pointer).

use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Path(PathPart),
    Lookup(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathPart {
    /// Name of the folder holding the file.
    Dir,
    /// File name without its last extension.
    Stem,
    /// File name.
    File,
    /// Repo-relative path.
    Path,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("key template `{template}`: `{{` at byte {at} is never closed")]
    Unclosed { template: String, at: usize },
    #[error("key template `{template}`: empty placeholder `{{}}`")]
    Empty { template: String },
    #[error("key template `{template}`: `}}` at byte {at} has no opening `{{`")]
    StrayClose { template: String, at: usize },
    #[error("key template `{template}` has no placeholder, so every item would get the same key")]
    NoPlaceholder { template: String },
}

impl KeyTemplate {
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = template.char_indices().peekable();
        while let Some((at, ch)) = rest.next() {
            match ch {
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for (_, c) in rest.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        return Err(TemplateError::Unclosed {
                            template: template.into(),
                            at,
                        });
                    }
                    let name = name.trim();
                    if name.is_empty() {
                        return Err(TemplateError::Empty {
                            template: template.into(),
                        });
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(match name {
                        "dir" => Part::Path(PathPart::Dir),
                        "stem" => Part::Path(PathPart::Stem),
                        "file" => Part::Path(PathPart::File),
                        "path" => Part::Path(PathPart::Path),
                        other => Part::Lookup(other.to_string()),
                    });
                }
                '}' => {
                    return Err(TemplateError::StrayClose {
                        template: template.into(),
                        at,
                    });
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        if !parts.iter().any(|p| !matches!(p, Part::Literal(_))) {
            return Err(TemplateError::NoPlaceholder {
                template: template.into(),
            });
        }
        Ok(Self {
            source: template.to_string(),
            parts,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Names this template looks up in the item (not path parts).
    pub fn lookups(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Lookup(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// Render the key for an item in the file at `path`. Fails with the name
    /// of the first placeholder that has no (or an empty) value.
    pub fn render<'a>(
        &self,
        path: &str,
        mut lookup: impl FnMut(&str) -> Option<Cow<'a, str>>,
    ) -> Result<String, String> {
        // The usual key is one field's value: one allocation of its size.
        if let [Part::Lookup(name)] = self.parts.as_slice() {
            return match lookup(name) {
                Some(value) if !value.trim().is_empty() => Ok(value.trim().to_string()),
                _ => Err(name.clone()),
            };
        }
        let mut key = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => key.push_str(text),
                Part::Path(which) => {
                    let value = path_part(path, *which);
                    if value.is_empty() {
                        return Err(format!("{{{}}}", path_part_name(*which)));
                    }
                    key.push_str(value);
                }
                Part::Lookup(name) => match lookup(name) {
                    Some(value) if !value.trim().is_empty() => key.push_str(value.trim()),
                    _ => return Err(name.clone()),
                },
            }
        }
        Ok(key)
    }
}

fn path_part_name(which: PathPart) -> &'static str {
    match which {
        PathPart::Dir => "dir",
        PathPart::Stem => "stem",
        PathPart::File => "file",
        PathPart::Path => "path",
    }
}

fn path_part(path: &str, which: PathPart) -> &str {
    let (dir, file) = match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    };
    match which {
        PathPart::Path => path,
        PathPart::File => file,
        PathPart::Stem => match file.rfind('.') {
            Some(i) if i > 0 => &file[..i],
            _ => file,
        },
        PathPart::Dir => dir.rsplit('/').next().unwrap_or(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_path_parts_and_lookups() {
        let t = KeyTemplate::parse("{dir}/{id}").unwrap();
        let key = t.render(".claude/features/onboarding/state.json", |name| {
            (name == "id").then_some(Cow::Borrowed("T3"))
        });
        assert_eq!(key.unwrap(), "onboarding/T3");
        let t = KeyTemplate::parse("wp#{1}").unwrap();
        assert_eq!(t.render("plan.md", |_| Some("42".into())).unwrap(), "wp#42");
        let t = KeyTemplate::parse("{stem}").unwrap();
        assert_eq!(t.render("docs/a.b.md", |_| None).unwrap(), "a.b");
    }

    #[test]
    fn missing_lookup_names_the_placeholder() {
        let t = KeyTemplate::parse("{dir}/{id}").unwrap();
        assert_eq!(t.render("a/b.json", |_| None), Err("id".to_string()));
        assert_eq!(
            t.render("b.json", |_| Some("x".into())),
            Err("{dir}".to_string())
        );
    }

    #[test]
    fn malformed_templates_are_rejected() {
        assert!(matches!(
            KeyTemplate::parse("wp#{1"),
            Err(TemplateError::Unclosed { .. })
        ));
        assert!(matches!(
            KeyTemplate::parse("wp#{}"),
            Err(TemplateError::Empty { .. })
        ));
        assert!(matches!(
            KeyTemplate::parse("a}"),
            Err(TemplateError::StrayClose { .. })
        ));
        assert!(matches!(
            KeyTemplate::parse("fixed"),
            Err(TemplateError::NoPlaceholder { .. })
        ));
    }
}
