//! The JSON Schema of the hallmark/v1 policy format, derived with `schemars` from the same
//! serde structs the parser deserialises (so the schema and the parser cannot drift).

/// The JSON Schema (draft 2020-12) of a hallmark/v1 policy file.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(crate::file::PolicyFile);
    schema.to_value()
}
