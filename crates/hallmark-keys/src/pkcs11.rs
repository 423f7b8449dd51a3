//! Keys on PKCS#11 tokens (PKCS#11 v2.40 through cryptoki), selected by an RFC 7512 URI.
//!
//! Signing uses `CKM_ECDSA` over a SHA-256 (P-256) or SHA-384 (P-384) digest computed here:
//! SoftHSM 2.6 and many tokens have no `CKM_ECDSA_SHA256`. The token's raw `r || s` is
//! converted to DER, as cosign stores it. Token calls block, so they run on tokio's blocking
//! pool; one session per key, serialised by a mutex.

use crate::{KeysError, OpenOptions, Pkcs11Uri, der};
use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    error::{Error as P11Error, RvError},
    mechanism::Mechanism,
    object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle},
    session::{Session, UserType},
    slot::Slot,
    types::AuthPin,
};
use hallmark_core::{KeyAlgorithm, PublicKey};
use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex, OnceLock},
};
use zeroize::Zeroizing;

const BACKEND: &str = "PKCS#11";

/// The environment variable a PIN is read from when the URI has no `pin-value`.
pub const PIN_VAR: &str = "HALLMARK_PKCS11_PIN";
/// The environment variable naming the module when the URI has no `module-path`.
pub const MODULE_VAR: &str = "HALLMARK_PKCS11_MODULE";

fn fail(reference: &str, reason: impl Into<String>) -> KeysError {
    KeysError::Backend {
        reference: reference.to_owned(),
        backend: BACKEND,
        reason: reason.into(),
    }
}

/// A cryptoki error in words; never includes arguments (the PIN).
fn describe(e: &P11Error) -> String {
    match e {
        P11Error::Pkcs11(RvError::PinIncorrect, _) => {
            "wrong PIN: the token refused the login (CKR_PIN_INCORRECT)".to_owned()
        }
        P11Error::Pkcs11(RvError::PinLocked, _) => "the PIN is locked (CKR_PIN_LOCKED)".to_owned(),
        P11Error::Pkcs11(rv, function) => format!("{function:?} failed: {rv:?}"),
        P11Error::LibraryLoading(e) => format!("cannot load the PKCS#11 module: {e}"),
        other => other.to_string(),
    }
}

/// One initialised context per module for the whole process: `C_Finalize` of one context
/// would close every session of the others.
fn context(module: &PathBuf, reference: &str) -> Result<Pkcs11, KeysError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut map = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .map_err(|_| fail(reference, "PKCS#11 context lock poisoned"))?;
    if let Some(ctx) = map.get(module) {
        return Ok(ctx.clone());
    }
    tracing::debug!(reference, module = %module.display(), "PKCS#11 C_Initialize");
    let ctx = Pkcs11::new(module).map_err(|e| match &e {
        // The loader's message starts with the file, which the reference names already when
        // it has a module-path.
        P11Error::LibraryLoading(load) => {
            let text = load.to_string();
            let shown = module.display().to_string();
            let text = match text.strip_prefix(&format!("{shown}: ")) {
                Some(rest) if reference.contains(&shown) => rest.to_owned(),
                _ => text,
            };
            fail(reference, format!("cannot load the PKCS#11 module: {text}"))
        }
        _ => fail(
            reference,
            format!("module {}: {}", module.display(), describe(&e)),
        ),
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(fail(
                reference,
                format!("initialising module {}: {}", module.display(), describe(&e)),
            ));
        }
    }
    map.insert(module.clone(), ctx.clone());
    Ok(ctx)
}

fn module_of(
    uri: &Pkcs11Uri,
    reference: &str,
    options: &OpenOptions<'_>,
) -> Result<PathBuf, KeysError> {
    if let Some(m) = &uri.module_path {
        tracing::debug!(reference, module = %m.display(), source = "module-path", "PKCS#11 module");
        return Ok(m.clone());
    }
    for var in [MODULE_VAR, "COSIGN_PKCS11_MODULE_PATH"] {
        if let Some(v) = options.var(var) {
            tracing::debug!(reference, module = v, source = var, "PKCS#11 module");
            return Ok(PathBuf::from(v));
        }
    }
    Err(KeysError::InvalidReference {
        reference: reference.to_owned(),
        reason: format!(
            "expected the PKCS#11 module in module-path=... or {MODULE_VAR}, found neither"
        ),
    })
}

fn pin_of(
    uri: &Pkcs11Uri,
    reference: &str,
    options: &OpenOptions<'_>,
) -> Result<Zeroizing<String>, KeysError> {
    if let Some(p) = &uri.pin {
        tracing::debug!(reference, source = "pin-value in the URI", "PKCS#11 PIN");
        return Ok(p.clone());
    }
    match options.var(PIN_VAR) {
        Some(p) => {
            tracing::debug!(reference, source = PIN_VAR, "PKCS#11 PIN");
            Ok(Zeroizing::new(p))
        }
        None => Err(KeysError::Passphrase {
            reference: reference.to_owned(),
            reason: format!(
                "a PIN is needed to sign on the token: expected pin-value in the URI or {PIN_VAR} in the environment, found neither"
            ),
        }),
    }
}

/// The slot whose token matches the URI's token label / serial / slot-id.
fn find_slot(ctx: &Pkcs11, uri: &Pkcs11Uri, reference: &str) -> Result<Slot, KeysError> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| fail(reference, format!("listing slots: {}", describe(&e))))?;
    let mut found = Vec::new();
    let mut matching = Vec::new();
    for slot in slots {
        let Ok(info) = ctx.get_token_info(slot) else {
            continue;
        };
        let label = info.label().trim_end().to_owned();
        let serial = info.serial_number().trim_end().to_owned();
        let ok = uri.token.as_ref().is_none_or(|t| *t == label)
            && uri.serial.as_ref().is_none_or(|s| *s == serial)
            && uri.slot_id.is_none_or(|id| id == slot.id());
        if ok && info.token_initialized() {
            matching.push(slot);
        }
        found.push(format!("{label:?} (serial {serial}, slot {})", slot.id()));
    }
    tracing::debug!(reference, tokens = ?found, matching = matching.len(), "PKCS#11 tokens");
    match matching.len() {
        1 => Ok(matching[0]),
        0 => Err(fail(
            reference,
            format!(
                "no token matches {}; found {}",
                [
                    uri.token.as_ref().map(|t| format!("token={t}")),
                    uri.serial.as_ref().map(|s| format!("serial={s}")),
                    uri.slot_id.map(|s| format!("slot-id={s}")),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(";"),
                if found.is_empty() {
                    "no token at all".to_owned()
                } else {
                    found.join(", ")
                }
            ),
        )),
        n => Err(fail(
            reference,
            format!(
                "{n} tokens match; expected one (give token=, serial= or slot-id=): {}",
                found.join(", ")
            ),
        )),
    }
}

fn login(session: &Session, pin: &str, reference: &str) -> Result<(), KeysError> {
    let pin = AuthPin::from(pin.to_owned());
    match session.login(UserType::User, Some(&pin)) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
            tracing::debug!(reference, "PKCS#11 C_Login: logged in");
            Ok(())
        }
        Err(e) => {
            let reason = describe(&e);
            tracing::debug!(reference, error = %reason, "PKCS#11 C_Login failed");
            Err(fail(reference, reason))
        }
    }
}

fn template(uri: &Pkcs11Uri, class: ObjectClass) -> Vec<Attribute> {
    let mut t = vec![Attribute::Class(class)];
    if let Some(label) = &uri.object {
        t.push(Attribute::Label(label.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        t.push(Attribute::Id(id.clone()));
    }
    t
}

fn find_one(
    session: &Session,
    uri: &Pkcs11Uri,
    class: ObjectClass,
    what: &str,
    reference: &str,
) -> Result<Option<ObjectHandle>, KeysError> {
    let objects = session
        .find_objects(&template(uri, class))
        .map_err(|e| fail(reference, format!("finding the {what}: {}", describe(&e))))?;
    tracing::trace!(
        reference,
        what,
        found = objects.len(),
        "PKCS#11 C_FindObjects"
    );
    match objects.len() {
        0 => Ok(None),
        1 => Ok(Some(objects[0])),
        n => Err(fail(
            reference,
            format!("{n} {what}s match object/id; expected one"),
        )),
    }
}

#[derive(Clone, Copy)]
enum Curve {
    P256,
    P384,
}

impl Curve {
    fn from_params(params: &[u8]) -> Option<Self> {
        if params == der::P256_OID {
            Some(Self::P256)
        } else if params == der::P384_OID {
            Some(Self::P384)
        } else {
            None
        }
    }
    fn oid(self) -> &'static [u8] {
        match self {
            Self::P256 => der::P256_OID,
            Self::P384 => der::P384_OID,
        }
    }
    fn field_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }
    fn digest(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Self::P256 => &aws_lc_rs::digest::SHA256,
            Self::P384 => &aws_lc_rs::digest::SHA384,
        }
    }
}

/// Read the public key object (`CKA_EC_PARAMS`, `CKA_EC_POINT`) matching the URI.
fn read_public(
    session: &Session,
    uri: &Pkcs11Uri,
    reference: &str,
) -> Result<(PublicKey, Curve), KeysError> {
    let handle = find_one(session, uri, ObjectClass::PUBLIC_KEY, "public key", reference)?
        .ok_or_else(|| {
            fail(
                reference,
                "no public key object with this object/id on the token; expected the key pair's public half (CKO_PUBLIC_KEY) next to the private key",
            )
        })?;
    let attrs = session
        .get_attributes(
            handle,
            &[
                AttributeType::KeyType,
                AttributeType::EcParams,
                AttributeType::EcPoint,
            ],
        )
        .map_err(|e| {
            fail(
                reference,
                format!("reading the public key: {}", describe(&e)),
            )
        })?;
    let (mut kind, mut params, mut point) = (None, None, None);
    for a in attrs {
        match a {
            Attribute::KeyType(k) => kind = Some(k),
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    if kind != Some(KeyType::EC) {
        return Err(fail(
            reference,
            format!(
                "expected an EC key (CKK_EC, P-256 or P-384), found key type {}",
                kind.map(|k| format!("{k}"))
                    .unwrap_or_else(|| "unknown".into())
            ),
        ));
    }
    let params = params.unwrap_or_default();
    let curve = Curve::from_params(&params).ok_or_else(|| {
        fail(
            reference,
            format!(
                "expected curve P-256 or P-384, found CKA_EC_PARAMS {}",
                params
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            ),
        )
    })?;
    let point = point.unwrap_or_default();
    let raw = der::unwrap_ec_point(&point, curve.field_len())
        .ok_or_else(|| fail(reference, "CKA_EC_POINT is not an uncompressed point"))?;
    let spki = der::ec_spki_der(curve.oid(), raw);
    let public =
        PublicKey::from_spki_der_named(&spki, "the token's public key").map_err(|source| {
            KeysError::Key {
                reference: reference.to_owned(),
                source,
            }
        })?;
    Ok((public, curve))
}

struct Inner {
    session: Session,
    key: ObjectHandle,
}

/// A private key on a token, with a logged-in session.
pub(crate) struct TokenKey {
    inner: Arc<Mutex<Inner>>,
    curve: Curve,
    reference: String,
}

async fn blocking<T: Send + 'static>(
    reference: &str,
    f: impl FnOnce() -> Result<T, KeysError> + Send + 'static,
) -> Result<T, KeysError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| fail(reference, format!("token task failed: {e}")))?
}

impl TokenKey {
    pub(crate) async fn open(
        uri: &Pkcs11Uri,
        reference: &str,
        options: &OpenOptions<'_>,
    ) -> Result<(Self, PublicKey), KeysError> {
        let module = module_of(uri, reference, options)?;
        let pin = pin_of(uri, reference, options)?;
        let (uri, reference) = (uri.clone(), reference.to_owned());
        blocking(&reference.clone(), move || {
            let ctx = context(&module, &reference)?;
            let slot = find_slot(&ctx, &uri, &reference)?;
            let session = ctx
                .open_ro_session(slot)
                .map_err(|e| fail(&reference, format!("opening a session: {}", describe(&e))))?;
            login(&session, &pin, &reference)?;
            drop(pin);
            let key = find_one(
                &session,
                &uri,
                ObjectClass::PRIVATE_KEY,
                "private key",
                &reference,
            )?
            .ok_or_else(|| {
                fail(
                    &reference,
                    "no private key with this object/id on the token (after login)",
                )
            })?;
            let (public, curve) = read_public(&session, &uri, &reference)?;
            tracing::debug!(
                reference,
                key_type = public.algorithm().name(),
                "PKCS#11 private key found"
            );
            let key = TokenKey {
                inner: Arc::new(Mutex::new(Inner { session, key })),
                curve,
                reference,
            };
            Ok((key, public))
        })
        .await
    }

    pub(crate) async fn sign(
        &self,
        message: &[u8],
        public: &PublicKey,
    ) -> Result<Vec<u8>, KeysError> {
        let digest = aws_lc_rs::digest::digest(self.curve.digest(), message);
        let digest = digest.as_ref().to_vec();
        tracing::debug!(
            reference = self.reference,
            digest_bytes = digest.len(),
            "PKCS#11 C_Sign (CKM_ECDSA)"
        );
        let inner = self.inner.clone();
        let reference = self.reference.clone();
        let raw = blocking(&self.reference, move || {
            let inner = inner
                .lock()
                .map_err(|_| fail(&reference, "token session lock poisoned"))?;
            inner
                .session
                .sign(&Mechanism::Ecdsa, inner.key, &digest)
                .map_err(|e| fail(&reference, format!("signing (CKM_ECDSA): {}", describe(&e))))
        })
        .await?;
        if raw.len() != 2 * self.curve.field_len() {
            return Err(fail(
                &self.reference,
                format!(
                    "expected a {}-byte r||s signature from CKM_ECDSA, found {} bytes",
                    2 * self.curve.field_len(),
                    raw.len()
                ),
            ));
        }
        let der = der::ecdsa_raw_to_der(&raw)
            .ok_or_else(|| fail(&self.reference, "malformed r||s signature"))?;
        crate::signer::check_remote(public, message, &der, &self.reference, BACKEND, "")?;
        Ok(der)
    }
}

/// The public key of the URI's key pair: read without logging in when the token allows,
/// else after a login with the PIN (URI or `HALLMARK_PKCS11_PIN`).
pub(crate) async fn public_key(
    uri: &Pkcs11Uri,
    reference: &str,
    options: &OpenOptions<'_>,
) -> Result<PublicKey, KeysError> {
    let module = module_of(uri, reference, options)?;
    let pin = pin_of(uri, reference, options).ok();
    let (uri, reference) = (uri.clone(), reference.to_owned());
    blocking(&reference.clone(), move || {
        let ctx = context(&module, &reference)?;
        let slot = find_slot(&ctx, &uri, &reference)?;
        let session = ctx
            .open_ro_session(slot)
            .map_err(|e| fail(&reference, format!("opening a session: {}", describe(&e))))?;
        match read_public(&session, &uri, &reference) {
            Ok((public, _)) => Ok(public),
            Err(e) => match pin {
                Some(pin) => {
                    login(&session, &pin, &reference)?;
                    Ok(read_public(&session, &uri, &reference)?.0)
                }
                None => Err(e),
            },
        }
    })
    .await
}

/// Generate an EC P-256 key pair on the token: private key sensitive, not extractable, both
/// halves labelled `object` (and with `id`, else a random 8-byte ID).
pub(crate) async fn generate(
    uri: &Pkcs11Uri,
    reference: &str,
    options: &OpenOptions<'_>,
) -> Result<PublicKey, KeysError> {
    let module = module_of(uri, reference, options)?;
    let pin = pin_of(uri, reference, options)?;
    let Some(label) = uri.object.clone() else {
        return Err(KeysError::InvalidReference {
            reference: reference.to_owned(),
            reason: "expected object=LABEL to name the new key, found none".to_owned(),
        });
    };
    let mut uri = uri.clone();
    if uri.id.is_none() {
        let mut id = vec![0u8; 8];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| fail(reference, "no random bytes"))?;
        uri.id = Some(id);
    }
    let reference = reference.to_owned();
    blocking(&reference.clone(), move || {
        let ctx = context(&module, &reference)?;
        let slot = find_slot(&ctx, &uri, &reference)?;
        let session = ctx
            .open_rw_session(slot)
            .map_err(|e| fail(&reference, format!("opening a session: {}", describe(&e))))?;
        login(&session, &pin, &reference)?;
        let by_label = Pkcs11Uri {
            object: Some(label.clone()),
            ..Pkcs11Uri::default()
        };
        let existing = session
            .find_objects(&template(&by_label, ObjectClass::PRIVATE_KEY))
            .map_err(|e| fail(&reference, describe(&e)))?;
        if !existing.is_empty() {
            return Err(fail(
                &reference,
                format!("a private key labelled {label:?} already exists on the token; expected a new label"),
            ));
        }
        let id = uri.id.clone().unwrap_or_default();
        let public_template = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::EcParams(der::P256_OID.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.clone()),
        ];
        let private_template = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id),
        ];
        tracing::debug!(reference, label, "PKCS#11 C_GenerateKeyPair (CKM_EC_KEY_PAIR_GEN, P-256)");
        session
            .generate_key_pair(&Mechanism::EccKeyPairGen, &public_template, &private_template)
            .map_err(|e| fail(&reference, format!("generating the key pair: {}", describe(&e))))?;
        let (public, _) = read_public(&session, &uri, &reference)?;
        if public.algorithm() != KeyAlgorithm::EcdsaP256 {
            return Err(fail(&reference, "the token made a key that is not P-256"));
        }
        Ok(public)
    })
    .await
}
