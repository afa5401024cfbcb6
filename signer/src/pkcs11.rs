//! CA keys inside a PKCS#11 token: SoftHSM2 in tests, a hardware security module in production.
//!
//! A [`Pkcs11Token`] is one logged-in token, found by its label; [`Pkcs11Token::generate_key`]
//! makes an ECDSA P-256 key pair *inside* it and [`Pkcs11Token::find_key`] finds one made
//! earlier. Either returns a [`Pkcs11Key`], a [`CaKey`] whose private half never leaves the token:
//! it is generated with `CKA_SENSITIVE` and without `CKA_EXTRACTABLE`, and `find_key` refuses a
//! key that is extractable, so a key that could be copied out is never used as a CA key.
//!
//! Signing hashes the message with SHA-256 here and asks the token for `CKM_ECDSA` over the
//! digest, because SoftHSM 2.6 rejects `CKM_ECDSA_SHA256` and many HSMs only offer raw ECDSA.
//! The token's raw `r || s` is DER-encoded into the `Ecdsa-Sig-Value` that X.509, CRLs, OCSP and
//! CMS carry — the same bytes [`crate::SoftwareKey`] returns.
//!
//! Threads: a PKCS#11 session must not be used by two threads at once, while a [`CaKey`] is
//! `Send + Sync`. Each token therefore keeps one session behind a mutex, shared by its keys;
//! CA signatures (certificates, CRLs, OCSP responses, timestamps) are few enough that one session
//! is not the bottleneck, and the token serialises its operations anyway. (Do not generate keys
//! through two opens of one SoftHSM 2.6 token at the same time: its file object store can fail
//! concurrent object creation with `CKR_GENERAL_ERROR`. Through one open, the mutex prevents it.)
//!
//! The PKCS#11 library is initialised once per process and module (`C_Initialize` is global to
//! the process), kept for the process's lifetime, and never finalised here: several tokens, or
//! several opens of one token, share it. Likewise a login belongs to the process, not to a
//! session, so nothing here logs out: that would log out every other user of the token too.

use core::fmt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use der::asn1::OctetString;
use der::oid::db::rfc5912::SECP_256_R_1;
use der::{Decode, Encode};
use p256::pkcs8::EncodePublicKey;
use sha1::{Digest, Sha1};
use sha2::Sha256;
use spki::SubjectPublicKeyInfoOwned;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::key::{CaKey, sign_checked};

/// The most bytes accepted for a key label: long enough for `<deployment>-<role>-<year>`, short
/// enough for every HSM vendor's tools to display.
const MAX_LABEL_LEN: usize = 64;

/// Signed when a key is found or generated, so a private key whose public object is not its own
/// (or a token that cannot do ECDSA) fails when the key is loaded, not at the first certificate.
const SELF_TEST_MESSAGE: &[u8] = b"Drukyul ID: PKCS#11 key self-test";

/// The token's user PIN.
///
/// Wiped from memory when dropped and shown as `<redacted>` by `Debug`; this crate never logs it
/// and no error message contains it.
pub struct UserPin(Zeroizing<String>);

impl UserPin {
    /// Wraps a PIN taken from configuration or a secret store.
    pub fn new(pin: String) -> Self {
        Self(Zeroizing::new(pin))
    }

    /// A copy in cryptoki's own secret type, which wipes itself too.
    fn auth_pin(&self) -> AuthPin {
        AuthPin::from(self.0.as_str().to_owned())
    }
}

impl From<String> for UserPin {
    fn from(pin: String) -> Self {
        Self::new(pin)
    }
}

impl fmt::Debug for UserPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserPin(<redacted>)")
    }
}

/// A PKCS#11 token, opened and logged in as its user.
///
/// Cheap to clone: clones share the token's one session, and every [`Pkcs11Key`] from it keeps
/// the session open, so a key stays usable after the `Pkcs11Token` that made it is dropped.
#[derive(Clone)]
pub struct Pkcs11Token {
    inner: Arc<Token>,
}

struct Token {
    label: String,
    session: Mutex<Session>,
}

impl Token {
    /// The token's session, for one PKCS#11 call or a short sequence of them.
    fn session(&self) -> Result<MutexGuard<'_, Session>> {
        // A panic while the session was held may have left an operation half done on it.
        self.session.lock().map_err(|_| Error::Pkcs11 {
            operation: "use the session",
            reason: "the session is unusable after a panic in another thread; reopen the token".into(),
        })
    }
}

impl fmt::Debug for Pkcs11Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Token").field("label", &self.inner.label).finish_non_exhaustive()
    }
}

impl Pkcs11Token {
    /// Loads the PKCS#11 `module` (for SoftHSM2 on Debian `/usr/lib/softhsm/libsofthsm2.so`),
    /// finds the one token whose label is `token_label`, opens a read-write session and logs in
    /// as the user with `pin`.
    ///
    /// Tokens are found by label, not slot number, because slot numbers change when tokens are
    /// added (SoftHSM2 renumbers them) while the label is what the key ceremony chose.
    ///
    /// If this process is already logged in to the token (an earlier open that is still alive),
    /// PKCS#11 keeps that login and does not check `pin` again.
    pub fn open(module: impl AsRef<Path>, token_label: &str, pin: &UserPin) -> Result<Self> {
        let context = context(module.as_ref())?;
        let slot = find_slot(&context, token_label)?;
        let session = context.open_rw_session(slot).map_err(token_error("open a session"))?;
        match session.login(UserType::User, Some(&pin.auth_pin())) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(token_error("log in")(e)),
        }
        Ok(Self { inner: Arc::new(Token { label: token_label.to_owned(), session: Mutex::new(session) }) })
    }

    /// The token's label.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// Generates an ECDSA P-256 key pair inside the token and returns its private half as a
    /// [`CaKey`].
    ///
    /// Both objects are token objects labelled `label`, with a `CKA_ID` equal to the SHA-1 of the
    /// public point — the subject key identifier this crate writes into the key's certificate
    /// (RFC 5280 4.2.1.2 method 1), so an operator can match key and certificate with ordinary
    /// PKCS#11 tools. The private key is private, sensitive, not extractable, and may only sign.
    ///
    /// Refuses a label that a private key in the token already has: [`Pkcs11Token::find_key`]
    /// must find exactly one key for it.
    pub fn generate_key(&self, label: &str) -> Result<Pkcs11Key> {
        check_label(label)?;
        let session = self.inner.session()?;
        if !find_private_keys(&session, label)?.is_empty() {
            return Err(Error::Pkcs11 {
                operation: "generate a key",
                reason: format!("a private key labelled {label:?} already exists in the token"),
            });
        }
        let ec_params = SECP_256_R_1.to_der()?;
        let public_template = [
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::EcParams(ec_params),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let private_template = [
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Derive(false),
            Attribute::Unwrap(false),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let (public, private) = session
            .generate_key_pair(&Mechanism::EccKeyPairGen, &public_template, &private_template)
            .map_err(token_error("generate a key"))?;
        // Until the key is complete, a failure leaves nothing behind in the token.
        let finish = || -> Result<Pkcs11Key> {
            let point = read_ec_point(&session, public)?;
            let id = Sha1::digest(&point).to_vec();
            for object in [public, private] {
                session
                    .update_attributes(object, &[Attribute::Id(id.clone())])
                    .map_err(token_error("set the key id"))?;
            }
            Ok(Pkcs11Key {
                token: Arc::clone(&self.inner),
                private,
                label: label.to_owned(),
                id,
                public_key: spki_from_point(&point)?,
            })
        };
        let key = finish().inspect_err(|_| {
            // Best effort: the error that matters is the one being returned.
            let _ = session.destroy_object(private);
            let _ = session.destroy_object(public);
        })?;
        drop(session);
        // A key that cannot make a verifiable signature is of no use to anyone: remove it.
        key.self_test().inspect_err(|_| {
            let _ = key.destroy();
        })?;
        Ok(key)
    }

    /// Finds the key pair labelled `label` (made by [`Pkcs11Token::generate_key`] or by the
    /// HSM's own tools) and checks that it can serve as a CA key.
    ///
    /// Refuses, with the reason: no or several private keys with that label, a key that is not
    /// ECDSA P-256, may not sign, is not sensitive or is extractable, no public-key object with
    /// the private key's `CKA_ID`, or a public key that does not verify the private key's
    /// signature.
    pub fn find_key(&self, label: &str) -> Result<Pkcs11Key> {
        check_label(label)?;
        let refuse = |reason: String| Error::Pkcs11 { operation: "find the key", reason };
        let session = self.inner.session()?;
        let private = match find_private_keys(&session, label)?.as_slice() {
            [one] => *one,
            [] => return Err(refuse(format!("no private key labelled {label:?} in token {:?}", self.inner.label))),
            _ => return Err(refuse(format!("several private keys are labelled {label:?}"))),
        };
        let attributes = session
            .get_attributes(
                private,
                &[
                    AttributeType::KeyType,
                    AttributeType::EcParams,
                    AttributeType::Sign,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::Id,
                ],
            )
            .map_err(token_error("read the key's attributes"))?;
        let (mut key_type, mut params, mut sign, mut sensitive, mut extractable, mut id) =
            (None, None, None, None, None, None);
        for attribute in attributes {
            match attribute {
                Attribute::KeyType(v) => key_type = Some(v),
                Attribute::EcParams(v) => params = Some(v),
                Attribute::Sign(v) => sign = Some(v),
                Attribute::Sensitive(v) => sensitive = Some(v),
                Attribute::Extractable(v) => extractable = Some(v),
                Attribute::Id(v) => id = Some(v),
                _ => {}
            }
        }
        if key_type != Some(KeyType::EC) || params != Some(SECP_256_R_1.to_der()?) {
            return Err(refuse(format!("the key labelled {label:?} is not an ECDSA P-256 key")));
        }
        if sign != Some(true) {
            return Err(refuse(format!("the key labelled {label:?} may not sign (CKA_SIGN)")));
        }
        // The point of a token: a CA key that could be copied out is refused.
        if sensitive != Some(true) || extractable != Some(false) {
            return Err(refuse(format!(
                "the key labelled {label:?} is not sensitive and non-extractable (CKA_SENSITIVE, CKA_EXTRACTABLE)"
            )));
        }
        let id = match id {
            Some(id) if !id.is_empty() => id,
            _ => return Err(refuse(format!("the key labelled {label:?} has no CKA_ID to find its public key by"))),
        };
        let publics = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::KeyType(KeyType::EC),
                Attribute::Id(id.clone()),
            ])
            .map_err(token_error("find the public key"))?;
        let public = match publics.as_slice() {
            [one] => *one,
            [] => return Err(refuse(format!("no public-key object shares the CKA_ID of the key labelled {label:?}"))),
            _ => {
                return Err(refuse(format!(
                    "several public-key objects share the CKA_ID of the key labelled {label:?}"
                )));
            }
        };
        let point = read_ec_point(&session, public)?;
        drop(session);
        let key = Pkcs11Key {
            token: Arc::clone(&self.inner),
            private,
            label: label.to_owned(),
            id,
            public_key: spki_from_point(&point)?,
        };
        key.self_test()?;
        Ok(key)
    }
}

/// An ECDSA P-256 key pair held in a PKCS#11 token: the token backend of [`CaKey`].
///
/// Holds the token's session (shared), the private key's handle and the public key read from
/// the token; no private key material exists outside the token.
#[derive(Clone)]
pub struct Pkcs11Key {
    token: Arc<Token>,
    private: ObjectHandle,
    label: String,
    id: Vec<u8>,
    public_key: SubjectPublicKeyInfoOwned,
}

impl Pkcs11Key {
    /// The key's label in the token (what [`Pkcs11Token::find_key`] takes).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The key's `CKA_ID`.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    fn self_test(&self) -> Result<()> {
        sign_checked(self, SELF_TEST_MESSAGE).map(|_| ())
    }

    /// Removes both halves of the key pair from the token. Only for undoing a key generation
    /// that failed before anything was signed for publication (see `Hierarchy::generate_with`).
    pub(crate) fn destroy(&self) -> Result<()> {
        let session = self.token.session()?;
        let publics = session
            .find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Id(self.id.clone())])
            .map_err(token_error("find the public key"))?;
        session.destroy_object(self.private).map_err(token_error("destroy the private key"))?;
        for public in publics {
            session.destroy_object(public).map_err(token_error("destroy the public key"))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Key")
            .field("token", &self.token.label)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl CaKey for Pkcs11Key {
    fn public_key(&self) -> &SubjectPublicKeyInfoOwned {
        &self.public_key
    }

    /// SHA-256 here, raw `CKM_ECDSA` in the token, DER `Ecdsa-Sig-Value` out.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let digest = Sha256::digest(message);
        let raw = {
            let session = self.token.session()?;
            session.sign(&Mechanism::Ecdsa, self.private, &digest).map_err(token_error("sign"))?
        };
        // `from_slice` also refuses r or s of zero or beyond the group order.
        let signature = p256::ecdsa::Signature::from_slice(&raw)
            .map_err(|_| Error::Signing("the token returned a malformed ECDSA P-256 signature".into()))?;
        Ok(signature.to_der().as_bytes().to_vec())
    }
}

/// The process's PKCS#11 context for `module`, loaded and initialised on first use.
///
/// `C_Initialize` is global to the process: a second initialisation of the same library fails
/// (`CKR_CRYPTOKI_ALREADY_INITIALIZED`) and a `C_Finalize` would close every session of every
/// user. So each module is initialised once, the context is shared, and it is never finalised.
fn context(module: &Path) -> Result<Pkcs11> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let path = module.canonicalize().map_err(|e| Error::Pkcs11 {
        operation: "load the PKCS#11 module",
        reason: format!("{}: {e}", module.display()),
    })?;
    let mut contexts = CONTEXTS.get_or_init(Mutex::default).lock().map_err(|_| Error::Pkcs11 {
        operation: "load the PKCS#11 module",
        reason: "the module registry is unusable after a panic in another thread".into(),
    })?;
    if let Some(context) = contexts.get(&path) {
        return Ok(context.clone());
    }
    let context = Pkcs11::new(&path).map_err(token_error("load the PKCS#11 module"))?;
    // OS locking: the library may be called from several threads (one session each).
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Someone else in this process (another library) initialised it first: share it.
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(token_error("initialise the PKCS#11 module")(e)),
    }
    contexts.insert(path, context.clone());
    Ok(context)
}

/// The slot holding the one initialised token labelled `label`.
fn find_slot(context: &Pkcs11, label: &str) -> Result<Slot> {
    let refuse = |reason: String| Error::Pkcs11 { operation: "find the token", reason };
    let mut found = Vec::new();
    let mut others = Vec::new();
    for slot in context.get_slots_with_token().map_err(token_error("list the slots"))? {
        let info = context.get_token_info(slot).map_err(token_error("read the token information"))?;
        if info.label() == label {
            found.push((slot, info));
        } else {
            others.push(info.label().to_owned());
        }
    }
    let (slot, info) = match found.as_slice() {
        [one] => one,
        [] => return Err(refuse(format!("no token labelled {label:?} (tokens present: {others:?})"))),
        _ => return Err(refuse(format!("several tokens are labelled {label:?}"))),
    };
    if !info.token_initialized() || !info.user_pin_initialized() {
        return Err(refuse(format!("token {label:?} is not initialised or has no user PIN")));
    }
    if info.user_pin_locked() {
        return Err(refuse(format!("the user PIN of token {label:?} is locked")));
    }
    Ok(*slot)
}

fn find_private_keys(session: &Session, label: &str) -> Result<Vec<ObjectHandle>> {
    session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Label(label.as_bytes().to_vec())])
        .map_err(token_error("search the token"))
}

/// A key label: what an operator types into HSM tools, so printable and reasonably short.
fn check_label(label: &str) -> Result<()> {
    if label.is_empty() || label.len() > MAX_LABEL_LEN || label.chars().any(char::is_control) {
        return Err(Error::InvalidName {
            field: "PKCS#11 key label",
            reason: "must be 1 to 64 bytes without control characters",
        });
    }
    Ok(())
}

/// The uncompressed P-256 point of an EC public-key object.
///
/// PKCS#11 (2.3 and later) says `CKA_EC_POINT` is the DER encoding of an OCTET STRING holding
/// the point; some tokens return the bare point instead. The DER reading is tried first, and
/// accepted only if the whole attribute is one OCTET STRING whose content is a valid uncompressed
/// point; otherwise a 65-byte bare uncompressed point is accepted. Either way the point is
/// checked to be on the curve when it becomes a public key.
fn read_ec_point(session: &Session, public: ObjectHandle) -> Result<Vec<u8>> {
    let attributes =
        session.get_attributes(public, &[AttributeType::EcPoint]).map_err(token_error("read the public key"))?;
    let raw = attributes
        .into_iter()
        .find_map(|a| match a {
            Attribute::EcPoint(v) => Some(v),
            _ => None,
        })
        .ok_or_else(|| Error::Pkcs11 {
            operation: "read the public key",
            reason: "the public-key object has no CKA_EC_POINT".into(),
        })?;
    Ok(unwrap_ec_point(&raw)?.to_vec())
}

/// The length of an uncompressed P-256 point: `04 || X || Y`.
const UNCOMPRESSED_P256_LEN: usize = 65;

pub(crate) fn unwrap_ec_point(raw: &[u8]) -> Result<&[u8]> {
    let is_uncompressed = |p: &[u8]| p.len() == UNCOMPRESSED_P256_LEN && p[0] == 0x04;
    if let Ok(octets) = OctetString::from_der(raw)
        && is_uncompressed(octets.as_bytes())
    {
        // The same bytes, borrowed from `raw`: the content is its last 65 bytes.
        return Ok(&raw[raw.len() - UNCOMPRESSED_P256_LEN..]);
    }
    if is_uncompressed(raw) {
        return Ok(raw);
    }
    Err(Error::UnsupportedKey("CKA_EC_POINT is not an uncompressed P-256 point"))
}

/// The SubjectPublicKeyInfo of an uncompressed P-256 point, encoded exactly as
/// [`crate::SoftwareKey`] encodes its own (id-ecPublicKey, namedCurve prime256v1).
fn spki_from_point(point: &[u8]) -> Result<SubjectPublicKeyInfoOwned> {
    let public = p256::PublicKey::from_sec1_bytes(point)
        .map_err(|_| Error::UnsupportedKey("the token's public key is not a valid P-256 point"))?;
    let document = public.to_public_key_der().map_err(|_| Error::Pkcs8)?;
    Ok(document.decode_msg::<SubjectPublicKeyInfoOwned>()?)
}

/// Turns a cryptoki error into the crate's, naming the operation and the token's return code.
///
/// cryptoki's own messages are the PKCS#11 specification's paragraphs; the return code's name
/// (`PinIncorrect`, `KeyFunctionNotPermitted`, ...) is what an operator can look up. No PIN ever
/// reaches a cryptoki error, so none reaches ours.
fn token_error(operation: &'static str) -> impl FnOnce(CkError) -> Error {
    move |e| {
        let reason = match e {
            CkError::Pkcs11(rv, _) => match rv {
                RvError::PinIncorrect => "the user PIN is incorrect (CKR_PIN_INCORRECT)".to_owned(),
                RvError::PinLocked => "the user PIN is locked (CKR_PIN_LOCKED)".to_owned(),
                RvError::PinExpired => "the user PIN has expired (CKR_PIN_EXPIRED)".to_owned(),
                RvError::UserPinNotInitialized => "the token has no user PIN (CKR_USER_PIN_NOT_INITIALIZED)".to_owned(),
                RvError::UserNotLoggedIn => "not logged in to the token (CKR_USER_NOT_LOGGED_IN)".to_owned(),
                RvError::TokenNotPresent | RvError::DeviceRemoved => {
                    format!("the token is gone ({rv:?}); reopen it when it is back")
                }
                RvError::SessionHandleInvalid | RvError::SessionClosed => {
                    format!("the session to the token was lost ({rv:?}); reopen the token")
                }
                RvError::MechanismInvalid => {
                    "the token does not offer this mechanism (CKR_MECHANISM_INVALID)".to_owned()
                }
                other => format!("the token answered {other:?}"),
            },
            CkError::LibraryLoading(e) => format!("cannot load the module: {e}"),
            other => other.to_string(),
        };
        Error::Pkcs11 { operation, reason }
    }
}
