//! YAML front matter as a JSON value, for team rules. Built on the event
//! parser the front-matter format already uses (`saphyr-parser`); scalars
//! are typed by the YAML 1.2 core schema (plain `true`, `3`, `null`...),
//! quoted ones stay strings.

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};

/// The YAML text as JSON; an alias is resolved to null (anchors are rare
/// in front matter and rules should not depend on them).
pub fn to_json(text: &str) -> Result<Value, String> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut result = Value::Null;
    for event in Parser::new_from_str(text) {
        let (event, _span) = event.map_err(|e| e.to_string())?;
        let value = match event {
            Event::SequenceStart(..) => {
                stack.push(Frame::List(Vec::new()));
                continue;
            }
            Event::MappingStart(..) => {
                stack.push(Frame::Map(Map::new(), None));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::List(items)) => Value::Array(items),
                Some(Frame::Map(members, _)) => Value::Object(members),
                None => return Err("unbalanced YAML events".into()),
            },
            Event::Scalar(text, style, _, _) => scalar(&text, style),
            Event::Alias(_) => Value::Null,
            _ => continue,
        };
        match stack.last_mut() {
            Some(Frame::List(items)) => items.push(value),
            Some(Frame::Map(members, pending)) => match pending.take() {
                Some(key) => {
                    members.insert(key, value);
                }
                None => {
                    *pending = Some(match value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    });
                }
            },
            None => result = value,
        }
    }
    Ok(result)
}

enum Frame {
    List(Vec<Value>),
    Map(Map<String, Value>, Option<String>),
}

fn scalar(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    if text.contains(['.', 'e', 'E'])
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_front_matter_reads_as_json() {
        let yaml = "title: \"X\"\ncount: 3\nok: true\nnone:\ntags: [T1, 'T2']\nmeta:\n  a: 1.5\n  b: [x]\n";
        assert_eq!(
            to_json(yaml).expect("yaml"),
            json!({"title": "X", "count": 3, "ok": true, "none": null,
                   "tags": ["T1", "T2"], "meta": {"a": 1.5, "b": ["x"]}})
        );
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        assert_eq!(
            to_json("a: '3'\nb: \"true\"\n").expect("yaml"),
            json!({"a": "3", "b": "true"})
        );
    }

    #[test]
    fn broken_yaml_is_an_error() {
        assert!(to_json("a: [1, 2\n").is_err());
    }
}
