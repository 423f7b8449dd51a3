//! The Kubernetes manifests in `deploy/kubernetes`: every file parses, and the resources agree
//! with each other (names, ports, secrets, mounts) and with the webhook's command line (paths,
//! the decision timeout, the endpoints it serves). With `kubectl` on `PATH`, the kustomization
//! is also built by `kubectl kustomize`; with `HALLMARK_BIN` set to a hallmark binary, the
//! example policy is also checked by `hallmark policy check`.

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------------------------------------
// A small YAML loader: every document of a stream as a JSON value.

/// A collection being built: its items so far and its anchor id (0: none).
enum Frame {
    Seq(Vec<Value>, usize),
    /// The entries so far, the key waiting for its value, the anchor id.
    Map(Map<String, Value>, Option<String>, usize),
}

/// A scalar as a JSON value: quoted, block and `!!str` scalars are strings; plain ones are
/// null, booleans or integers when they plainly are, else strings.
fn scalar(text: &str, style: ScalarStyle, tagged_str: bool) -> Value {
    if style != ScalarStyle::Plain || tagged_str {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => text
            .parse::<i64>()
            .map_or_else(|_| Value::String(text.to_string()), Value::from),
    }
}

/// Every non-empty document of `text`, in order; an error names the line.
fn parse_yaml(text: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| e.to_string())?;
        let line = span.start.line();
        let (value, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tagged_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                (scalar(&text, style, tagged_str), anchor)
            }
            Event::Alias(id) => (
                anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| format!("line {line}: alias of an unknown anchor"))?,
                0,
            ),
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), anchor));
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(Map::new(), None, anchor));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => (Value::Array(items), anchor),
                Some(Frame::Map(map, None, anchor)) => (Value::Object(map), anchor),
                Some(Frame::Map(_, Some(key), _)) => {
                    return Err(format!("line {line}: key {key:?} has no value"));
                }
                None => return Err(format!("line {line}: end of a collection never started")),
            },
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => continue,
        };
        if anchor != 0 {
            anchors.insert(anchor, value.clone());
        }
        match stack.last_mut() {
            None => {
                if !value.is_null() {
                    docs.push(value);
                }
            }
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(map, pending, _)) => match pending.take() {
                None => {
                    *pending = Some(match value {
                        Value::String(s) => s,
                        Value::Bool(_) | Value::Number(_) => value.to_string(),
                        _ => return Err(format!("line {line}: a key must be a non-empty scalar")),
                    });
                }
                Some(key) => {
                    if map.contains_key(&key) {
                        return Err(format!("line {line}: duplicate key {key:?}"));
                    }
                    map.insert(key, value);
                }
            },
        }
    }
    if stack.is_empty() {
        Ok(docs)
    } else {
        Err("unterminated collection at the end of the stream".to_string())
    }
}

#[test]
fn loader_reads_what_the_manifests_use() {
    let text = "# comment\na: 1\nb: \"2\"\nc: [x, 'y', true]\nd: |\n  line one\n  line two\ne: >\n  folded\n  text\nf: &anchor {g: -3}\nh: *anchor\ni:\nj: !!str 4\n---\n---\n- k\n";
    let docs = parse_yaml(text).expect("the sample parses");
    assert_eq!(
        docs.len(),
        2,
        "the empty middle document is skipped: {docs:?}"
    );
    let expected = serde_json::json!({
        "a": 1, "b": "2", "c": ["x", "y", true], "d": "line one\nline two\n",
        "e": "folded text\n", "f": {"g": -3}, "h": {"g": -3}, "i": null, "j": "4",
    });
    assert_eq!(docs[0], expected);
    assert_eq!(docs[1], serde_json::json!(["k"]));
    let dup = parse_yaml("a: 1\na: 2\n").expect_err("a duplicate key is an error");
    assert!(dup.contains("duplicate key"), "{dup}");
    assert!(
        parse_yaml("a: [1, 2\n").is_err(),
        "an unclosed flow sequence is an error"
    );
}

// ---------------------------------------------------------------------------------------------
// The manifests.

/// `deploy/kubernetes` of this repository.
fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes")
}

/// One YAML document of a manifest file.
struct Doc {
    /// The file, relative to `deploy/kubernetes`.
    file: String,
    value: Value,
}

/// The `*.yaml` files under `dir`, recursively, sorted.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let entries =
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Every document of every manifest file; panics naming the file that does not parse.
fn all_docs() -> Vec<Doc> {
    let dir = deploy_dir();
    let mut docs = Vec::new();
    for path in yaml_files(&dir) {
        let file = path
            .strip_prefix(&dir)
            .expect("under deploy/kubernetes")
            .to_string_lossy()
            .replace('\\', "/");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
        let values = parse_yaml(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!values.is_empty(), "{file} holds no document");
        docs.extend(values.into_iter().map(|value| Doc {
            file: file.clone(),
            value,
        }));
    }
    docs
}

/// The value at a JSON pointer; panics naming it when absent.
fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer)
        .unwrap_or_else(|| panic!("{pointer} is missing in {v}"))
}

/// The string at a JSON pointer.
fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    at(v, pointer)
        .as_str()
        .unwrap_or_else(|| panic!("{pointer} is not a string in {v}"))
}

/// The integer at a JSON pointer.
fn int_at(v: &Value, pointer: &str) -> i64 {
    at(v, pointer)
        .as_i64()
        .unwrap_or_else(|| panic!("{pointer} is not an integer in {v}"))
}

/// The array at a JSON pointer.
fn array_at<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    at(v, pointer)
        .as_array()
        .unwrap_or_else(|| panic!("{pointer} is not a list in {v}"))
}

/// The strings of the list at a JSON pointer.
fn strings_at<'a>(v: &'a Value, pointer: &str) -> Vec<&'a str> {
    array_at(v, pointer)
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("{pointer} holds a non-string: {s}"))
        })
        .collect()
}

/// The one resource of `kind` named `name`.
fn find<'a>(docs: &'a [Doc], kind: &str, name: &str) -> &'a Value {
    let found: Vec<&Doc> = docs
        .iter()
        .filter(|d| {
            d.value.get("kind").and_then(Value::as_str) == Some(kind)
                && d.value.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
        })
        .collect();
    assert_eq!(found.len(), 1, "expected exactly one {kind} {name}");
    &found[0].value
}

/// The value of `flag` in `args` (`--flag VALUE` or `--flag=VALUE`).
fn flag<'a>(args: &[&'a str], flag: &str) -> &'a str {
    let prefix = format!("{flag}=");
    args.iter()
        .enumerate()
        .find_map(|(i, a)| {
            if *a == flag {
                args.get(i + 1).copied()
            } else {
                a.strip_prefix(prefix.as_str())
            }
        })
        .unwrap_or_else(|| panic!("{flag} VALUE is not among the args {args:?}"))
}

/// A duration as the webhook's flags take it (`500ms`, `8s`, `1m`, `1h`), in milliseconds.
fn millis(duration: &str) -> u64 {
    let (number, unit) = duration
        .find(|c: char| !c.is_ascii_digit())
        .map_or((duration, ""), |i| duration.split_at(i));
    let n: u64 = number
        .parse()
        .unwrap_or_else(|e| panic!("duration {duration:?}: {e}"));
    n * match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => panic!("duration {duration:?}: unknown unit {unit:?}"),
    }
}

/// The webhook's Deployment.
fn deployment(docs: &[Doc]) -> &Value {
    find(docs, "Deployment", "hallmark-admission")
}

/// The Deployment's hallmark container.
fn container(deployment: &Value) -> &Value {
    let containers = array_at(deployment, "/spec/template/spec/containers");
    assert_eq!(containers.len(), 1, "one container: {containers:?}");
    &containers[0]
}

/// The container's args.
fn args(container: &Value) -> Vec<&str> {
    strings_at(container, "/args")
}

/// The volume mounted over `file` in the Deployment's container, and `file`'s path inside it.
fn volume_of<'a>(deployment: &'a Value, file: &'a str) -> (&'a Value, &'a str) {
    let mounts = array_at(container(deployment), "/volumeMounts");
    let (name, rest) = mounts
        .iter()
        .find_map(|m| {
            let dir = str_at(m, "/mountPath").trim_end_matches('/');
            file.strip_prefix(dir)
                .and_then(|r| r.strip_prefix('/'))
                .map(|r| (str_at(m, "/name"), r))
        })
        .unwrap_or_else(|| panic!("no volume is mounted over {file}"));
    let volume = array_at(deployment, "/spec/template/spec/volumes")
        .iter()
        .find(|v| str_at(v, "/name") == name)
        .unwrap_or_else(|| panic!("volume {name} is mounted but not declared"));
    (volume, rest)
}

/// The mount path of the volume named `name`.
fn mount_path<'a>(deployment: &'a Value, name: &str) -> &'a str {
    array_at(container(deployment), "/volumeMounts")
        .iter()
        .find(|m| str_at(m, "/name") == name)
        .map(|m| str_at(m, "/mountPath"))
        .unwrap_or_else(|| panic!("volume {name} is not mounted"))
}

/// True when every label of `selector` is among `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().expect("a label selector is a map");
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn every_manifest_parses_and_names_its_resources() {
    let docs = all_docs();
    let files: BTreeSet<&str> = docs.iter().map(|d| d.file.as_str()).collect();
    for expected in [
        "namespace.yaml",
        "policy-configmap.yaml",
        "deployment.yaml",
        "pdb.yaml",
        "service.yaml",
        "validating-webhook.yaml",
        "mutating-webhook.yaml",
        "certificate.yaml",
        "kustomization.yaml",
        "gatekeeper/provider.yaml",
        "gatekeeper/constrainttemplate.yaml",
        "gatekeeper/constraint.yaml",
    ] {
        assert!(files.contains(expected), "{expected} is missing: {files:?}");
    }
    for d in &docs {
        let kind = str_at(&d.value, "/kind");
        assert!(
            !str_at(&d.value, "/apiVersion").is_empty(),
            "{}: empty apiVersion",
            d.file
        );
        if kind == "Kustomization" {
            continue;
        }
        assert!(
            !str_at(&d.value, "/metadata/name").is_empty(),
            "{}: {kind} without a name",
            d.file
        );
        if let Some(ns) = d.value.pointer("/metadata/namespace") {
            assert_eq!(
                ns.as_str(),
                Some("hallmark-system"),
                "{}: {kind} in another namespace",
                d.file
            );
        }
    }
    // Each file starts with a comment saying what it is.
    for path in yaml_files(&deploy_dir()) {
        let text = std::fs::read_to_string(&path).expect("readable");
        assert!(
            text.starts_with("# "),
            "{} does not start with a comment",
            path.display()
        );
    }
}

#[test]
fn deployment_runs_the_webhook_locked_down() {
    let docs = all_docs();
    let d = deployment(&docs);
    assert_eq!(int_at(d, "/spec/replicas"), 2);
    let c = container(d);
    let pod = at(d, "/spec/template/spec");
    // Container settings, falling back to the pod's where Kubernetes does.
    let effective = |field: &str| {
        c.pointer(&format!("/securityContext/{field}"))
            .or_else(|| pod.pointer(&format!("/securityContext/{field}")))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(effective("runAsNonRoot"), Value::Bool(true));
    assert_eq!(effective("runAsUser"), Value::from(65532));
    assert_eq!(
        effective("seccompProfile"),
        serde_json::json!({"type": "RuntimeDefault"})
    );
    assert_eq!(
        at(c, "/securityContext/readOnlyRootFilesystem"),
        &Value::Bool(true)
    );
    assert_eq!(
        at(c, "/securityContext/allowPrivilegeEscalation"),
        &Value::Bool(false)
    );
    assert!(strings_at(c, "/securityContext/capabilities/drop").contains(&"ALL"));
    assert_eq!(str_at(c, "/resources/requests/cpu"), "100m");
    assert_eq!(str_at(c, "/resources/requests/memory"), "64Mi");
    assert_eq!(str_at(c, "/resources/limits/memory"), "256Mi");

    let args = args(c);
    assert_eq!(args[..2], ["admission", "serve"], "args: {args:?}");
    for f in [
        "--policy",
        "--tls-cert",
        "--tls-key",
        "--decision-timeout",
        "--decision-log",
    ] {
        flag(&args, f);
    }
    assert!(
        args.contains(&"--allow-remote"),
        "a non-loopback --addr needs --allow-remote"
    );

    // The port the webhook listens on is the container port named https, which the probes use.
    let addr = flag(&args, "--addr");
    let port: i64 = addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("--addr {addr} has no port"));
    let https = array_at(c, "/ports")
        .iter()
        .find(|p| str_at(p, "/name") == "https")
        .expect("a container port named https");
    assert_eq!(int_at(https, "/containerPort"), port);
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = at(c, &format!("/{probe}/httpGet"));
        assert_eq!(str_at(get, "/path"), path, "{probe}");
        assert_eq!(str_at(get, "/scheme"), "HTTPS", "{probe}");
        let probe_port = at(get, "/port");
        assert!(
            probe_port.as_str() == Some("https") || probe_port.as_i64() == Some(port),
            "{probe} port {probe_port}"
        );
    }

    // The files named in the args are where the volumes put them.
    let (policy_volume, policy_key) = volume_of(d, flag(&args, "--policy"));
    let configmap = str_at(policy_volume, "/configMap/name");
    let policy = find(&docs, "ConfigMap", configmap);
    assert!(
        at(policy, "/data").get(policy_key).is_some(),
        "ConfigMap {configmap} has no key {policy_key}"
    );
    let certificate = find(&docs, "Certificate", "hallmark-admission-tls");
    for (f, key) in [("--tls-cert", "tls.crt"), ("--tls-key", "tls.key")] {
        let (volume, file) = volume_of(d, flag(&args, f));
        assert_eq!(
            str_at(volume, "/secret/secretName"),
            str_at(certificate, "/spec/secretName"),
            "{f}"
        );
        assert_eq!(file, key, "{f}");
    }

    // Registry credentials: DOCKER_CONFIG names the directory of the pull secret's config.json.
    let docker_config = array_at(c, "/env")
        .iter()
        .find(|e| str_at(e, "/name") == "DOCKER_CONFIG")
        .map(|e| str_at(e, "/value"))
        .expect("DOCKER_CONFIG is set");
    let config_json = format!("{}/config.json", docker_config.trim_end_matches('/'));
    let (volume, file) = volume_of(d, &config_json);
    assert_eq!(str_at(volume, "/secret/secretName"), "regcred");
    assert_eq!(at(volume, "/secret/optional"), &Value::Bool(true));
    let items = array_at(volume, "/secret/items");
    assert!(
        items
            .iter()
            .any(|i| str_at(i, "/key") == ".dockerconfigjson" && str_at(i, "/path") == file),
        "the pull secret's .dockerconfigjson is not mounted as {file}: {items:?}"
    );
}

#[test]
fn service_pdb_and_certificate_reach_the_pods() {
    let docs = all_docs();
    let d = deployment(&docs);
    let pod_labels = at(d, "/spec/template/metadata/labels");
    assert!(selects(at(d, "/spec/selector/matchLabels"), pod_labels));

    let service = find(&docs, "Service", "hallmark-admission");
    assert!(selects(at(service, "/spec/selector"), pod_labels));
    let ports = array_at(service, "/spec/ports");
    assert_eq!(ports.len(), 1, "{ports:?}");
    assert_eq!(int_at(&ports[0], "/port"), 443);
    let target = str_at(&ports[0], "/targetPort");
    assert!(
        array_at(container(d), "/ports")
            .iter()
            .any(|p| str_at(p, "/name") == target),
        "targetPort {target} is no container port name"
    );
    assert_eq!(
        str_at(service, "/metadata/annotations/prometheus.io~1scheme"),
        "https"
    );

    let pdb = find(&docs, "PodDisruptionBudget", "hallmark-admission");
    assert!(selects(at(pdb, "/spec/selector/matchLabels"), pod_labels));
    let min = int_at(pdb, "/spec/minAvailable");
    assert!(
        min >= 1 && min < int_at(d, "/spec/replicas"),
        "minAvailable {min}"
    );

    let certificate = find(&docs, "Certificate", "hallmark-admission-tls");
    let names = strings_at(certificate, "/spec/dnsNames");
    for name in [
        "hallmark-admission.hallmark-system.svc",
        "hallmark-admission.hallmark-system.svc.cluster.local",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let issuer = str_at(certificate, "/spec/issuerRef/name");
    find(&docs, str_at(certificate, "/spec/issuerRef/kind"), issuer);

    let ns = find(&docs, "Namespace", "hallmark-system");
    assert_eq!(
        str_at(ns, "/metadata/labels/hallmark.dev~1webhook"),
        "exempt"
    );
}

#[test]
fn webhooks_fail_closed_in_time_and_cover_every_workload() {
    let docs = all_docs();
    let args = args(container(deployment(&docs)));
    let decision_ms = millis(flag(&args, "--decision-timeout"));
    let service = find(&docs, "Service", "hallmark-admission");
    let certificate = find(&docs, "Certificate", "hallmark-admission-tls");
    let required = [
        ("", "pods"),
        ("", "pods/ephemeralcontainers"),
        ("", "replicationcontrollers"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
    ];
    for (kind, name, path) in [
        (
            "ValidatingWebhookConfiguration",
            "validate.hallmark.dev",
            "/validate",
        ),
        (
            "MutatingWebhookConfiguration",
            "mutate.hallmark.dev",
            "/mutate",
        ),
    ] {
        let config = find(&docs, kind, "hallmark-admission");
        assert_eq!(
            str_at(
                config,
                "/metadata/annotations/cert-manager.io~1inject-ca-from"
            ),
            format!(
                "{}/{}",
                str_at(certificate, "/metadata/namespace"),
                str_at(certificate, "/metadata/name")
            ),
            "{kind}"
        );
        let webhooks = array_at(config, "/webhooks");
        assert_eq!(webhooks.len(), 1, "{kind}");
        let w = &webhooks[0];
        assert_eq!(str_at(w, "/name"), name);
        let svc = at(w, "/clientConfig/service");
        assert_eq!(
            str_at(svc, "/name"),
            str_at(service, "/metadata/name"),
            "{kind}"
        );
        assert_eq!(
            str_at(svc, "/namespace"),
            str_at(service, "/metadata/namespace"),
            "{kind}"
        );
        assert_eq!(str_at(svc, "/path"), path, "{kind}");
        assert_eq!(
            int_at(svc, "/port"),
            int_at(service, "/spec/ports/0/port"),
            "{kind}"
        );
        assert_eq!(str_at(w, "/failurePolicy"), "Fail", "{kind}");
        assert_eq!(str_at(w, "/sideEffects"), "None", "{kind}");
        assert_eq!(str_at(w, "/matchPolicy"), "Equivalent", "{kind}");
        assert!(
            strings_at(w, "/admissionReviewVersions").contains(&"v1"),
            "{kind}"
        );
        let timeout = int_at(w, "/timeoutSeconds");
        assert!(
            (1..=10).contains(&timeout),
            "{kind}: timeoutSeconds {timeout} is outside 1..=10"
        );
        let timeout_ms = u64::try_from(timeout).expect("positive") * 1_000;
        assert!(
            timeout_ms > decision_ms,
            "{kind}: timeoutSeconds {timeout} does not leave the webhook its {decision_ms} ms decision timeout"
        );

        // The webhook's own namespace and kube-system are never sent to it.
        let expressions = array_at(w, "/namespaceSelector/matchExpressions");
        let excluded: Vec<&str> = expressions
            .iter()
            .filter(|e| {
                str_at(e, "/key") == "kubernetes.io/metadata.name"
                    && str_at(e, "/operator") == "NotIn"
            })
            .flat_map(|e| strings_at(e, "/values"))
            .collect();
        for ns in ["hallmark-system", "kube-system"] {
            assert!(
                excluded.contains(&ns),
                "{kind}: {ns} is not excluded: {expressions:?}"
            );
        }
        assert!(
            expressions
                .iter()
                .any(|e| str_at(e, "/key") == "hallmark.dev/webhook"
                    && str_at(e, "/operator") == "NotIn"
                    && strings_at(e, "/values").contains(&"exempt")),
            "{kind}: namespaces labelled hallmark.dev/webhook=exempt are not excluded"
        );

        let rules = array_at(w, "/rules");
        let any = |list: Vec<&str>, wanted: &str| list.iter().any(|x| *x == wanted || *x == "*");
        for (group, resource) in required {
            for op in ["CREATE", "UPDATE"] {
                assert!(
                    rules.iter().any(|r| any(strings_at(r, "/apiGroups"), group)
                        && any(strings_at(r, "/apiVersions"), "v1")
                        && any(strings_at(r, "/resources"), resource)
                        && any(strings_at(r, "/operations"), op)),
                    "{kind}: no rule for {op} {group}/v1 {resource}"
                );
            }
        }
        if kind == "MutatingWebhookConfiguration" {
            assert_eq!(str_at(w, "/reinvocationPolicy"), "IfNeeded");
        }
    }
}

#[test]
fn gatekeeper_provider_and_template_ask_hallmark() {
    let docs = all_docs();
    let service = find(&docs, "Service", "hallmark-admission");
    let provider = find(&docs, "Provider", "hallmark");
    assert_eq!(
        str_at(provider, "/apiVersion"),
        "externaldata.gatekeeper.sh/v1beta1"
    );
    let url = str_at(provider, "/spec/url");
    let rest = url
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("provider url {url} is not https"));
    let (authority, path) = rest.split_once('/').expect("the url has a path");
    assert_eq!(format!("/{path}"), "/gatekeeper/verify");
    let (host, port) = authority.split_once(':').unwrap_or((authority, "443"));
    assert_eq!(
        host,
        format!(
            "{}.{}",
            str_at(service, "/metadata/name"),
            str_at(service, "/metadata/namespace")
        )
    );
    assert_eq!(port, int_at(service, "/spec/ports/0/port").to_string());
    let certificate = find(&docs, "Certificate", "hallmark-admission-tls");
    let names = strings_at(certificate, "/spec/dnsNames");
    assert!(
        names.contains(&host),
        "the certificate does not name {host}: {names:?}"
    );
    let timeout = int_at(provider, "/spec/timeout");
    assert!((1..=2).contains(&timeout), "provider timeout {timeout}");
    assert!(at(provider, "/spec/caBundle").is_string());

    let template = find(&docs, "ConstraintTemplate", "hallmarkverifiedimages");
    let kind = str_at(template, "/spec/crd/spec/names/kind");
    assert_eq!(kind, "HallmarkVerifiedImages");
    let rego = str_at(template, "/spec/targets/0/rego");
    let compact: String = rego.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(
        compact.contains(&format!(
            "external_data({{\"provider\":\"{}\",\"keys\":",
            str_at(provider, "/metadata/name")
        )),
        "the rego does not call external_data with the provider: {rego}"
    );
    for needle in [
        "package hallmarkverifiedimages",
        "violation[",
        "response.errors",
        "response.system_error",
        "\"containers\"",
        "\"initContainers\"",
        "\"ephemeralContainers\"",
    ] {
        assert!(rego.contains(needle), "the rego lacks {needle}: {rego}");
    }

    let constraint = find(&docs, kind, "hallmark-verified-images");
    let action = str_at(constraint, "/spec/enforcementAction");
    assert!(
        ["dryrun", "warn", "deny"].contains(&action),
        "enforcementAction {action}"
    );
    let kinds = array_at(constraint, "/spec/match/kinds");
    assert!(
        kinds
            .iter()
            .any(|k| strings_at(k, "/kinds").contains(&"Pod")
                && strings_at(k, "/apiGroups").contains(&"")),
        "the constraint does not match Pods: {kinds:?}"
    );
    let excluded = strings_at(constraint, "/spec/match/excludedNamespaces");
    for ns in ["hallmark-system", "kube-system", "gatekeeper-system"] {
        assert!(excluded.contains(&ns), "{ns} is not excluded: {excluded:?}");
    }
}

#[test]
fn example_policy_is_a_hallmark_policy_in_audit_mode() {
    let docs = all_docs();
    let d = deployment(&docs);
    let policy_path = flag(&args(container(d)), "--policy");
    let (volume, key) = volume_of(d, policy_path);
    let configmap = find(&docs, "ConfigMap", str_at(volume, "/configMap/name"));
    let text = at(configmap, "/data")
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("the policy ConfigMap has no key {key}"));
    let policy = parse_yaml(text).unwrap_or_else(|e| panic!("{key}: {e}"));
    assert_eq!(policy.len(), 1, "{key} holds one document");
    let policy = &policy[0];
    assert_eq!(str_at(policy, "/apiVersion"), "hallmark/v1");
    assert_eq!(str_at(policy, "/kind"), "Policy");
    let default = str_at(policy, "/default");
    assert!(["allow", "deny"].contains(&default), "default {default}");
    let rules = array_at(policy, "/rules");
    assert!(!rules.is_empty(), "the policy has no rules");
    let keys_dir = mount_path(d, "keys").trim_end_matches('/');
    let mut names = BTreeSet::new();
    for rule in rules {
        let name = str_at(rule, "/name");
        assert!(names.insert(name), "two rules are named {name}");
        assert_eq!(
            str_at(rule, "/mode"),
            "audit",
            "rule {name} is not in audit mode"
        );
        assert!(
            !strings_at(rule, "/images").is_empty(),
            "rule {name} has no images"
        );
        // Key files live in the keys volume.
        for requirement in array_at(rule, "/require") {
            if let Some(keys) = requirement.pointer("/cosign/keys") {
                for k in keys.as_array().expect("cosign keys are a list") {
                    let k = k.as_str().expect("a key is a string");
                    if k.starts_with('/') {
                        assert!(
                            k.starts_with(&format!("{keys_dir}/")),
                            "rule {name}: key {k} is outside the keys volume {keys_dir}"
                        );
                    }
                }
            }
        }
    }
    let keys_volume = array_at(d, "/spec/template/spec/volumes")
        .iter()
        .find(|v| str_at(v, "/name") == "keys")
        .expect("a keys volume");
    assert_eq!(str_at(keys_volume, "/configMap/name"), "hallmark-keys");

    // With a hallmark binary at hand, the policy also loads.
    match std::env::var_os("HALLMARK_BIN") {
        None => eprintln!(
            "HALLMARK_BIN is not set: the policy is not checked by `hallmark policy check`"
        ),
        Some(bin) => {
            let file = std::env::temp_dir().join(format!(
                "hallmark-manifests-policy-{}.yaml",
                std::process::id()
            ));
            std::fs::write(&file, text).expect("the policy is written to a temporary file");
            let out = Command::new(&bin)
                .args(["policy", "check"])
                .arg(&file)
                .output()
                .expect("HALLMARK_BIN runs");
            let _ = std::fs::remove_file(&file);
            assert!(
                out.status.success(),
                "hallmark policy check: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn kustomization_lists_the_webhook_resources() {
    let docs = all_docs();
    let kustomization = docs
        .iter()
        .find(|d| d.file == "kustomization.yaml")
        .map(|d| &d.value)
        .expect("kustomization.yaml");
    assert_eq!(str_at(kustomization, "/kind"), "Kustomization");
    assert_eq!(str_at(kustomization, "/namespace"), "hallmark-system");
    let listed: BTreeSet<&str> = strings_at(kustomization, "/resources")
        .into_iter()
        .collect();
    let top_level: BTreeSet<&str> = docs
        .iter()
        .map(|d| d.file.as_str())
        .filter(|f| !f.contains('/') && *f != "kustomization.yaml")
        .collect();
    assert_eq!(
        listed, top_level,
        "resources should be every top-level manifest"
    );
    let image = str_at(container(deployment(&docs)), "/image");
    let images = array_at(kustomization, "/images");
    assert!(
        images
            .iter()
            .any(|i| image.starts_with(&format!("{}:", str_at(i, "/name")))),
        "no images entry overrides {image}: {images:?}"
    );
}

/// The kind and name of each resource.
fn kinds_and_names<'a>(values: impl Iterator<Item = &'a Value>) -> BTreeSet<(String, String)> {
    values
        .map(|v| {
            (
                str_at(v, "/kind").to_string(),
                str_at(v, "/metadata/name").to_string(),
            )
        })
        .collect()
}

#[test]
fn kubectl_kustomize_builds_the_webhook() {
    match Command::new("kubectl")
        .args(["version", "--client"])
        .output()
    {
        Ok(out) if out.status.success() => {}
        _ => {
            eprintln!("kubectl is not on PATH: skipping `kubectl kustomize`");
            return;
        }
    }
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(deploy_dir())
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built = parse_yaml(&String::from_utf8_lossy(&out.stdout))
        .unwrap_or_else(|e| panic!("kubectl kustomize output: {e}"));
    let docs = all_docs();
    let expected = kinds_and_names(
        docs.iter()
            .filter(|d| !d.file.contains('/') && d.file != "kustomization.yaml")
            .map(|d| &d.value),
    );
    assert_eq!(kinds_and_names(built.iter()), expected);
    let d = built
        .iter()
        .find(|v| v["kind"] == "Deployment")
        .expect("the build holds the Deployment");
    assert_eq!(str_at(d, "/metadata/name"), "hallmark-admission");
    assert_eq!(str_at(d, "/metadata/namespace"), "hallmark-system");
}
