//! Remote signing in the manner of the Cloud Signature Consortium API and India's eSign.
//!
//! 1. An agency (a client with the `sign` scope, through client credentials) posts SHA-256
//!    digests, a human-readable title for each, and a registered return URL; it gets a request id
//!    and the URL to send the citizen to.
//! 2. The citizen sees the agency, every title and digest, and approves with a passkey
//!    assertion (user verification required) whose WebAuthn challenge is
//!    `SHA-256("drukyul-sign-v1" || nonce || request id || (digest || SHA-256(title))*)`: the
//!    signed clientDataJSON commits to exactly those documents, and is kept as evidence. The
//!    assertion is the signature activation data: single use (the ceremony is consumed), it
//!    expires with the request, and it releases the key only for those digests.
//! 3. The service signs each digest (CAdES-B-T, see [`crate::pki::sign_digests`]) and the agency
//!    fetches the signatures. Refusal and expiry are reported to the agency the same way.
//!
//! Approving is itself a fresh authentication, so it needs no prior session; an agency that
//! knows who must sign names the CID, and then only that citizen's passkeys are asked.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use webauthn_rs::prelude::{PublicKeyCredential, RequestChallengeResponse};

use crate::{
    app::Idp,
    domain::{
        UnixTime,
        audit::{Event, NewEntry},
        cid::Cid,
        client::Client,
        secrets,
    },
    error::{Error, Result},
    store::{self, pki::SignRequestRow},
};

/// The scope an agency's client needs to create signing requests.
pub const SIGN_SCOPE: &str = "sign";
/// How long a citizen has to decide.
pub const REQUEST_TTL: i64 = 900;
/// How long one approval ceremony may take.
const CEREMONY_TTL: i64 = 300;
/// Documents per request.
pub const MAX_DOCUMENTS: usize = 20;
/// Characters per title.
pub const MAX_TITLE: usize = 200;
const CEREMONY_KIND: &str = "sign";

/// One document as the agency sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    /// What the citizen is told they sign.
    pub title: String,
    /// SHA-256 of the document: 64 hex digits, or base64 / base64url.
    pub digest: String,
    /// What the signature goes into: a detached CMS file (`cades`, the default) or a PDF's
    /// signature field (`pades`, the digest being that of the PDF's ByteRange).
    #[serde(default)]
    pub format: SignatureFormat,
}

/// The kind of signature a document gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureFormat {
    /// Detached CAdES-B-T (signing-time among the signed attributes).
    #[default]
    Cades,
    /// CMS for a PDF signature field, PAdES B-T: no signing-time attribute (PAdES puts the
    /// claimed time in the signature dictionary and forbids a second one in the CMS).
    Pades,
}

/// The agency's request (`POST /sign/requests`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// The documents, in order.
    pub documents: Vec<NewDocument>,
    /// Where the citizen returns: one of the client's registered redirect URIs.
    pub return_url: String,
    /// If set, only this citizen may approve.
    #[serde(default)]
    pub cid: Option<String>,
}

/// A validated document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Title, as shown.
    pub title: String,
    /// SHA-256, lower-case hex.
    pub digest: String,
    /// The signature's format (absent in requests stored before formats existed: CAdES).
    #[serde(default)]
    pub format: SignatureFormat,
}

impl Document {
    /// The digest as bytes.
    pub fn digest_bytes(&self) -> Result<[u8; 32]> {
        let v = hex::decode(&self.digest).map_err(|_| Error::internal("stored digest is not hex"))?;
        v.try_into().map_err(|_| Error::internal("stored digest is not 32 bytes"))
    }
}

/// A SHA-256 digest given as 64 hex digits or base64 / base64url; `None` for anything else.
pub fn parse_digest(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    let bytes = if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(s).ok()?
    } else {
        let e = &base64::engine::general_purpose::STANDARD;
        let u = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        e.decode(s).or_else(|_| u.decode(s.trim_end_matches('='))).ok()?
    };
    bytes.try_into().ok()
}

/// Checks an agency's request against its client registration. Pure.
pub fn validate(req: &NewRequest, client: &Client) -> Result<(Vec<Document>, String, Option<Cid>)> {
    let docs = validate_documents(&req.documents)?;
    // An exact registered URI only: the citizen's browser is sent there, so anything else
    // would make the signer an open redirector.
    if !client.metadata.redirect_uris.iter().any(|u| u.as_str() == req.return_url) {
        return Err(Error::Invalid("return_url must be one of the client's registered redirect URIs".into()));
    }
    let cid = match req.cid.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(Cid::parse(c).map_err(|e| Error::Invalid(format!("cid: {e}")))?),
        None => None,
    };
    Ok((docs, req.return_url.clone(), cid))
}

/// Checks the documents of a signing or sealing request: 1 to [`MAX_DOCUMENTS`], each with a
/// printable title and a SHA-256 digest. Pure.
pub fn validate_documents(documents: &[NewDocument]) -> Result<Vec<Document>> {
    if documents.is_empty() || documents.len() > MAX_DOCUMENTS {
        return Err(Error::Invalid(format!("send 1 to {MAX_DOCUMENTS} documents")));
    }
    let mut docs = Vec::with_capacity(documents.len());
    for (i, d) in documents.iter().enumerate() {
        let title = d.title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE || title.chars().any(char::is_control) {
            return Err(Error::Invalid(format!(
                "documents[{i}].title must be 1 to {MAX_TITLE} characters without control characters"
            )));
        }
        let digest = parse_digest(&d.digest)
            .ok_or_else(|| Error::Invalid(format!("documents[{i}].digest must be a SHA-256 digest (hex or base64)")))?;
        docs.push(Document { title: title.to_string(), digest: hex::encode(digest), format: d.format });
    }
    Ok(docs)
}

/// What binds an approval to the documents: the WebAuthn challenge. Pure.
pub fn binding(nonce: &[u8; 32], request_id: &str, docs: &[Document]) -> Result<[u8; 32]> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"drukyul-sign-v1");
    ctx.update(nonce);
    ctx.update(request_id.as_bytes());
    for d in docs {
        ctx.update(&d.digest_bytes()?);
        ctx.update(ring::digest::digest(&ring::digest::SHA256, d.title.as_bytes()).as_ref());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    Ok(out)
}

/// A created request, as the agency receives it.
#[derive(Debug, Serialize)]
pub struct Created {
    /// The request id.
    pub request_id: String,
    /// Where to send the citizen.
    pub approve_url: String,
    /// Until when the citizen can decide.
    pub expires_at: UnixTime,
}

/// `POST /sign/requests`.
pub async fn create(idp: &Idp, client: &Client, req: &NewRequest, now: UnixTime) -> Result<Created> {
    let (docs, return_url, cid) = validate(req, client)?;
    let id = secrets::random_token()?;
    let row = SignRequestRow {
        id: id.clone(),
        client_id: client.client_id.as_str().to_string(),
        cid: cid.as_ref().map(|c| c.as_str().to_string()),
        documents: serde_json::to_string(&docs).map_err(|e| Error::internal(e.to_string()))?,
        return_url,
        status: "pending".into(),
        account_id: None,
        certificate_serial: None,
        signatures: None,
        evidence: None,
        created_at: now,
        expires_at: now + REQUEST_TTL,
        decided_at: None,
    };
    store::pki::insert_sign_request(&idp.db, &row).await?;
    idp.audit(
        NewEntry::new(
            Event::SignRequested,
            format!("client:{}", row.client_id),
            format!("sign-request:{}", short(&id)),
        )
        .client(&row.client_id)
        .detail(json!({"documents": docs, "cid_bound": row.cid.is_some()})),
        now,
    )
    .await?;
    Ok(Created {
        approve_url: format!("{}/sign/approve?req={id}", idp.issuer()),
        request_id: id,
        expires_at: row.expires_at,
    })
}

/// A request id in the audit log: a prefix, since the whole id is the citizen's link.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// A request's state at `now`.
pub fn status(r: &SignRequestRow, now: UnixTime) -> &str {
    if r.status == "pending" && now >= r.expires_at { "expired" } else { &r.status }
}

fn documents(r: &SignRequestRow) -> Result<Vec<Document>> {
    serde_json::from_str(&r.documents).map_err(|e| Error::internal(e.to_string()))
}

/// `GET /sign/requests/{id}` for the agency that created it: status, and the signatures once
/// signed. Another client's request is not found.
pub async fn result(idp: &Idp, client: &Client, id: &str, now: UnixTime) -> Result<Value> {
    let r = store::pki::sign_request(&idp.db, id)
        .await?
        .filter(|r| r.client_id == client.client_id.as_str())
        .ok_or_else(|| Error::NotFound("no such signing request".into()))?;
    let docs = documents(&r)?;
    let mut out = json!({
        "request_id": r.id,
        "status": status(&r, now),
        "documents": docs,
        "expires_at": r.expires_at,
        "decided_at": r.decided_at,
    });
    if let (Some(sigs), Some(serial)) = (&r.signatures, &r.certificate_serial) {
        let sigs: Vec<String> = serde_json::from_str(sigs).map_err(|e| Error::internal(e.to_string()))?;
        out["signatures"] = docs
            .iter()
            .zip(sigs)
            .map(|(d, s)| json!({"title": d.title, "digest": d.digest, "cms": s}))
            .collect::<Vec<_>>()
            .into();
        if let Some(c) = store::pki::certificate(&idp.db, serial).await? {
            let cert = <signer::x509_cert::Certificate as signer::x509_cert::der::Decode>::from_der(&c.certificate)
                .map_err(|e| Error::internal(e.to_string()))?;
            out["certificate"] = signer::certificate_pem(&cert)?.into();
            out["certificate_serial"] = serial.clone().into();
        }
    }
    Ok(out)
}

/// What the approval page shows.
#[derive(Debug)]
pub struct ApprovalView {
    /// The agency.
    pub client_name: String,
    /// The documents.
    pub documents: Vec<Document>,
    /// Until when.
    pub expires_at: UnixTime,
    /// Whether only a named citizen may approve.
    pub cid_bound: bool,
    /// Where the citizen returns (the page's form may post there through a redirect).
    pub return_url: String,
}

/// The page's content; `Err(Invalid)` with the reason for a request that cannot be approved.
pub async fn view(idp: &Idp, id: &str, now: UnixTime) -> Result<ApprovalView> {
    let r = pending(idp, id, now).await?;
    let client_name = idp
        .client(&r.client_id)
        .await?
        .map(|c| c.metadata.client_name.clone())
        .ok_or_else(|| Error::Invalid("the agency that asked is no longer registered".into()))?;
    Ok(ApprovalView {
        client_name,
        documents: documents(&r)?,
        expires_at: r.expires_at,
        cid_bound: r.cid.is_some(),
        return_url: r.return_url.clone(),
    })
}

async fn pending(idp: &Idp, id: &str, now: UnixTime) -> Result<SignRequestRow> {
    let r = store::pki::sign_request(&idp.db, id)
        .await?
        .ok_or_else(|| Error::Invalid("this signing request does not exist".into()))?;
    match status(&r, now) {
        "pending" => Ok(r),
        "expired" => Err(Error::Invalid("this signing request has expired; ask the agency again".into())),
        _ => Err(Error::Invalid("this signing request was already decided".into())),
    }
}

#[derive(Serialize, Deserialize)]
struct Context {
    req: String,
    nonce: String,
}

/// Starts the approval ceremony: the citizen's passkeys (the named citizen's, or any through a
/// discoverable credential), with the challenge bound to the documents.
pub async fn approve_start(idp: &Idp, id: &str, now: UnixTime) -> Result<(String, RequestChallengeResponse)> {
    let r = pending(idp, id, now).await?;
    let docs = documents(&r)?;
    let mut account_id = None;
    let (rcr, state) = match &r.cid {
        Some(cid) => {
            let acct = store::login::account_by_cid(&idp.db, cid)
                .await?
                .filter(|a| a.status == "active")
                .ok_or_else(|| Error::Invalid("this request is for a citizen whose digital ID is not active".into()))?;
            let passkeys: Vec<webauthn_rs::prelude::Passkey> = store::login::credentials_of(&idp.db, &acct.id)
                .await?
                .iter()
                .filter_map(|c| serde_json::from_str(&c.passkey).ok())
                .collect();
            account_id = Some(acct.id);
            idp.passkeys.start_for(&passkeys)?
        }
        None => idp.passkeys.start_discoverable()?,
    };
    let nonce = secrets::random_bytes::<32>()?;
    let (rcr, state) = idp.passkeys.bind_challenge(rcr, &state, binding(&nonce, id, &docs)?)?;
    let ceremony = secrets::random_token()?;
    let ctx = serde_json::to_string(&Context { req: id.to_string(), nonce: hex::encode(nonce) })
        .map_err(|e| Error::internal(e.to_string()))?;
    let expires = (now + CEREMONY_TTL).min(r.expires_at);
    store::login::put_ceremony(&idp.db, &ceremony, CEREMONY_KIND, &state, account_id.as_deref(), &ctx, now, expires)
        .await?;
    Ok((ceremony, rcr))
}

/// Verifies the approval and signs; returns where the citizen's browser goes next (the
/// agency's return URL with the request id and `status=signed`).
pub async fn approve_finish(
    idp: &Idp,
    ceremony: &str,
    id: &str,
    credential: &PublicKeyCredential,
    ip: &str,
    now: UnixTime,
) -> Result<String> {
    let expired = || Error::Invalid("this approval has expired; start again".into());
    let c = store::login::take_ceremony(&idp.db, ceremony, &[CEREMONY_KIND], now).await?.ok_or_else(expired)?;
    let ctx: Context = serde_json::from_str(&c.context).map_err(|e| Error::internal(e.to_string()))?;
    if ctx.req != id {
        return Err(expired());
    }
    let r = pending(idp, id, now).await?;
    let v = crate::login::verify_ceremony(idp, c, credential, ip, now).await?;
    let account = v.account();
    if r.cid.as_deref().is_some_and(|cid| cid != account.cid) {
        idp.audit(
            NewEntry::new(
                Event::SignApprovalFailed,
                format!("account:{}", account.id),
                format!("sign-request:{}", short(id)),
            )
            .client(&r.client_id)
            .ip(ip)
            .detail(json!({"reason": "another citizen"})),
            now,
        )
        .await?;
        return Err(Error::Invalid("this request is for another citizen".into()));
    }
    // A signature is the citizen's legal act: only a digital ID proven at an enrolment centre
    // (biometrics against the registry) may make one, unless the operator allows otherwise.
    if idp.config.pki.signing_requires_high_assurance && account.assurance != crate::enrolment::ACR_HIGH {
        idp.audit(
            NewEntry::new(
                Event::SignApprovalFailed,
                format!("account:{}", account.id),
                format!("sign-request:{}", short(id)),
            )
            .client(&r.client_id)
            .ip(ip)
            .detail(json!({"reason": "assurance", "assurance": account.assurance})),
            now,
        )
        .await?;
        return Err(Error::Invalid(
            "signing needs a digital ID proven at a registration centre (high assurance): please visit one with your CID".into(),
        ));
    }
    let docs = documents(&r)?;
    let digests = docs
        .iter()
        .map(|d| Ok((signer::Sha256Digest::from_bytes(&d.digest_bytes()?)?, d.format)))
        .collect::<Result<Vec<_>>>()?;
    let (serial, sigs) = crate::pki::sign_digests(idp, &account.id, &digests, now).await?;
    let b64 = &base64::engine::general_purpose::STANDARD;
    let sigs: Vec<String> = sigs.iter().map(|s| b64.encode(s)).collect();
    let evidence = json!({"assertion": credential, "nonce": ctx.nonce, "binding": "drukyul-sign-v1"}).to_string();
    let sigs_json = serde_json::to_string(&sigs).map_err(|e| Error::internal(e.to_string()))?;
    if !store::pki::decide_sign_request(
        &idp.db,
        id,
        "signed",
        Some(&account.id),
        Some(&serial),
        Some(&sigs_json),
        Some(&evidence),
        now,
    )
    .await?
    {
        return Err(Error::Invalid("this signing request was already decided".into()));
    }
    v.touch(idp, now).await?;
    idp.audit(
        NewEntry::new(Event::SignApproved, format!("account:{}", account.id), format!("account:{}", account.id))
            .client(&r.client_id)
            .ip(ip)
            .detail(json!({"request": short(id), "certificate": serial, "documents": docs})),
        now,
    )
    .await?;
    Ok(back_to(&r.return_url, id, "signed"))
}

/// The citizen refuses; returns where their browser goes next (`status=refused`).
pub async fn refuse(idp: &Idp, id: &str, ip: &str, now: UnixTime) -> Result<String> {
    let r = pending(idp, id, now).await?;
    if !store::pki::decide_sign_request(&idp.db, id, "refused", None, None, None, None, now).await? {
        return Err(Error::Invalid("this signing request was already decided".into()));
    }
    idp.audit(
        NewEntry::new(Event::SignRefused, "citizen", format!("sign-request:{}", short(id))).client(&r.client_id).ip(ip),
        now,
    )
    .await?;
    Ok(back_to(&r.return_url, id, "refused"))
}

fn back_to(return_url: &str, id: &str, status: &str) -> String {
    match url::Url::parse(return_url) {
        Ok(mut u) => {
            u.query_pairs_mut().append_pair("sign_request", id).append_pair("status", status);
            u.to_string()
        }
        Err(_) => return_url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(title: &str, digest: &str) -> NewDocument {
        NewDocument { title: title.into(), digest: digest.into(), format: SignatureFormat::Cades }
    }

    #[test]
    fn digests_are_accepted_as_hex_or_base64_and_nothing_else() {
        let d = [7u8; 32];
        assert_eq!(parse_digest(&hex::encode(d)), Some(d));
        assert_eq!(parse_digest(&base64::engine::general_purpose::STANDARD.encode(d)), Some(d));
        assert_eq!(parse_digest(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d)), Some(d));
        assert_eq!(parse_digest(&hex::encode([7u8; 31])), None, "SHA-256 is 32 bytes");
        assert_eq!(parse_digest(&hex::encode([7u8; 48])), None, "SHA-384 is not accepted");
        assert_eq!(parse_digest("not a digest"), None);
    }

    #[test]
    fn the_binding_changes_with_every_input() {
        let docs =
            vec![Document { title: "Licence".into(), digest: hex::encode([1u8; 32]), format: SignatureFormat::Cades }];
        let base = binding(&[0; 32], "req", &docs).unwrap();
        assert_ne!(base, binding(&[1; 32], "req", &docs).unwrap(), "nonce");
        assert_ne!(base, binding(&[0; 32], "req2", &docs).unwrap(), "request");
        let mut other = docs.clone();
        other[0].digest = hex::encode([2u8; 32]);
        assert_ne!(base, binding(&[0; 32], "req", &other).unwrap(), "digest");
        let mut other = docs.clone();
        other[0].title = "Licence (amended)".into();
        assert_ne!(base, binding(&[0; 32], "req", &other).unwrap(), "title");
        assert_eq!(base, binding(&[0; 32], "req", &docs).unwrap(), "deterministic");
    }

    fn client() -> Client {
        use crate::domain::{client::*, keys::SigningAlg};
        Client {
            client_id: ClientId::parse("licensing").unwrap(),
            metadata: ClientMetadata {
                client_name: "Business licensing".into(),
                token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
                redirect_uris: vec![RedirectUri::parse("https://licensing.gov.bt/signed").unwrap()],
                post_logout_redirect_uris: vec![],
                grant_types: vec![GrantType::ClientCredentials],
                scope: Scope::parse("sign").unwrap(),
                jwks: None,
                jwks_uri: None,
                sector_identifier: None,
                require_pushed_authorization_requests: false,
                allow_national_id: false,
                id_token_signed_response_alg: SigningAlg::ES256,
                backchannel_logout_uri: None,
                default_acr: None,
                resources: vec![],
            },
            secret_hash: None,
        }
    }

    fn request(docs: Vec<NewDocument>, return_url: &str, cid: Option<&str>) -> NewRequest {
        NewRequest { documents: docs, return_url: return_url.into(), cid: cid.map(str::to_string) }
    }

    #[test]
    fn requests_are_validated_against_the_registration() {
        let c = client();
        let back = "https://licensing.gov.bt/signed";
        let good = hex::encode([1u8; 32]);
        let (docs, url, cid) =
            validate(&request(vec![doc("  Licence  ", &good)], back, Some("10101001234")), &c).unwrap();
        assert_eq!(
            docs,
            vec![Document { title: "Licence".into(), digest: good.clone(), format: SignatureFormat::Cades }]
        );
        assert_eq!((url.as_str(), cid.map(|c| c.as_str().to_string())), (back, Some("10101001234".into())));

        let long = "x".repeat(MAX_TITLE + 1);
        for bad in ["", "   ", "line\nbreak", long.as_str()] {
            assert!(validate(&request(vec![doc(bad, &good)], back, None), &c).is_err(), "title {bad:?}");
        }
        assert!(validate(&request(vec![], back, None), &c).is_err(), "no documents");
        let many = (0..=MAX_DOCUMENTS).map(|_| doc("Licence", &good)).collect();
        assert!(validate(&request(many, back, None), &c).is_err(), "too many documents");
        assert!(validate(&request(vec![doc("Licence", "abc")], back, None), &c).is_err(), "bad digest");
        for url in ["https://evil.example/signed", "https://licensing.gov.bt/signed?x=1", "https://licensing.gov.bt/"] {
            assert!(validate(&request(vec![doc("Licence", &good)], url, None), &c).is_err(), "return_url {url}");
        }
        assert!(validate(&request(vec![doc("Licence", &good)], back, Some("123")), &c).is_err(), "bad CID");
    }
}
