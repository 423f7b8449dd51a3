//! The JSON Schema is derived from the parser's structs: it names every key the parser
//! takes and refuses others.

use hallmark_policy::json_schema;

#[test]
fn schema_describes_the_format() {
    let s = json_schema();
    let text = s.to_string();
    assert_eq!(s["title"], "hallmark policy (hallmark/v1)");
    assert_eq!(s["additionalProperties"], false);
    let required: Vec<&str> = s["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, vec!["apiVersion", "kind"]);
    for key in [
        "\"images\"",
        "\"namespaces\"",
        "\"anyOf\"",
        "\"cosign\"",
        "\"dct\"",
        "\"notation\"",
        "\"trustedIdentities\"",
        "\"attestation\"",
        "\"tlog\"",
        "\"reject\"",
        "\"accept\"",
        "\"keyless\"",
        "\"certificates\"",
        "\"trustedRoot\"",
        "\"rekorKeys\"",
        "\"signedIdentity\"",
        "\"remapIdentity\"",
        "\"signedPrefix\"",
        "\"issuerRegExp\"",
        "\"subjectRegExp\"",
        "\"simplesigning\"",
        "\"condition\"",
    ] {
        assert!(text.contains(key), "schema lacks {key}");
    }
    let defs = s["$defs"].as_object().unwrap();
    assert_eq!(
        defs["RequirementFile"]["oneOf"].as_array().unwrap().len(),
        7
    );
    assert_eq!(
        defs["SignedIdentityFile"]["oneOf"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
}
