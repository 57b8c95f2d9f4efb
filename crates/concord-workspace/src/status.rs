//! Side-by-side view of what each source says about each item: a pure
//! function of the readings.

use concord_model::Observation;
use rayon::slice::ParallelSliceMut;

/// What grouping needs of a reading: its item, and what it contributes to
/// the comparison: its canonical status, or its raw word when the workflow
/// does not know it (an unknown word never silently agrees with a known
/// one).
pub trait Reading {
    fn key(&self) -> &str;
    /// `(known, word)`: `(true, canonical)` or `(false, raw)`; `None`
    /// when the reading has no status.
    fn comparable(&self) -> Option<(bool, &str)>;
}

impl Reading for Observation {
    fn key(&self) -> &str {
        &self.key
    }

    fn comparable(&self) -> Option<(bool, &str)> {
        self.status.as_ref().map(|s| match &s.canonical {
            Some(canonical) => (true, &**canonical),
            None => (false, s.raw.as_str()),
        })
    }
}

impl<T: Reading> Reading for &T {
    fn key(&self) -> &str {
        (**self).key()
    }

    fn comparable(&self) -> Option<(bool, &str)> {
        (**self).comparable()
    }
}

/// One item and what every source holding it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemView<'a> {
    pub key: &'a str,
    /// One reading per source that holds the item (more if a source holds it twice).
    pub readings: Vec<&'a Observation>,
    pub agree: bool,
}

/// Group observations by key (sorted), optionally keeping only `keys`.
/// Each item's readings keep the order they came in.
pub fn compare<'a>(
    observations: impl IntoIterator<Item = &'a Observation>,
    keys: &[String],
) -> Vec<ItemView<'a>> {
    let all: Vec<&'a Observation> = observations.into_iter().collect();
    let parts = [all];
    let grouped = group(&parts, |o| {
        keys.is_empty() || keys.iter().any(|k| k == &o.key)
    });
    grouped
        .groups
        .iter()
        .map(|g| {
            let readings: Vec<&'a Observation> = grouped
                .members(g)
                .iter()
                .map(|&(_, i)| parts[0][i as usize])
                .collect();
            ItemView {
                key: readings[0].key.as_str(),
                readings,
                agree: g.agree,
            }
        })
        .collect()
}

/// One item: its readings are `order[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    pub start: u32,
    pub end: u32,
    /// Whether every reading that has a status says the same.
    pub agree: bool,
}

/// Readings grouped by key: `order` lists the readings by key as (part,
/// index in it), each key's in the order they came in; `groups` are the
/// keys, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grouped {
    pub order: Vec<(u32, u32)>,
    pub groups: Vec<Group>,
}

impl Grouped {
    /// Where a group's readings are.
    pub fn members(&self, group: &Group) -> &[(u32, u32)] {
        &self.order[group.start as usize..group.end as usize]
    }
}

/// Group the readings of `parts` (taken in order, as if one list) that
/// `keep` keeps, by key (sorted). The parts stay where they are (one per
/// source, say, as they were read): joining them would copy every reading
/// while both copies live. Places are sorted rather than readings: a
/// reading is many times the size of a place, and a stable sort copies
/// what it sorts into a buffer of its own.
///
/// # Panics
/// With more than `u32::MAX` parts or readings in a part.
pub fn group<T: Reading + Sync>(parts: &[Vec<T>], keep: impl Fn(&T) -> bool) -> Grouped {
    let at = |&(part, index): &(u32, u32)| &parts[part as usize][index as usize];
    let mut order: Vec<(u32, u32)> = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for (part, readings) in parts.iter().enumerate() {
        let part = u32::try_from(part).expect("under 4 billion parts");
        for (index, reading) in readings.iter().enumerate() {
            if keep(reading) {
                order.push((
                    part,
                    u32::try_from(index).expect("under 4 billion readings"),
                ));
            }
        }
    }
    // Stable, so each key's readings stay in the order they came in; a
    // merge sort over the cores that takes runs already in order as they
    // are (the hub's values come by key, and so do many files' items).
    order.par_sort_by(|a, b| at(a).key().cmp(at(b).key()));
    let mut groups = Vec::new();
    let mut start = 0;
    for members in order.chunk_by(|a, b| at(a).key() == at(b).key()) {
        let mut values = members.iter().filter_map(|m| at(m).comparable());
        let agree = match values.next() {
            Some(first) => values.all(|v| v == first),
            None => true,
        };
        // No more members than `order` has, and its places fit in u32.
        let end = start + members.len() as u32;
        groups.push(Group { start, end, agree });
        start = end;
    }
    Grouped { order, groups }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_model::StatusReading;

    fn obs(source: &str, key: &str, raw: &str, canonical: Option<&str>) -> Observation {
        Observation {
            source: source.into(),
            repo: "r".into(),
            key: key.into(),
            path: "p".into(),
            line: 1,
            status: Some(StatusReading {
                raw: raw.into(),
                canonical: canonical.map(Into::into),
                rank: None,
                line: 1,
                span: 0..0,
                pinned: None,
            }),
            owner: None,
            fields: vec![],
        }
    }

    #[test]
    fn aliases_agree_and_different_statuses_do_not() {
        let all = [
            obs("a", "K1", "done", Some("done")),
            obs("b", "K1", "Closed", Some("done")),
            obs("a", "K2", "todo", Some("todo")),
            obs("b", "K2", "done", Some("done")),
            obs("a", "K3", "deferred", None),
            obs("b", "K3", "done", Some("done")),
            obs("a", "K4", "todo", Some("todo")),
        ];
        let views = compare(&all, &[]);
        let got: Vec<_> = views
            .iter()
            .map(|v| (v.key, v.readings.len(), v.agree))
            .collect();
        assert_eq!(
            got,
            vec![
                ("K1", 2, true),
                ("K2", 2, false),
                ("K3", 2, false),
                ("K4", 1, true)
            ]
        );
        let only = compare(&all, &["K2".to_string()]);
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].key, "K2");
    }

    proptest::proptest! {
        /// Grouping by sorting keeps what a map of keys gave: every key
        /// once, in order, with its readings in the order they came.
        #[test]
        fn groups_as_a_map_of_keys_would(
            rows in proptest::collection::vec((0u8..6, 0u8..4, 0u8..3), 0..60),
            split in 0usize..60,
        ) {
            let words = ["todo", "done", "later"];
            let all: Vec<Observation> = rows
                .iter()
                .map(|(key, source, word)| {
                    let word = words[*word as usize];
                    let canonical = (word != "later").then_some(word);
                    obs(&format!("s{source}"), &format!("K{key}"), word, canonical)
                })
                .collect();
            // Split into parts at `cut`, as sources are read: the places
            // still follow the order of the whole list.
            let cut = split.min(all.len());
            let parts = [all[..cut].to_vec(), all[cut..].to_vec()];
            let place = |(part, index): (u32, u32)| if part == 0 { index as usize } else { cut + index as usize };
            let mut expected: std::collections::BTreeMap<&str, Vec<usize>> =
                std::collections::BTreeMap::new();
            for (i, o) in all.iter().enumerate() {
                if o.key != "K5" {
                    expected.entry(o.key.as_str()).or_default().push(i);
                }
            }
            let grouped = group(&parts, |o| o.key != "K5");
            proptest::prop_assert_eq!(grouped.groups.len(), expected.len());
            for (g, (key, readings)) in grouped.groups.iter().zip(&expected) {
                let members: Vec<usize> =
                    grouped.members(g).iter().map(|&m| place(m)).collect();
                proptest::prop_assert_eq!(all[members[0]].key.as_str(), *key);
                proptest::prop_assert_eq!(&members, readings);
                let distinct: std::collections::BTreeSet<_> =
                    readings.iter().filter_map(|&i| all[i].comparable()).collect();
                proptest::prop_assert_eq!(g.agree, distinct.len() <= 1);
            }
        }
    }
}
