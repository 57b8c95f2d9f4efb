//! Side-by-side view of what each source says about each item: a pure
//! function of the observations.

use concord_model::Observation;
use rayon::slice::ParallelSliceMut;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemView<'a> {
    pub key: &'a str,
    /// One reading per source that holds the item (more if a source holds it twice).
    pub readings: Vec<&'a Observation>,
    pub agree: bool,
}

/// What a reading contributes to the comparison: its canonical status, or
/// its raw word when the workflow does not know it (an unknown word never
/// silently agrees with a known one).
fn comparable(obs: &Observation) -> Option<(bool, &str)> {
    obs.status.as_ref().map(|s| match &s.canonical {
        Some(canonical) => (true, &**canonical),
        None => (false, s.raw.as_str()),
    })
}

/// Group observations by key (sorted), optionally keeping only `keys`.
/// Each item's readings keep the order they came in.
pub fn compare<'a>(
    observations: impl IntoIterator<Item = &'a Observation>,
    keys: &[String],
) -> Vec<ItemView<'a>> {
    let mut all: Vec<&'a Observation> = observations
        .into_iter()
        .filter(|obs| keys.is_empty() || keys.iter().any(|k| k == &obs.key))
        .collect();
    // A stable sort keeps each key's readings in their order; sorting a
    // vector beats a tree of 100k keys by far, and spreads over the cores.
    all.par_sort_by(|a, b| a.key.cmp(&b.key));
    all.chunk_by(|a, b| a.key == b.key)
        .map(|readings| {
            let mut values = readings.iter().filter_map(|o| comparable(o));
            let agree = match values.next() {
                Some(first) => values.all(|v| v == first),
                None => true,
            };
            ItemView {
                key: readings[0].key.as_str(),
                readings: readings.to_vec(),
                agree,
            }
        })
        .collect()
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
            rows in proptest::collection::vec((0u8..6, 0u8..4, 0u8..3), 0..60)
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
            let mut expected: std::collections::BTreeMap<&str, Vec<&Observation>> =
                std::collections::BTreeMap::new();
            for o in &all {
                expected.entry(o.key.as_str()).or_default().push(o);
            }
            let views = compare(&all, &[]);
            proptest::prop_assert_eq!(views.len(), expected.len());
            for (view, (key, readings)) in views.iter().zip(&expected) {
                proptest::prop_assert_eq!(view.key, *key);
                proptest::prop_assert!(view
                    .readings
                    .iter()
                    .zip(readings)
                    .all(|(a, b)| std::ptr::eq(*a, *b)));
                proptest::prop_assert_eq!(view.readings.len(), readings.len());
                let distinct: std::collections::BTreeSet<_> =
                    readings.iter().filter_map(|o| comparable(o)).collect();
                proptest::prop_assert_eq!(view.agree, distinct.len() <= 1);
            }
        }
    }
}
