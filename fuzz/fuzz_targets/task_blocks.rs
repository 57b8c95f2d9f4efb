//! `task-blocks` as a workplan configures it: ```` ```task ```` blocks keyed
//! by their `id:` line.
#![no_main]

use concord_formats::task_blocks::TaskBlocks;
use concord_formats::{ItemFields, KeyTemplate};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static FORMAT: LazyLock<TaskBlocks> = LazyLock::new(|| TaskBlocks {
    item: ItemFields {
        key: KeyTemplate::parse("{id}").unwrap(),
        status: "status".into(),
        owner: Some("owner".into()),
        fields: vec![("priority".into(), "priority".into())],
    },
    info: "task".into(),
});

fuzz_target!(|data: &[u8]| {
    concord_fuzz::check_edits("task_blocks", &*FORMAT, "docs/workplan.md", data);
});
