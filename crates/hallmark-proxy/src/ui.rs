//! The page that shows the true signed state of every tag of the upstream registry, and the
//! JSON API behind it. Served by hallmark itself: no external assets, no JavaScript (the table
//! is HTML; the filter is a form).
//!
//! - `GET /ui/?repository=TEXT&state=all|allowed|denied`: repositories and their tags; per tag
//!   its digest, and for each format what was verified: cosign signatures (key fingerprint or
//!   certificate identity, whether logged; candidates that did not verify, with why),
//!   attestations (predicate types), Docker Content Trust (signed by which signers, from the
//!   trust server's verified data), the policy's decision and its reason; then the recent
//!   decisions of the proxy.
//! - `GET /ui/api/tags?repository=TEXT&state=...`: the same as JSON, one object per tag:
//!   `{"repository", "tag", "digest", "decision": <the decision JSON of verify --policy -o json>,
//!   "evidence": <what it was made on>, "error"}`.
//! - `GET /ui/api/repositories`: the upstream's repositories.
//! - `GET /ui/api/decisions`: the proxy's recent decisions (newest first).
//!
//! Every tag is decided afresh for the page (not from the verdict cache): what it shows is
//! what the registry holds now. Each format is checked against every key, root and trust
//! server the policy names anywhere ([`hallmark_verify::Verifier::inspect`]), whatever rule
//! decides the tag.

use crate::Proxy;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use futures::StreamExt as _;
use hallmark_core::{ImageRef, RegistryRef};
use hallmark_oci::Store;
use hallmark_policy::evidence::Signer;
use serde_json::{Value, json};
use std::fmt::Write as _;

/// Most repositories listed; most tags decided for one page.
const MAX_REPOSITORIES: usize = 1000;
const MAX_TAGS: usize = 500;
/// Tags decided at once.
const CONCURRENT: usize = 8;

/// The filter of a page or API call.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct Filter {
    /// Repositories whose name contains this.
    #[serde(default)]
    repository: String,
    /// `all` (default), `allowed` or `denied`.
    #[serde(default)]
    state: String,
}

/// One tag's state.
struct TagState {
    repository: String,
    tag: String,
    result: Result<hallmark_verify::Inspected, String>,
}

impl TagState {
    fn allowed(&self) -> bool {
        matches!(&self.result, Ok(i) if i.verified.allowed())
    }

    fn to_json(&self) -> Value {
        match &self.result {
            Ok(i) => json!({
                "repository": self.repository,
                "tag": self.tag,
                "digest": i.verified.decision.digest,
                "decision": serde_json::to_value(&i.verified.decision).unwrap_or(Value::Null),
                "evidence": serde_json::to_value(&i.all).unwrap_or(Value::Null),
                "error": null,
            }),
            Err(e) => json!({
                "repository": self.repository,
                "tag": self.tag,
                "digest": null,
                "decision": null,
                "evidence": null,
                "error": e,
            }),
        }
    }
}

pub(crate) fn router(proxy: Proxy) -> Router {
    Router::new()
        .route("/ui", axum::routing::get(redirect))
        .route("/ui/", axum::routing::get(page))
        .route("/ui/api/tags", axum::routing::get(api_tags))
        .route("/ui/api/repositories", axum::routing::get(api_repositories))
        .route("/ui/api/decisions", axum::routing::get(api_decisions))
        .with_state(proxy)
}

async fn redirect() -> Response {
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, "/ui/")]).into_response()
}

impl Proxy {
    async fn upstream_json(&self, path: &str) -> Result<Value, String> {
        let url = format!("{}{path}", self.inner.base);
        let resp = self
            .inner
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| hallmark_core::error::chain(&e.without_url()))?;
        if !resp.status().is_success() {
            return Err(format!(
                "GET {path}: expected 200, the upstream answered {}",
                resp.status()
            ));
        }
        let bytes = crate::read_bounded(resp, 8 * 1024 * 1024).await?;
        serde_json::from_slice(&bytes).map_err(|e| format!("GET {path}: expected JSON: {e}"))
    }

    async fn repositories(&self) -> Result<Vec<String>, String> {
        let v = self
            .upstream_json(&format!("/v2/_catalog?n={MAX_REPOSITORIES}"))
            .await?;
        Ok(v["repositories"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .filter(|r| hallmark_core::is_valid_name(r))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Every tag (not signature or referrer artifacts) of the repositories `filter` admits,
    /// decided now.
    async fn tag_states(&self, filter: &Filter) -> Result<Vec<TagState>, String> {
        let repositories: Vec<String> = self
            .repositories()
            .await?
            .into_iter()
            .filter(|r| r.contains(filter.repository.trim()))
            .collect();
        let mut pairs = Vec::new();
        for repo in repositories {
            let Ok(r) = RegistryRef::parse(&format!("{}/{repo}", self.inner.host)) else {
                continue;
            };
            let Ok(mut tags) = self
                .inner
                .decider
                .registry()
                .repository(&r)
                .list_tags()
                .await
            else {
                continue;
            };
            tags.retain(|t| !crate::is_artifact_tag(t) && hallmark_core::is_valid_tag(t));
            tags.sort();
            for tag in tags {
                if pairs.len() < MAX_TAGS {
                    pairs.push((repo.clone(), tag));
                }
            }
        }
        let verifier = self.inner.decider.policy();
        let states: Vec<TagState> = futures::stream::iter(pairs)
            .map(|(repository, tag)| {
                let verifier = verifier.clone();
                async move {
                    let image = format!("{}/{repository}:{tag}", self.inner.host);
                    let result = match RegistryRef::parse(&image) {
                        Ok(r) => {
                            let store =
                                Store::Registry(self.inner.decider.registry().repository(&r));
                            verifier
                                .inspect(&store, &ImageRef::Registry(r))
                                .await
                                .map_err(|e| hallmark_core::error::chain(&e))
                        }
                        Err(e) => Err(hallmark_core::error::chain(&e)),
                    };
                    TagState {
                        repository,
                        tag,
                        result,
                    }
                }
            })
            .buffered(CONCURRENT)
            .collect()
            .await;
        Ok(states
            .into_iter()
            .filter(|s| match filter.state.as_str() {
                "allowed" => s.allowed(),
                "denied" => !s.allowed(),
                _ => true,
            })
            .collect())
    }
}

async fn api_tags(State(proxy): State<Proxy>, Query(filter): Query<Filter>) -> Response {
    match proxy.tag_states(&filter).await {
        Ok(states) => {
            let v: Vec<Value> = states.iter().map(TagState::to_json).collect();
            json_response(StatusCode::OK, &Value::Array(v))
        }
        Err(e) => json_response(StatusCode::BAD_GATEWAY, &json!({"error": e})),
    }
}

async fn api_repositories(State(proxy): State<Proxy>) -> Response {
    match proxy.repositories().await {
        Ok(r) => json_response(StatusCode::OK, &json!(r)),
        Err(e) => json_response(StatusCode::BAD_GATEWAY, &json!({"error": e})),
    }
}

async fn api_decisions(State(proxy): State<Proxy>) -> Response {
    json_response(StatusCode::OK, &Value::Array(proxy.recent()))
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// `s` escaped for HTML text and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn signer(s: &Signer) -> String {
    match s {
        Signer::Key { fingerprint } => {
            format!("key sha256:{}", &fingerprint[..fingerprint.len().min(16)])
        }
        Signer::Certificate {
            subjects, issuer, ..
        } => format!(
            "certificate {}{}",
            subjects.join(", "),
            issuer
                .as_deref()
                .map_or_else(String::new, |i| format!(" (issuer {i})"))
        ),
        _ => "signer".to_owned(),
    }
}

/// The cells of one tag: cosign, attestations, DCT, notation, from the evidence every rule of
/// the policy would look at.
fn cells(state: &TagState, i: &hallmark_verify::Inspected) -> [String; 4] {
    let not_checked =
        |what: &str| format!("<span class=muted>not checked: the policy names no {what}</span>");
    let e = &i.all;
    let digest = &i.verified.decision.digest;
    let cosign = if i.checked.signatures {
        let mut s = String::new();
        for sig in &e.signatures {
            let logged = if sig.logged_in.is_empty() {
                String::new()
            } else {
                format!(", logged in {}", esc(&sig.logged_in.join(", ")))
            };
            let _ = write!(
                s,
                "<div class=ok>signed by {}{logged}</div>",
                esc(&signer(&sig.signer))
            );
        }
        for r in e
            .rejected
            .iter()
            .filter(|r| r.format != "attestation" && r.format != "dct")
        {
            let _ = write!(s, "<div class=bad>not accepted: {}</div>", esc(&r.reason));
        }
        if s.is_empty() {
            s.push_str("<div class=bad>no signatures</div>");
        }
        s
    } else {
        not_checked("cosign keys")
    };
    let attestations = if i.checked.attestations.is_empty() {
        not_checked("attestations")
    } else {
        let mut s = String::new();
        for a in &e.attestations {
            let _ = write!(
                s,
                "<div class=ok>{} by {}</div>",
                esc(&a.predicate_type),
                esc(&signer(&a.signer))
            );
        }
        if s.is_empty() {
            s.push_str("<div class=bad>no verified attestations</div>");
        }
        s
    };
    let dct = if i.checked.dct_servers.is_empty() {
        not_checked("trust server")
    } else {
        let mut s = String::new();
        for d in &e.dct {
            match &d.result {
                Ok(targets) => match targets.iter().find(|t| t.tag == state.tag) {
                    Some(t) if &t.digest == digest => {
                        let _ = write!(
                            s,
                            "<div class=ok>signed by {}</div>",
                            esc(&t.signers.join(", "))
                        );
                    }
                    Some(t) => {
                        let _ = write!(
                            s,
                            "<div class=bad>signed as another digest ({})</div>",
                            esc(&t.digest)
                        );
                    }
                    None => s.push_str("<div class=bad>not signed</div>"),
                },
                Err(why) => {
                    let _ = write!(s, "<div class=bad>no trust data: {}</div>", esc(why));
                }
            }
        }
        if s.is_empty() {
            s.push_str("<div class=bad>no trust data</div>");
        }
        s
    };
    let notation = if i.checked.notation.is_empty() {
        not_checked("notation trust policy")
    } else {
        let mut s = String::new();
        for n in &e.notation {
            match &n.result {
                Ok(v) if v.level == "skip" => {
                    let _ = write!(
                        s,
                        "<div class=muted>not verified: trust policy {} skips it</div>",
                        esc(&v.policy)
                    );
                }
                Ok(v) => {
                    for sig in &v.signatures {
                        let who = sig
                            .subject
                            .as_deref()
                            .unwrap_or("an unreadable certificate");
                        if sig.verified {
                            let logged = if sig.logged.is_empty() {
                                String::new()
                            } else {
                                format!(" (logged: {})", esc(&sig.logged.join("; ")))
                            };
                            let _ = write!(
                                s,
                                "<div class=ok>{} signed by {} under trust policy {}{logged}</div>",
                                esc(&sig.envelope.to_uppercase()),
                                esc(who),
                                esc(&v.policy)
                            );
                        } else {
                            let _ = write!(
                                s,
                                "<div class=bad>not accepted by trust policy {}: {}</div>",
                                esc(&v.policy),
                                esc(sig.failure.as_deref().unwrap_or("not verified"))
                            );
                        }
                    }
                }
                Err(why) => {
                    let _ = write!(s, "<div class=bad>not verified: {}</div>", esc(why));
                }
            }
        }
        if s.is_empty() {
            s.push_str("<div class=bad>no notation signatures</div>");
        }
        s
    };
    [cosign, attestations, dct, notation]
}

async fn page(State(proxy): State<Proxy>, Query(filter): Query<Filter>) -> Response {
    let states = proxy.tag_states(&filter).await;
    let mut html = String::with_capacity(16 * 1024);
    let _ = write!(
        html,
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>hallmark: {upstream}</title>\
         <style>body{{font:14px system-ui,sans-serif;margin:1.5em}}table{{border-collapse:collapse;width:100%}}\
         th,td{{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}}\
         th{{background:#f3f3f3}}.ok{{color:#1a6e1a}}.bad{{color:#a61b1b}}.muted{{color:#777}}\
         tr.denied td:first-child{{border-left:4px solid #a61b1b}}tr.allowed td:first-child{{border-left:4px solid #1a6e1a}}\
         code{{font-size:12px}}</style></head><body>\
         <h1>Signed state of {upstream}</h1>\
         <form method=get action=/ui/><label>Repository <input name=repository value=\"{repo}\"></label> \
         <label>State <select name=state>{options}</select></label> <button type=submit>Filter</button></form>",
        upstream = esc(&proxy.inner.base),
        repo = esc(&filter.repository),
        options = ["all", "allowed", "denied"]
            .iter()
            .map(|o| {
                let selected = if filter.state == *o || (filter.state.is_empty() && *o == "all") {
                    " selected"
                } else {
                    ""
                };
                format!("<option value={o}{selected}>{o}</option>")
            })
            .collect::<String>(),
    );
    match &states {
        Err(e) => {
            let _ = write!(
                html,
                "<p class=bad id=error>The upstream registry could not be listed: {}</p>",
                esc(e)
            );
        }
        Ok(states) => {
            let _ = write!(
                html,
                "<table id=tags><thead><tr><th>Repository</th><th>Tag</th><th>Digest</th><th>Cosign signatures</th>\
                 <th>Attestations</th><th>Docker Content Trust</th><th>Notation</th><th>Decision</th></tr></thead><tbody>"
            );
            for s in states {
                match &s.result {
                    Ok(i) => {
                        let v = &i.verified;
                        let [cosign, attestations, dct, notation] = cells(s, i);
                        let (class, verdict) = if v.allowed() {
                            ("allowed", "allowed".to_owned())
                        } else {
                            ("denied", esc(&v.decision.denial()))
                        };
                        let rule = v.decision.rule.as_deref().map_or_else(
                            || "the policy's default".to_owned(),
                            |r| format!("rule {}", esc(r)),
                        );
                        let _ = write!(
                            html,
                            "<tr class={class} data-repository=\"{repo}\" data-tag=\"{tag}\"><td>{repo}</td><td>{tag}</td>\
                             <td><code>{digest}</code></td><td>{cosign}</td><td>{attestations}</td><td>{dct}</td><td>{notation}</td>\
                             <td class=decision><b class={okbad}>{verdict}</b><br><span class=muted>{rule}</span></td></tr>",
                            repo = esc(&s.repository),
                            tag = esc(&s.tag),
                            digest = esc(&v.decision.digest),
                            okbad = if v.allowed() { "ok" } else { "bad" },
                        );
                    }
                    Err(e) => {
                        let _ = write!(
                            html,
                            "<tr class=denied data-repository=\"{repo}\" data-tag=\"{tag}\"><td>{repo}</td><td>{tag}</td>\
                             <td colspan=6 class=bad>could not be read: {e}</td></tr>",
                            repo = esc(&s.repository),
                            tag = esc(&s.tag),
                            e = esc(e),
                        );
                    }
                }
            }
            html.push_str("</tbody></table>");
        }
    }
    html.push_str("<h2>Recent decisions</h2><table id=recent><thead><tr><th>Time</th><th>Request</th><th>Image</th><th>Result</th><th>Reason</th></tr></thead><tbody>");
    for d in proxy.recent().iter().take(50) {
        let s = |k: &str| esc(d[k].as_str().unwrap_or_default());
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            s("time"),
            s("request"),
            s("image"),
            s("result"),
            s("reason")
        );
    }
    html.push_str("</tbody></table><p class=muted>JSON: <a href=/ui/api/tags>/ui/api/tags</a>, <a href=/ui/api/repositories>/ui/api/repositories</a>, <a href=/ui/api/decisions>/ui/api/decisions</a></p></body></html>");
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
            ),
        ],
        html,
    )
        .into_response()
}
