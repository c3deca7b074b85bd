//! The SDK for web pages (`wasm32-unknown-unknown`, wasm-bindgen): classes
//! whose methods return Promises and plain JS objects. The session is an
//! HttpOnly cookie the page's script cannot read, and the identity keys
//! live only in this module's memory.
//!
//! Methods take `&self` and lock the session inside the returned Promise,
//! so that calls made while another is running wait instead of failing.

use std::rc::Rc;
use std::sync::Arc;

use futures_util::lock::Mutex;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::state::MemoryStore;
use crate::{parse_relationship_id, parse_user_id, Error, Kluis, Session, SessionMode};

fn js_error(e: Error) -> JsValue {
    let code = match &e {
        Error::WrongCredentials => "wrong_credentials",
        Error::SessionExpired => "session_expired",
        Error::InvalidLink => "invalid_link",
        Error::Unreachable { .. } => "unreachable",
        Error::KeyChanged { .. } => "key_changed",
        Error::Tampered(_) => "tampered",
        Error::WeakPassword(_) => "weak_password",
        Error::Refused { .. } | Error::RateLimited { .. } => "refused",
        _ => "error",
    };
    let err = js_sys::Error::new(&e.to_string());
    err.set_name(code);
    err.into()
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsValue::from_str(&e.to_string()))
}

/// The way in: a server (the page's own origin, usually).
#[wasm_bindgen]
#[derive(Debug)]
pub struct KluisClient {
    kluis: Kluis,
}

#[wasm_bindgen]
impl KluisClient {
    /// A client for `server`, with browser-cookie sessions.
    #[wasm_bindgen(constructor)]
    pub fn new(server: &str) -> Result<KluisClient, JsValue> {
        let kluis = Kluis::new(server, Arc::new(MemoryStore::new()))
            .map_err(js_error)?
            .with_device_label("Kluis web")
            .with_session_mode(SessionMode::Cookie);
        Ok(Self { kluis })
    }

    /// Checks a password against the rule and the strength estimate:
    /// `{ acceptable, problems, score, feedback }`.
    #[wasm_bindgen(js_name = checkPassword)]
    pub fn check_password(password: &str) -> Result<JsValue, JsValue> {
        let check = crate::password::check_password(password, &[]);
        to_js(&serde_json::json!({
            "acceptable": check.acceptable(),
            "problems": check.rule_problems,
            "score": check.score,
            "feedback": check.feedback,
        }))
    }

    /// What an invitation link offers.
    #[wasm_bindgen(js_name = lookupInvitation)]
    pub async fn lookup_invitation(&self, link: String) -> Result<JsValue, JsValue> {
        let info = self
            .kluis
            .lookup_invitation(&link)
            .await
            .map_err(js_error)?;
        to_js(&info)
    }

    /// Signs up from an invitation link; resolves to `{ session,
    /// recoveryKey }` — show the recovery key once.
    #[wasm_bindgen(js_name = signUp)]
    pub async fn sign_up(
        &self,
        link: String,
        display_name: String,
        password: String,
    ) -> Result<SignedUp, JsValue> {
        let account = self
            .kluis
            .sign_up(&link, &display_name, &password)
            .await
            .map_err(js_error)?;
        Ok(SignedUp {
            recovery_key: account.recovery_key.to_display_string().to_string(),
            session: Some(KluisSession::wrap(account.session)),
        })
    }

    /// Logs in; resolves to a session. With two-factor login on, pass
    /// `code` (six digits from the app, or a recovery code); without it
    /// the promise rejects saying a code is needed.
    pub async fn login(
        &self,
        email: String,
        password: String,
        code: Option<String>,
    ) -> Result<KluisSession, JsValue> {
        let mut login = self
            .kluis
            .login(&email, &password)
            .await
            .map_err(js_error)?;
        if let (crate::Login::SecondFactor(pending), Some(code)) = (&login, code) {
            let code = code.trim();
            let method = crate::SecondFactorMethod::of_code(code, pending.methods());
            login = pending.complete(method, code).await.map_err(js_error)?;
        }
        Ok(KluisSession::wrap(login.ready().map_err(js_error)?))
    }
}

/// A new account.
#[wasm_bindgen]
pub struct SignedUp {
    recovery_key: String,
    session: Option<KluisSession>,
}

impl std::fmt::Debug for SignedUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedUp").finish_non_exhaustive()
    }
}

#[wasm_bindgen]
impl SignedUp {
    /// The recovery key, to show once.
    #[wasm_bindgen(getter, js_name = recoveryKey)]
    pub fn recovery_key(&self) -> String {
        self.recovery_key.clone()
    }

    /// The logged-in session (can be taken once).
    #[wasm_bindgen(js_name = takeSession)]
    pub fn take_session(&mut self) -> Option<KluisSession> {
        self.session.take()
    }
}

/// A logged-in user in the page.
#[wasm_bindgen]
pub struct KluisSession {
    inner: Rc<Mutex<Session>>,
    account_id: String,
}

impl std::fmt::Debug for KluisSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KluisSession")
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

impl KluisSession {
    fn wrap(session: Session) -> Self {
        Self {
            account_id: session.account_id().to_string(),
            inner: Rc::new(Mutex::new(session)),
        }
    }
}

#[wasm_bindgen]
impl KluisSession {
    /// This account's id.
    #[wasm_bindgen(getter, js_name = accountId)]
    pub fn account_id(&self) -> String {
        self.account_id.clone()
    }

    /// The account and its organisations.
    pub fn me(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let me = inner.lock().await.me().await.map_err(js_error)?;
            to_js(&me)
        })
    }

    /// The relationships this user is in.
    pub fn relationships(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let list = inner.lock().await.relationships().await.map_err(js_error)?;
            to_js(&list)
        })
    }

    /// Every verified entry of a relationship, oldest first.
    pub fn dialogue(&self, relationship: String) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let rid = parse_relationship_id(&relationship).map_err(js_error)?;
            let entries = inner.lock().await.dialogue(rid).await.map_err(js_error)?;
            to_js(&entries)
        })
    }

    /// Sends a message; resolves to the item id.
    #[wasm_bindgen(js_name = sendMessage)]
    pub fn send_message(&self, relationship: String, text: String) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let rid = parse_relationship_id(&relationship).map_err(js_error)?;
            let id = inner
                .lock()
                .await
                .send_message(rid, &text)
                .await
                .map_err(js_error)?;
            Ok(JsValue::from_str(&id.to_string()))
        })
    }

    /// The safety number with a peer: `{ digits, qrPayloadHex, verified,
    /// keyChanged }`.
    #[wasm_bindgen(js_name = safetyNumber)]
    pub fn safety_number(&self, peer: String) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let peer = parse_user_id(&peer).map_err(js_error)?;
            let n = inner
                .lock()
                .await
                .safety_number(peer)
                .await
                .map_err(js_error)?;
            to_js(&serde_json::json!({
                "digits": n.digits,
                "qrPayloadHex": n.qr_payload_hex,
                "verified": n.verified,
                "keyChanged": n.key_changed,
            }))
        })
    }

    /// Marks the peer verified after comparing the number.
    #[wasm_bindgen(js_name = verifySafetyNumber)]
    pub fn verify_safety_number(&self, peer: String, compared: String) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let peer = parse_user_id(&peer).map_err(js_error)?;
            inner
                .lock()
                .await
                .verify_safety_number(peer, &compared)
                .await
                .map_err(js_error)?;
            Ok(JsValue::TRUE)
        })
    }

    /// Accepts a peer's changed key after the user compared the new safety
    /// number (`compared`: the digits, or the scanned QR payload in hex).
    #[wasm_bindgen(js_name = acceptKeyChange)]
    pub fn accept_key_change(&self, peer: String, compared: String) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let peer = parse_user_id(&peer).map_err(js_error)?;
            inner
                .lock()
                .await
                .accept_key_change(peer, &compared)
                .await
                .map_err(js_error)?;
            Ok(JsValue::TRUE)
        })
    }

    /// Key changes of peers not yet accepted: `[{ user, pinned, offered }]`
    /// (fingerprints in hex).
    #[wasm_bindgen(js_name = keyChanges)]
    pub fn key_changes(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let changes: Vec<serde_json::Value> = inner
                .lock()
                .await
                .key_changes()
                .into_iter()
                .map(|c| {
                    serde_json::json!({"user": c.user, "pinned": c.pinned, "offered": c.offered})
                })
                .collect();
            to_js(&changes)
        })
    }

    /// The members and history a relationship's signed membership chain
    /// proves: `{ epoch, members, events }`.
    pub fn membership(&self, relationship: String) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let rid = parse_relationship_id(&relationship).map_err(js_error)?;
            let proven = inner.lock().await.membership(rid).await.map_err(js_error)?;
            to_js(&proven)
        })
    }

    /// Ends the session.
    pub fn logout(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let session = inner.lock().await;
            session.end().await.map_err(js_error)?;
            Ok(JsValue::TRUE)
        })
    }
}
