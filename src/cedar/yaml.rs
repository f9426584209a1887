//! YAML OpenAPI documents (`API_DEFINITION=openapi.yaml`), turned into JSON values so that one
//! reader serves both formats. Only what an OpenAPI document's `paths` needs must survive: keys
//! become strings, integers stay numbers, other numbers keep their text.

use yaml_rust2::{Yaml, YamlLoader};

/// The first document of `text`, as JSON.
///
/// # Errors
/// The parser's message (with its line and column), or what cannot be represented.
pub fn to_json(text: &str) -> Result<serde_json::Value, String> {
    let documents = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    let document = documents.into_iter().next().ok_or("is empty")?;
    convert(document, 0)
}

/// Deeper documents are refused rather than recursed into without bound.
const MAX_DEPTH: usize = 64;

fn convert(yaml: Yaml, depth: usize) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    if depth > MAX_DEPTH {
        return Err(format!("nests deeper than {MAX_DEPTH} levels"));
    }
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::from(i),
        // Kept as written: `openapi: 3.0` is a version, not a number.
        Yaml::Real(text) => Value::String(text),
        Yaml::String(s) => Value::String(s),
        Yaml::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| convert(item, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(hash) => {
            let mut object = serde_json::Map::new();
            for (key, value) in hash {
                let key = match key {
                    Yaml::String(s) | Yaml::Real(s) => s,
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => return Err(format!("a mapping key is not a scalar: {other:?}")),
                };
                object.insert(key, convert(value, depth + 1)?);
            }
            Value::Object(object)
        }
        Yaml::Alias(_) | Yaml::BadValue => return Err("uses a YAML alias".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_yaml_openapi_document_reads_as_its_json() {
        let json = super::to_json(
            "openapi: 3.0.1\ninfo:\n  title: PetStore\npaths:\n  /pets:\n    get: {}\n    post:\n      summary: add\n  /pets/{petId}:\n    get: {}\n",
        )
        .unwrap();
        assert_eq!(json["openapi"], "3.0.1");
        assert_eq!(json["paths"]["/pets"]["post"]["summary"], "add");
        assert!(json["paths"]["/pets/{petId}"]["get"].is_object());
        let err = super::to_json("paths:\n  - a\n b: [").unwrap_err();
        assert!(err.contains("line"), "{err}");
    }
}
