//! `table` as a plan's tracking table configures it: rows keyed by a `wp#N`
//! link in the Key column, a bold status with an `ABANDONED` qualifier.
#![no_main]

use concord_formats::table::Table;
use concord_formats::{ItemFields, KeyTemplate};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static FORMAT: LazyLock<Table> = LazyLock::new(|| Table {
    item: ItemFields {
        key: KeyTemplate::parse("wp#{1}").unwrap(),
        status: "Status".into(),
        owner: Some("Owner".into()),
        fields: vec![],
    },
    header: "| Key | Status | Owner |".into(),
    key_column: "Key".into(),
    key_regex: regex::Regex::new(r"wp#(\d+)").unwrap(),
    qualifiers: vec!["ABANDONED".into()],
});

fuzz_target!(|data: &[u8]| {
    concord_fuzz::check_edits("table", &*FORMAT, "docs/plan.md", data);
});
