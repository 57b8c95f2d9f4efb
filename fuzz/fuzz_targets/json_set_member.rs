//! `json::set_member`, the byte-exact edit `concord mirror` writes mirrors
//! with: the whole input is the file; its first byte picks the value set.
//! When the edit is accepted, the result must parse, hold the value, keep
//! every other member as it was, and setting the same value again must
//! change no byte.
#![no_main]

use concord_formats::json::set_member;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const NAME: &str = "state_owner_sync_origin";
const VALUES: [&str; 6] = [
    "\"ft2-reverse\"",
    "\"caf\\u00e9 \\\"q\\\"\"",
    "null",
    "[1, {\"a\": []}]",
    "{\"k\": \"v\", \"n\": 2}",
    "-0.5e3",
];

fuzz_target!(|data: &[u8]| {
    let value_text = VALUES[usize::from(data.first().copied().unwrap_or(0)) % VALUES.len()];
    let Ok(out) = set_member(data, NAME, value_text) else {
        return;
    };
    // set_member follows the JSON grammar, which allows an unpaired
    // surrogate escape (`"\ud83d"`); serde_json refuses one. Such a file
    // says nothing here.
    let Ok(before) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let after: Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "the edited file does not parse ({e})\ninput:  {:?}\noutput: {:?}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&out)
        )
    });
    let wanted: Value = serde_json::from_str(value_text).expect("a fixed value");
    let (Value::Object(before), Value::Object(after)) = (before, after) else {
        panic!("set_member accepted a top level that is not an object");
    };
    assert_eq!(after.get(NAME), Some(&wanted), "the member holds the value");
    for (key, value) in &before {
        if key != NAME {
            assert_eq!(after.get(key), Some(value), "member {key:?} changed");
        }
    }
    assert_eq!(after.len(), before.len() + usize::from(!before.contains_key(NAME)));
    let again = set_member(&out, NAME, value_text).expect("the edited file is accepted");
    assert_eq!(again, out, "setting the same value again changed bytes");
});
