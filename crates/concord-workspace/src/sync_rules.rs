//! `[[sync]]` rules: which sources a rule joins and in which mode, checked
//! against the declared sources before the engine sees them.

use crate::config::{ConfigError, Errors, did_you_mean};
use concord_engine::{Mode, Reopen, Rule};
use concord_model::Workflow;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// The hub takes part in rules as a source of this name.
pub const HUB_SOURCE: &str = "hub";

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSync {
    /// The rule's name in reports (`sync --rule NAME`).
    #[schemars(with = "Option<String>")]
    name: Option<Spanned<String>>,
    /// `merge`: the furthest status wins, edits are told from stale copies; `mirror`: `from` is the truth for `to`; `owned`: each item's owner source wins.
    #[schemars(with = "String")]
    #[schemars(extend("enum" = ["merge", "mirror", "owned"]))]
    mode: Spanned<String>,
    /// merge, owned: the sources joined.
    #[schemars(with = "Option<Vec<String>>")]
    between: Option<Spanned<Vec<String>>>,
    /// mirror: the truth.
    #[schemars(with = "Option<String>")]
    from: Option<Spanned<String>>,
    /// mirror: the followers.
    #[schemars(with = "Option<Vec<String>>")]
    to: Option<Spanned<Vec<String>>>,
    /// merge: `block` (default) or `allow` reopens.
    #[schemars(with = "Option<String>")]
    #[schemars(extend("enum" = ["block", "allow"]))]
    reopen: Option<Spanned<String>>,
    /// owned: owner value as items name it -> source.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    owners: Option<Spanned<BTreeMap<String, String>>>,
}

/// What a rule needs to know of a source it names (a file source or a tracker).
pub(crate) struct Member<'a> {
    pub name: &'a str,
    pub workflow: usize,
    pub has_owner: bool,
}

pub(crate) fn validate(
    raw: &[RawSync],
    sources: &[Member<'_>],
    workflows: &[Workflow],
    errors: &Errors<'_>,
) -> Result<Vec<Rule>, Box<ConfigError>> {
    let mut rules: Vec<Rule> = Vec::new();
    // source -> the rule that writes it
    let mut writers: BTreeMap<String, String> = BTreeMap::new();
    for sync in raw {
        let span = sync.mode.span();
        let mode_name = sync.mode.get_ref().as_str();
        let (mode, members, written) = match mode_name {
            "mirror" => mirror_mode(sync, errors)?,
            "merge" | "owned" => joining_mode(sync, sources, errors)?,
            other => {
                return Err(Box::new(
                    errors.with_help(
                        span,
                        format!("unknown sync mode `{other}`"),
                        did_you_mean(other, ["mirror", "merge", "owned"])
                            .or(Some("modes: mirror, merge, owned".into())),
                    ),
                ));
            }
        };
        let where_ = sync.name.as_ref().map_or(span.clone(), Spanned::span);
        check_members(&members, sources, workflows, errors, &where_)?;
        let name = sync
            .name
            .as_ref()
            .map(|n| n.get_ref().clone())
            .unwrap_or_else(|| format!("{mode_name}:{}", members.join("+")));
        if rules.iter().any(|r| r.name == name) {
            return Err(Box::new(
                errors.at(where_, format!("sync rule `{name}` is declared twice")),
            ));
        }
        // Two rules writing the same source's status would fight each other.
        for target in &written {
            if let Some(other) = writers.get(target) {
                return Err(Box::new(errors.with_help(
                    where_.clone(),
                    format!("sync rules `{other}` and `{name}` both write `{target}`"),
                    Some("one rule per written source: merge them into one rule".into()),
                )));
            }
            writers.insert(target.clone(), name.clone());
        }
        rules.push(Rule {
            name,
            mode,
            sources: members,
        });
    }
    Ok(rules)
}

/// A rule's mode, the sources it joins, and those it writes.
type Shape = (Mode, Vec<String>, Vec<String>);

/// An option given to a mode that does not take it is an error, not ignored.
fn not_for(
    sync: &RawSync,
    errors: &Errors<'_>,
    option: &str,
    present: Option<std::ops::Range<usize>>,
    modes: &str,
) -> Result<(), Box<ConfigError>> {
    match present {
        Some(at) => Err(Box::new(errors.at(
            at,
            format!(
                "`{option}` is for {modes} rules, not `{}`",
                sync.mode.get_ref()
            ),
        ))),
        None => Ok(()),
    }
}

fn mirror_mode(sync: &RawSync, errors: &Errors<'_>) -> Result<Shape, Box<ConfigError>> {
    let span = sync.mode.span();
    let span_of = |o: &Option<Spanned<_>>| o.as_ref().map(Spanned::span);
    not_for(
        sync,
        errors,
        "between",
        span_of(&sync.between),
        "merge and owned",
    )?;
    not_for(
        sync,
        errors,
        "reopen",
        sync.reopen.as_ref().map(Spanned::span),
        "merge",
    )?;
    not_for(
        sync,
        errors,
        "owners",
        sync.owners.as_ref().map(Spanned::span),
        "owned",
    )?;
    let from = sync.from.as_ref().ok_or_else(|| {
        Box::new(errors.at(span.clone(), "a mirror rule needs `from` (the truth)"))
    })?;
    let to = sync
        .to
        .as_ref()
        .filter(|t| !t.get_ref().is_empty())
        .ok_or_else(|| {
            Box::new(errors.at(
                span.clone(),
                "a mirror rule needs `to` (one or more targets)",
            ))
        })?;
    let mut members = vec![from.get_ref().clone()];
    members.extend(to.get_ref().iter().cloned());
    let truth = from.get_ref().clone();
    Ok((Mode::Mirror { truth }, members, to.get_ref().clone()))
}

/// `merge` and `owned`: rules that join sources `between` them all.
fn joining_mode(
    sync: &RawSync,
    sources: &[Member<'_>],
    errors: &Errors<'_>,
) -> Result<Shape, Box<ConfigError>> {
    let span = sync.mode.span();
    let mode_name = sync.mode.get_ref().as_str();
    not_for(
        sync,
        errors,
        "from",
        sync.from.as_ref().map(Spanned::span),
        "mirror",
    )?;
    not_for(
        sync,
        errors,
        "to",
        sync.to.as_ref().map(Spanned::span),
        "mirror",
    )?;
    let between = sync
        .between
        .as_ref()
        .filter(|b| b.get_ref().len() >= 2)
        .ok_or_else(|| {
            Box::new(errors.at(
                span.clone(),
                format!("a {mode_name} rule needs `between` with two or more sources"),
            ))
        })?;
    let members = between.get_ref().clone();
    let mode = if mode_name == "merge" {
        not_for(
            sync,
            errors,
            "owners",
            sync.owners.as_ref().map(Spanned::span),
            "owned",
        )?;
        let reopen = match sync
            .reopen
            .as_ref()
            .map(|r| (r.get_ref().as_str(), r.span()))
        {
            None | Some(("block", _)) => Reopen::Block,
            Some(("allow", _)) => Reopen::Allow,
            Some((other, at)) => {
                return Err(Box::new(errors.at(
                    at,
                    format!("reopen = `{other}`: expected `block` or `allow`"),
                )));
            }
        };
        Mode::Merge { reopen }
    } else {
        not_for(
            sync,
            errors,
            "reopen",
            sync.reopen.as_ref().map(Spanned::span),
            "merge",
        )?;
        owned_mode(sync, between, sources, errors)?
    };
    Ok((mode, members.clone(), members))
}

fn owned_mode(
    sync: &RawSync,
    between: &Spanned<Vec<String>>,
    sources: &[Member<'_>],
    errors: &Errors<'_>,
) -> Result<Mode, Box<ConfigError>> {
    let members = between.get_ref();
    let owners = sync.owners.as_ref().ok_or_else(|| {
        Box::new(errors.with_help(
            sync.mode.span(),
            "an owned rule needs `owners`",
            Some(
                "map each owner value items name to a source: owners = { ft2 = \"ft2-features\" }"
                    .into(),
            ),
        ))
    })?;
    for (owner, source) in owners.get_ref() {
        if !members.contains(source) {
            return Err(Box::new(errors.at(
                owners.span(),
                format!("owner `{owner}` maps to `{source}`, which is not in `between`"),
            )));
        }
    }
    for member in members {
        let owner_configured = sources
            .iter()
            .find(|s| s.name == member)
            .is_some_and(|s| s.has_owner);
        if member != HUB_SOURCE && !owner_configured {
            return Err(Box::new(errors.with_help(
                between.span(),
                format!("source `{member}` has no `owner` field for this owned rule to read"),
                Some("set `owner` on the source (e.g. owner = \"/state_owner\")".into()),
            )));
        }
    }
    Ok(Mode::Owned {
        owners: owners.get_ref().clone(),
    })
}

/// Every member is a declared source (or the hub), all on one workflow.
fn check_members(
    members: &[String],
    sources: &[Member<'_>],
    workflows: &[Workflow],
    errors: &Errors<'_>,
    where_: &std::ops::Range<usize>,
) -> Result<(), Box<ConfigError>> {
    let mut workflow: Option<usize> = None;
    for member in members {
        if member == HUB_SOURCE {
            continue;
        }
        let Some(source) = sources.iter().find(|s| s.name == member) else {
            return Err(Box::new(errors.with_help(
                where_.clone(),
                format!("sync rule names source `{member}`, which is not declared"),
                did_you_mean(member, sources.iter().map(|s| s.name).chain([HUB_SOURCE])),
            )));
        };
        match workflow {
            Some(w) if w != source.workflow => {
                return Err(Box::new(errors.at(
                    where_.clone(),
                    format!(
                        "sync rule joins sources of different workflows (`{}` and `{}`)",
                        workflows[w].name(),
                        workflows[source.workflow].name()
                    ),
                )));
            }
            _ => workflow = Some(source.workflow),
        }
    }
    Ok(())
}
