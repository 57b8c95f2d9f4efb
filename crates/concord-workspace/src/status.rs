//! Side-by-side view of what each source says about each item: a pure
//! function of the observations.

use concord_model::Observation;
use std::collections::BTreeMap;

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
pub fn compare<'a>(
    observations: impl IntoIterator<Item = &'a Observation>,
    keys: &[String],
) -> Vec<ItemView<'a>> {
    let mut by_key: BTreeMap<&'a str, Vec<&'a Observation>> = BTreeMap::new();
    for obs in observations {
        if keys.is_empty() || keys.iter().any(|k| k == &obs.key) {
            by_key.entry(obs.key.as_str()).or_default().push(obs);
        }
    }
    by_key
        .into_iter()
        .map(|(key, readings)| {
            let mut values = readings.iter().filter_map(|o| comparable(o));
            let agree = match values.next() {
                Some(first) => values.all(|v| v == first),
                None => true,
            };
            ItemView {
                key,
                readings,
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
}
