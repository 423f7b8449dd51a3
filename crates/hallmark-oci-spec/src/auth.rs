//! `WWW-Authenticate` challenges of registries and Notary servers: the RFC 7235 §4.1
//! `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]` grammar as docker's registry
//! token authentication (distribution `docs/spec/auth/token.md`) and notary-server 0.7.0 send
//! it: `Bearer realm="..",service="..",scope=".."`, or `Basic realm=".."`.
//!
//! The scheme is case-insensitive; parameter names are lower-cased; values are quoted strings
//! (which may hold commas and `\`-escapes) or tokens, trimmed; the first of a repeated
//! parameter counts.

/// A challenge hallmark can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer`: get a token from `realm`.
    Bearer(BearerChallenge),
    /// `Basic`: send the username and password.
    Basic,
}

impl Challenge {
    /// The scheme name, for messages.
    pub fn scheme(&self) -> &'static str {
        match self {
            Challenge::Bearer(_) => "Bearer",
            Challenge::Basic => "Basic",
        }
    }
}

/// A `WWW-Authenticate: Bearer ...` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerChallenge {
    /// `realm`: the token server URL.
    pub realm: String,
    /// `service`.
    pub service: Option<String>,
    /// `scope`, e.g. `repository:<name>:pull,push`.
    pub scope: Option<String>,
}

/// The challenge to answer among a response's `WWW-Authenticate` values: the first Bearer
/// challenge (`None` if it has no `realm`), else Basic if one is offered, else `None`.
pub fn parse_challenges<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    let mut basic = false;
    for value in values {
        let (scheme, params) = split_scheme(value);
        if scheme.eq_ignore_ascii_case("bearer") {
            return bearer_from_params(params).map(Challenge::Bearer);
        }
        if scheme.eq_ignore_ascii_case("basic") {
            basic = true;
        }
    }
    basic.then_some(Challenge::Basic)
}

/// One `WWW-Authenticate` value as a Bearer challenge: `None` for another scheme or without a
/// `realm`.
pub fn parse_bearer_challenge(value: &str) -> Option<BearerChallenge> {
    let (scheme, params) = split_scheme(value);
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    bearer_from_params(params)
}

/// The auth-scheme and the rest of a challenge.
fn split_scheme(value: &str) -> (&str, &str) {
    let value = value.trim();
    value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""))
}

fn bearer_from_params(params: &str) -> Option<BearerChallenge> {
    let params = parse_auth_params(params);
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    Some(BearerChallenge {
        realm: get("realm")?,
        service: get("service"),
        scope: get("scope"),
    })
}

/// `key=value, key="quoted, value"` pairs in order; keys lower-cased, values unescaped and
/// trimmed. A name without `=` is skipped.
pub fn parse_auth_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() && chars.peek().is_none() {
            return out;
        }
        if chars.next() != Some('=') {
            if chars.peek().is_none() {
                return out;
            }
            continue;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(escaped) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(realm: &str, service: Option<&str>, scope: Option<&str>) -> BearerChallenge {
        BearerChallenge {
            realm: realm.into(),
            service: service.map(Into::into),
            scope: scope.map(Into::into),
        }
    }

    #[test]
    fn registry_challenges_prefer_bearer() {
        let bearer_value = r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#;
        let expected = bearer(
            "https://auth.example/token",
            Some("registry.example"),
            Some("repository:a/b:pull,push"),
        );
        assert_eq!(
            parse_challenges([bearer_value]),
            Some(Challenge::Bearer(expected.clone()))
        );
        assert_eq!(
            parse_challenges([r#"Basic realm="x""#, bearer_value]),
            Some(Challenge::Bearer(expected))
        );
        assert_eq!(
            parse_challenges([r#"Basic realm="x""#]),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenges([]), None);
        assert_eq!(parse_challenges(["Negotiate abc"]), None);
        // The first Bearer challenge decides: without a realm there is nothing to answer.
        assert_eq!(
            parse_challenges([r#"Bearer service="x""#, r#"Basic realm="x""#]),
            None
        );
    }

    #[test]
    fn notary_bearer_challenges_parse_as_docker_sends_them() {
        let c = parse_bearer_challenge(
            r#"Bearer realm="https://auth.example.test/token",service="notary",scope="repository:127.0.0.1:5000/a/b:pull,push""#,
        );
        assert_eq!(
            c,
            Some(bearer(
                "https://auth.example.test/token",
                Some("notary"),
                Some("repository:127.0.0.1:5000/a/b:pull,push")
            ))
        );
        assert!(parse_bearer_challenge(r#"Basic realm="x""#).is_none());
        assert!(parse_bearer_challenge(r#"Bearer service="x""#).is_none());
    }

    #[test]
    fn scheme_and_parameter_names_are_case_insensitive() {
        assert_eq!(
            parse_bearer_challenge(r#"bearer Realm="r", SERVICE=s"#),
            Some(bearer("r", Some("s"), None))
        );
        assert!(parse_bearer_challenge(r#"Bearerrealm="r""#).is_none());
    }

    #[test]
    fn params_quoting_escapes_and_odd_input() {
        assert_eq!(
            parse_auth_params(r#" a ="x, \"y\"" ,b=tok , c, d="#),
            vec![
                ("a".to_owned(), r#"x, "y""#.to_owned()),
                ("b".to_owned(), "tok".to_owned()),
                ("d".to_owned(), String::new()),
            ]
        );
        // An unterminated quote ends the value at the end of the input.
        assert_eq!(
            parse_auth_params(r#"realm="abc"#),
            vec![("realm".to_owned(), "abc".to_owned())]
        );
        // The first of a repeated parameter counts.
        assert_eq!(
            parse_bearer_challenge(r#"Bearer realm="a",realm="b""#).map(|c| c.realm),
            Some("a".to_owned())
        );
    }
}
