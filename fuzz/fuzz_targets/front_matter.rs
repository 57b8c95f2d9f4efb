//! `front-matter` as a feature file configures it: one item keyed by its
//! `id`, with a nested `meta.phase` field.
#![no_main]

use concord_formats::front_matter::FrontMatter;
use concord_formats::{ItemFields, KeyTemplate};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static FORMAT: LazyLock<FrontMatter> = LazyLock::new(|| FrontMatter {
    item: ItemFields {
        key: KeyTemplate::parse("{id}").unwrap(),
        status: "status".into(),
        owner: Some("owner".into()),
        fields: vec![("phase".into(), "meta.phase".into())],
    },
});

fuzz_target!(|data: &[u8]| {
    concord_fuzz::check_edits("front_matter", &*FORMAT, "docs/features/feat-7.md", data);
});
