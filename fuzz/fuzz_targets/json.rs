//! `json` in both of its configurations. The first byte picks one: odd
//! (`{` is 0x7B) reads each element of `/tasks` as an item, even (a leading
//! space or line break) reads the whole document as one item. The whole
//! input, first byte included, is the file.
#![no_main]

use concord_formats::json::Json;
use concord_formats::{ItemFields, KeyTemplate};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

const PATH: &str = ".claude/features/onboarding/state.json";

/// Each element of `/tasks` is an item.
static TASKS: LazyLock<Json> = LazyLock::new(|| Json {
    item: ItemFields {
        key: KeyTemplate::parse("{dir}/{id}").unwrap(),
        status: "/status".into(),
        owner: Some("/owner".into()),
        fields: vec![("title".into(), "title".into())],
    },
    items: Some("/tasks".into()),
});

/// The whole document is the item: a feature's state.
static DOCUMENT: LazyLock<Json> = LazyLock::new(|| Json {
    item: ItemFields {
        key: KeyTemplate::parse("{dir}").unwrap(),
        status: "/current_phase".into(),
        owner: Some("/state_owner".into()),
        fields: vec![("paused".into(), "/paused".into())],
    },
    items: None,
});

fuzz_target!(|data: &[u8]| {
    // An empty input goes to either; it must not panic.
    if data.first().is_none_or(|b| b % 2 == 1) {
        concord_fuzz::check_edits("json (items /tasks)", &*TASKS, PATH, data);
    } else {
        concord_fuzz::check_edits("json (whole document)", &*DOCUMENT, PATH, data);
    }
});
