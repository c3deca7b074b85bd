//! The SDK for web pages (`wasm32-unknown-unknown`, wasm-bindgen): classes
//! whose methods return Promises and plain JS objects. The session is an
//! HttpOnly cookie the page's script cannot read, and the identity keys
//! live only in this module's memory.
//!
//! Methods take `&self` and lock the session inside the returned Promise,
//! so that calls made while another is running wait instead of failing.
//!
//! The device state (pins, verified peers, the last verified membership
//! records; sealed, PROTOCOL.md §4.3) persists in the page's IndexedDB:
//! the page loads it whole before it creates the client and hands it in
//! with a `persist` function, and after every call that may have changed
//! it, the changes are handed to `persist` and awaited before the call's
//! Promise settles. Nothing here touches `localStorage`.

use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

use futures_util::lock::Mutex;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::state::{SnapshotStore, StoreWrite};
use crate::{
    parse_item_id, parse_relationship_id, parse_user_id, Error, Kluis, Session, SessionMode,
};

/// A JS `Error` whose `name` says what happened — the server's own code
/// for a refusal (`invalid_token`, `email_taken`, …) — and whose message is
/// the SDK's sentence. The page turns names into the user's language.
fn js_error(e: Error) -> JsValue {
    let code = match &e {
        Error::WrongCredentials => "wrong_credentials",
        Error::SessionExpired => "session_expired",
        Error::InvalidLink => "invalid_link",
        Error::Unreachable { .. } => "unreachable",
        Error::KeyChanged { .. } => "key_changed",
        Error::Tampered(_) => "tampered",
        Error::WeakPassword(_) => "weak_password",
        Error::LocalStoreMissing => "local_store_missing",
        Error::LocalStoreUnreadable => "local_store_unreadable",
        Error::Refused { code, .. } => code.as_str(),
        Error::RateLimited { .. } => "rate_limited",
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

/// The device store and the page's function that persists its changes.
#[derive(Clone, Debug)]
struct Device {
    store: Arc<SnapshotStore>,
    persist: Option<js_sys::Function>,
}

impl Device {
    fn load(device: JsValue) -> Result<Self, JsValue> {
        if device.is_undefined() || device.is_null() {
            return Ok(Self {
                store: Arc::new(SnapshotStore::default()),
                persist: None,
            });
        }
        // `{ states: [{ user, sealed: Uint8Array }], kept: [user] }`:
        // `kept` lists every account that ever had a state on this device.
        let field = |v: &JsValue, name: &str| js_sys::Reflect::get(v, &JsValue::from_str(name));
        let user = |v: JsValue| {
            let id = v
                .as_string()
                .ok_or_else(|| JsValue::from_str("device state: an account id is not text"))?;
            parse_user_id(&id).map_err(js_error)
        };
        let list = |v: JsValue| -> js_sys::Array {
            if js_sys::Array::is_array(&v) {
                v.unchecked_into()
            } else {
                js_sys::Array::new()
            }
        };
        let mut states = Vec::new();
        for entry in list(field(&device, "states")?).iter() {
            let sealed = field(&entry, "sealed")?
                .dyn_into::<js_sys::Uint8Array>()
                .map_err(|_| JsValue::from_str("device state: sealed must be a Uint8Array"))?;
            states.push((user(field(&entry, "user")?)?, sealed.to_vec()));
        }
        let kept = list(field(&device, "kept")?)
            .iter()
            .map(user)
            .collect::<Result<Vec<_>, JsValue>>()?;
        let persist = js_sys::Reflect::get(&device, &JsValue::from_str("persist"))?
            .dyn_into::<js_sys::Function>()
            .map_err(|_| JsValue::from_str("device state: persist must be a function"))?;
        Ok(Self {
            store: Arc::new(SnapshotStore::new(states, kept)),
            persist: Some(persist),
        })
    }

    /// Hands the queued changes to the page and waits until they are
    /// stored: a Promise of the SDK settles only after its state is safe.
    async fn flush(&self) -> Result<(), JsValue> {
        let Some(persist) = &self.persist else {
            return Ok(());
        };
        let writes = self.store.take_writes().map_err(js_error)?;
        if writes.is_empty() {
            return Ok(());
        }
        let list = js_sys::Array::new();
        for write in writes {
            let entry = js_sys::Object::new();
            let (op, user, sealed) = match write {
                StoreWrite::Save { user, sealed } => ("save", user, Some(sealed)),
                StoreWrite::Remove { user } => ("remove", user, None),
                StoreWrite::SetAside { user } => ("setAside", user, None),
            };
            js_sys::Reflect::set(&entry, &"op".into(), &op.into())?;
            js_sys::Reflect::set(&entry, &"user".into(), &user.to_string().into())?;
            if let Some(sealed) = sealed {
                let bytes = js_sys::Uint8Array::from(sealed.as_slice());
                js_sys::Reflect::set(&entry, &"sealed".into(), &bytes)?;
            }
            list.push(&entry);
        }
        let promise = persist.call1(&JsValue::NULL, &list)?;
        wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&promise))
            .await
            .map(|_| ())
            .map_err(|e| {
                let err = js_sys::Error::new(&format!(
                    "the device state could not be saved: {}",
                    e.as_string().unwrap_or_default()
                ));
                err.set_name("device_state_not_saved");
                err.into()
            })
    }
}

/// The way in: a server (the page's own origin, usually).
#[wasm_bindgen]
#[derive(Debug)]
pub struct KluisClient {
    kluis: Kluis,
    device: Device,
}

#[wasm_bindgen]
impl KluisClient {
    /// A client for `server`, with browser-cookie sessions. `device` is
    /// what the page loaded from IndexedDB with its `persist(writes)`
    /// function (see the module docs); without it, nothing survives the
    /// page.
    #[wasm_bindgen(constructor)]
    pub fn new(server: &str, device: JsValue) -> Result<KluisClient, JsValue> {
        let device = Device::load(device)?;
        let kluis = Kluis::new(server, device.store.clone())
            .map_err(js_error)?
            .with_device_label("Kluis web")
            .with_session_mode(SessionMode::Cookie);
        Ok(Self { kluis, device })
    }

    /// The user's explicit decision, after `local_store_missing` or
    /// `local_store_unreadable`, to start afresh at the next login: the old
    /// state is set aside, every peer is pinned anew and shown unverified.
    #[wasm_bindgen(js_name = startFresh)]
    pub fn start_fresh(&self) -> Result<(), JsValue> {
        self.device.store.start_fresh().map_err(js_error)
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

    /// Creates the organisation and its first manager from the setup link
    /// the server printed; resolves like [`Self::sign_up`] (show the
    /// recovery key once).
    #[wasm_bindgen(js_name = setupOrganisation)]
    pub async fn setup_organisation(
        &self,
        link: String,
        organisation: String,
        email: String,
        display_name: String,
        password: String,
    ) -> Result<SignedUp, JsValue> {
        let account = self
            .kluis
            .setup_organisation(&link, &organisation, &email, &display_name, &password)
            .await;
        self.new_account(account).await
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
        let account = self.kluis.sign_up(&link, &display_name, &password).await;
        self.new_account(account).await
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
        let session = async {
            let mut login = self.kluis.login(&email, &password).await?;
            if let (crate::Login::SecondFactor(pending), Some(code)) = (&login, code) {
                let code = code.trim();
                let method = crate::SecondFactorMethod::of_code(code, pending.methods());
                login = pending.complete(method, code).await?;
            }
            login.ready()
        }
        .await
        .map_err(js_error);
        self.device.flush().await?;
        Ok(KluisSession::wrap(session?, self.device.clone()))
    }
}

impl KluisClient {
    /// A new account for the page, after its device state is persisted.
    async fn new_account(
        &self,
        account: crate::Result<crate::NewAccount>,
    ) -> Result<SignedUp, JsValue> {
        self.device.flush().await?;
        let account = account.map_err(js_error)?;
        Ok(SignedUp {
            recovery_key: account.recovery_key.to_display_string().to_string(),
            session: Some(KluisSession::wrap(account.session, self.device.clone())),
        })
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
    device: Device,
}

impl std::fmt::Debug for KluisSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KluisSession")
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

impl KluisSession {
    fn wrap(session: Session, device: Device) -> Self {
        Self {
            account_id: session.account_id().to_string(),
            inner: Rc::new(Mutex::new(session)),
            device,
        }
    }

    /// Runs `call` as a Promise that settles after the device state it
    /// changed is persisted — also when it failed, since a failure (a
    /// violation, a key change) may be exactly what was recorded.
    fn run<F>(&self, call: F) -> js_sys::Promise
    where
        F: Future<Output = Result<JsValue, JsValue>> + 'static,
    {
        let device = self.device.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let result = call.await;
            device.flush().await?;
            result
        })
    }

    /// [`Self::run`] for a step that answers nothing: resolves to `true`.
    fn step<F, Fut>(&self, call: F) -> js_sys::Promise
    where
        F: FnOnce(Rc<Mutex<Session>>) -> Fut,
        Fut: Future<Output = crate::Result<()>> + 'static,
    {
        let done = call(self.inner.clone());
        self.run(async move {
            done.await.map_err(js_error)?;
            Ok(JsValue::TRUE)
        })
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
        self.run(async move {
            let me = inner.lock().await.me().await.map_err(js_error)?;
            to_js(&me)
        })
    }

    /// The relationships this user is in.
    pub fn relationships(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        self.run(async move {
            let list = inner.lock().await.relationships().await.map_err(js_error)?;
            to_js(&list)
        })
    }

    /// Every verified entry of a relationship, oldest first.
    pub fn dialogue(&self, relationship: String) -> js_sys::Promise {
        let inner = self.inner.clone();
        self.run(async move {
            let rid = parse_relationship_id(&relationship).map_err(js_error)?;
            let entries = inner.lock().await.dialogue(rid).await.map_err(js_error)?;
            to_js(&entries)
        })
    }

    /// Sends a message; resolves to the item id.
    #[wasm_bindgen(js_name = sendMessage)]
    pub fn send_message(&self, relationship: String, text: String) -> js_sys::Promise {
        let inner = self.inner.clone();
        self.run(async move {
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
        self.run(async move {
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
        self.run(async move {
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
        self.run(async move {
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
        self.run(async move {
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
        self.run(async move {
            let rid = parse_relationship_id(&relationship).map_err(js_error)?;
            let proven = inner.lock().await.membership(rid).await.map_err(js_error)?;
            to_js(&proven)
        })
    }

    /// Sends a message anyway while a peer's key change is not yet
    /// compared: nothing is wrapped to the new key meanwhile, and the
    /// change stays listed in `keyChanges` (show it).
    #[wasm_bindgen(js_name = deferKeyChange)]
    pub fn defer_key_change(&self, peer: String) -> js_sys::Promise {
        self.step(|s| async move { s.lock().await.defer_key_change(parse_user_id(&peer)?) })
    }

    /// Proves the password again (a fresh OPAQUE login) before publishing
    /// a new identity, turning two-factor login off or enrolling a factor.
    pub fn reauthenticate(&self, password: String) -> js_sys::Promise {
        self.step(|s| async move { s.lock().await.reauthenticate(&password).await })
    }

    /// Confirms the new e-mail address a manager proposed.
    #[wasm_bindgen(js_name = confirmProposedEmail)]
    pub fn confirm_proposed_email(&self) -> js_sys::Promise {
        self.step(|s| async move { s.lock().await.confirm_proposed_email().await })
    }

    /// Refuses the new e-mail address a manager proposed.
    #[wasm_bindgen(js_name = refuseProposedEmail)]
    pub fn refuse_proposed_email(&self) -> js_sys::Promise {
        self.step(|s| async move { s.lock().await.refuse_proposed_email().await })
    }

    /// Cancels an account erasure that is waiting out its cooling-off
    /// period.
    #[wasm_bindgen(js_name = cancelAccountDeletion)]
    pub fn cancel_account_deletion(&self) -> js_sys::Promise {
        self.step(|s| async move { s.lock().await.cancel_account_deletion().await })
    }

    /// Deletes one of this user's own items, with their signed deletion.
    #[wasm_bindgen(js_name = deleteItem)]
    pub fn delete_item(&self, relationship: String, item: String) -> js_sys::Promise {
        self.step(|s| async move {
            let rid = parse_relationship_id(&relationship)?;
            let item = parse_item_id(&item)?;
            s.lock().await.delete_item(rid, item).await
        })
    }

    /// Ends the session.
    pub fn logout(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        self.run(async move {
            let session = inner.lock().await;
            session.end().await.map_err(js_error)?;
            Ok(JsValue::TRUE)
        })
    }
}
