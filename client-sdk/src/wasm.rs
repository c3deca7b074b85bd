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
        Error::SecondFactorFailed => "second_factor_failed",
        Error::InvalidInput(_) => "invalid_input",
        Error::SessionExpired => "session_expired",
        Error::InvalidLink => "invalid_link",
        Error::Unreachable { .. } => "unreachable",
        Error::KeyChanged { .. } => "key_changed",
        Error::Tampered(_) => "tampered",
        Error::WeakPassword(_) => "weak_password",
        Error::StrengthUnavailable => "strength_unavailable",
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

/// A browser `File` or `Blob` read in slices, as the upload asks for
/// them: memory stays at one slice whatever the file's size.
struct BlobReader {
    blob: JsValue,
    size: f64,
    position: f64,
    pending: Option<wasm_bindgen_futures::JsFuture>,
    buffer: Vec<u8>,
    offset: usize,
}

/// How much of a file is read from the browser at once.
const BLOB_SLICE_BYTES: f64 = 1024.0 * 1024.0;

impl BlobReader {
    fn new(blob: JsValue) -> Result<Self, Error> {
        Self::from_offset(blob, 0.0)
    }

    /// Reads `blob` from byte `start` on (an upload that resumes).
    fn from_offset(blob: JsValue, start: f64) -> Result<Self, Error> {
        let size = js_sys::Reflect::get(&blob, &"size".into())
            .ok()
            .and_then(|v| v.as_f64())
            .ok_or_else(|| Error::InvalidInput("not a file".into()))?;
        if !(0.0..=size).contains(&start) {
            return Err(Error::InvalidInput(
                "the file is shorter than what was sent of it".into(),
            ));
        }
        Ok(Self {
            blob,
            size,
            position: start,
            pending: None,
            buffer: Vec::new(),
            offset: 0,
        })
    }

    /// `blob.slice(start, end).arrayBuffer()`.
    fn read_slice(&self, start: f64, end: f64) -> Result<js_sys::Promise, JsValue> {
        let slice: js_sys::Function =
            js_sys::Reflect::get(&self.blob, &"slice".into())?.dyn_into()?;
        let part = slice.call2(&self.blob, &start.into(), &end.into())?;
        let read: js_sys::Function =
            js_sys::Reflect::get(&part, &"arrayBuffer".into())?.dyn_into()?;
        read.call0(&part)?.dyn_into()
    }
}

impl futures_util::io::AsyncRead for BlobReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        out: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::task::Poll;
        let this = &mut *self;
        loop {
            let left = this.buffer.get(this.offset..).unwrap_or_default();
            if !left.is_empty() {
                let n = left.len().min(out.len());
                if let (Some(dst), Some(src)) = (out.get_mut(..n), left.get(..n)) {
                    dst.copy_from_slice(src);
                }
                this.offset += n;
                return Poll::Ready(Ok(n));
            }
            if this.pending.is_none() {
                if this.position >= this.size {
                    return Poll::Ready(Ok(0));
                }
                let end = (this.position + BLOB_SLICE_BYTES).min(this.size);
                let promise = this
                    .read_slice(this.position, end)
                    .map_err(|_| std::io::Error::other("the browser did not hand out the file"))?;
                this.pending = Some(wasm_bindgen_futures::JsFuture::from(promise));
                this.position = end;
            }
            let Some(pending) = this.pending.as_mut() else {
                continue;
            };
            match std::pin::Pin::new(pending).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(read) => {
                    this.pending = None;
                    let bytes = read.map_err(|_| {
                        std::io::Error::other(
                            "the file could not be read (was it moved or changed?)",
                        )
                    })?;
                    this.buffer = js_sys::Uint8Array::new(&bytes).to_vec();
                    this.offset = 0;
                }
            }
        }
    }
}

/// Hands each decrypted chunk of a download to the page (`onChunk`).
struct PageWriter(js_sys::Function);

impl std::io::Write for PageWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let chunk = js_sys::Uint8Array::from(buf);
        self.0
            .call1(&JsValue::NULL, &chunk)
            .map_err(|_| std::io::Error::other("the page refused a chunk"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A progress callback for the page: `(done, total)` in bytes.
fn progress_to(page: Option<js_sys::Function>) -> impl FnMut(crate::Progress) {
    move |p| {
        if let Some(f) = &page {
            let total = p.total.map_or(JsValue::NULL, |t| JsValue::from(t as f64));
            let _ = f.call2(&JsValue::NULL, &JsValue::from(p.done as f64), &total);
        }
    }
}

fn shared_file(shared: &crate::SharedFile) -> serde_json::Value {
    serde_json::json!({
        "item_id": shared.item_id.to_string(),
        "attachment_id": shared.attachment_id.to_string(),
        "size": shared.size,
    })
}

/// A file being shared (`KluisSession.startUpload`): the page keeps it so
/// that a failed upload continues where it stopped. It holds the file's
/// key and the stream's state, in this module's memory only; `free()` it
/// when the page gives the upload up.
#[wasm_bindgen]
#[derive(Debug)]
pub struct KluisUpload {
    upload: Rc<std::cell::RefCell<Option<crate::Upload>>>,
}

#[wasm_bindgen]
impl KluisUpload {
    /// Plaintext bytes of the file already sealed and sent (or held to be
    /// sent): where the next attempt reads on.
    #[wasm_bindgen(getter, js_name = resumeAt)]
    pub fn resume_at(&self) -> f64 {
        self.upload
            .borrow()
            .as_ref()
            .map_or(0.0, |u| u.resume_at() as f64)
    }

    /// Whether `continueUpload` can finish it; false after success and
    /// after a failure that trying again cannot mend (then share the file
    /// afresh).
    #[wasm_bindgen(getter, js_name = canContinue)]
    pub fn can_continue(&self) -> bool {
        self.upload
            .borrow()
            .as_ref()
            .is_some_and(crate::Upload::can_continue)
    }

    /// Bytes the server confirmed it stored (of the encrypted file, a
    /// little more than the file's own): how far the upload got.
    #[wasm_bindgen(getter)]
    pub fn stored(&self) -> f64 {
        self.upload
            .borrow()
            .as_ref()
            .map_or(0.0, |u| u.stored() as f64)
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

    /// Hands the SDK the page's strength estimate (the `kluis_strength`
    /// module's `estimate(password, context)`, loaded where a password is
    /// chosen): until then `checkPassword` gives no score and no password
    /// is accepted.
    #[wasm_bindgen(js_name = useStrengthEstimate)]
    pub fn use_strength_estimate(estimate: js_sys::Function) {
        crate::password::use_estimator(move |password, context| {
            let words = js_sys::Array::new();
            for w in context {
                words.push(&JsValue::from_str(w));
            }
            let answer = estimate
                .call2(&JsValue::NULL, &JsValue::from_str(password), &words)
                .ok()?;
            let score = js_sys::Reflect::get(&answer, &JsValue::from_str("score"))
                .ok()?
                .as_f64()?;
            let feedback = js_sys::Reflect::get(&answer, &JsValue::from_str("feedback"))
                .ok()
                .and_then(|f| f.as_string());
            Some(crate::password::Estimate {
                score: score.clamp(0.0, 4.0) as u8,
                feedback,
            })
        });
    }

    /// The largest file (bytes) a server whose attachment limit is
    /// `stream_limit` (`me().max_attachment_bytes`) accepts.
    #[wasm_bindgen(js_name = maxFileSize)]
    pub fn max_file_size(stream_limit: f64) -> f64 {
        crate::max_file_size(stream_limit as u64) as f64
    }

    /// A QR code of `text` for the page to draw: `{ size, dark }`, `dark`
    /// a Uint8Array of `size * size` modules row by row (1 dark).
    #[wasm_bindgen(js_name = qrCode)]
    pub fn qr_code(text: &str) -> Result<JsValue, JsValue> {
        let m = crate::qr::qr_matrix(text).map_err(js_error)?;
        let out = js_sys::Object::new();
        js_sys::Reflect::set(&out, &"size".into(), &JsValue::from(m.size as u32))?;
        let dark: Vec<u8> = m.dark.iter().map(|&d| u8::from(d)).collect();
        js_sys::Reflect::set(
            &out,
            &"dark".into(),
            &js_sys::Uint8Array::from(dark.as_slice()),
        )?;
        Ok(out.into())
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

    /// Asks for a password-reset link by e-mail (the answer is the same
    /// whether or not the address has an account).
    #[wasm_bindgen(js_name = requestPasswordReset)]
    pub async fn request_password_reset(&self, email: String) -> Result<(), JsValue> {
        self.kluis
            .request_password_reset(&email)
            .await
            .map_err(js_error)
    }

    /// Sets a new password from the e-mailed link. On an account with
    /// two-factor login the link alone is refused (`second_factor_required`):
    /// pass `method` (`totp`, `sms` after `sendResetSms`, `recovery_code`)
    /// and its `code`. Then sign in with the new password and restore the
    /// identity with the recovery key (`LoginStep.recover`).
    #[wasm_bindgen(js_name = resetPassword)]
    pub async fn reset_password(
        &self,
        link: String,
        new_password: String,
        method: Option<String>,
        code: Option<String>,
    ) -> Result<(), JsValue> {
        let done = match (method, code) {
            (Some(method), Some(code)) => {
                let method: crate::SecondFactorMethod =
                    serde_json::from_value(serde_json::Value::String(method)).map_err(|_| {
                        js_error(Error::InvalidInput("unknown second factor".into()))
                    })?;
                self.kluis
                    .reset_password_with_second_factor(&link, &new_password, method, &code)
                    .await
            }
            _ => self.kluis.reset_password(&link, &new_password).await,
        };
        done.map_err(js_error)
    }

    /// Has an SMS code for a password reset sent to the account's phone.
    #[wasm_bindgen(js_name = sendResetSms)]
    pub async fn send_reset_sms(&self, link: String) -> Result<(), JsValue> {
        self.kluis.send_reset_sms(&link).await.map_err(js_error)
    }

    /// Confirms the address an e-mailed verification link was sent to.
    #[wasm_bindgen(js_name = verifyEmail)]
    pub async fn verify_email(&self, link: String) -> Result<(), JsValue> {
        self.kluis.verify_email(&link).await.map_err(js_error)
    }

    /// Confirms, from the link sent to the current address, the new
    /// address a manager proposed.
    #[wasm_bindgen(js_name = confirmEmailChange)]
    pub async fn confirm_email_change(&self, link: String) -> Result<(), JsValue> {
        self.kluis
            .confirm_email_change(&link)
            .await
            .map_err(js_error)
    }

    /// Refuses, from the link sent to the current address, the new address
    /// a manager proposed: nothing changes.
    #[wasm_bindgen(js_name = refuseEmailChange)]
    pub async fn refuse_email_change(&self, link: String) -> Result<(), JsValue> {
        self.kluis
            .refuse_email_change(&link)
            .await
            .map_err(js_error)
    }

    /// Logs in one step at a time, as a screen does: resolves to a
    /// [`LoginStep`] that is ready, waits for a second factor, or needs the
    /// identity restored (after a password reset).
    #[wasm_bindgen(js_name = beginLogin)]
    pub async fn begin_login(&self, email: String, password: String) -> Result<LoginStep, JsValue> {
        let login = self.kluis.login(&email, &password).await.map_err(js_error);
        self.device.flush().await?;
        Ok(LoginStep::wrap(login?, self.device.clone()))
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

/// A login in progress: `needs` says what it waits for — `"ready"` (take
/// the session), `"second_factor"` (a code of one of `methods`), or
/// `"recovery"` (the password was reset: restore the identity with the
/// recovery key, or start a new one).
#[wasm_bindgen]
pub struct LoginStep {
    login: Rc<Mutex<Option<crate::Login>>>,
    needs: &'static str,
    methods: Vec<String>,
    can_recover: bool,
    device: Device,
}

impl std::fmt::Debug for LoginStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginStep")
            .field("needs", &self.needs)
            .finish_non_exhaustive()
    }
}

/// A step asked of a login that is not at it (the page's mistake).
fn not_now(what: &str) -> JsValue {
    let err = js_sys::Error::new(&format!("this login does not wait for {what}"));
    err.set_name("wrong_step");
    err.into()
}

impl LoginStep {
    fn wrap(login: crate::Login, device: Device) -> Self {
        let (needs, methods, can_recover) = match &login {
            crate::Login::Ready(_) => ("ready", Vec::new(), false),
            crate::Login::SecondFactor(p) => (
                "second_factor",
                p.methods()
                    .iter()
                    .map(|m| match m {
                        crate::SecondFactorMethod::Totp => "totp".to_owned(),
                        crate::SecondFactorMethod::RecoveryCode => "recovery_code".to_owned(),
                        crate::SecondFactorMethod::Sms => "sms".to_owned(),
                    })
                    .collect(),
                false,
            ),
            crate::Login::NeedsRecovery(r) => ("recovery", Vec::new(), r.has_published_identity()),
        };
        Self {
            login: Rc::new(Mutex::new(Some(login))),
            needs,
            methods,
            can_recover,
            device,
        }
    }
}

#[wasm_bindgen]
impl LoginStep {
    /// `"ready"`, `"second_factor"` or `"recovery"`.
    #[wasm_bindgen(getter)]
    pub fn needs(&self) -> String {
        self.needs.to_owned()
    }

    /// The second factors the server accepts: `totp`, `recovery_code`,
    /// `sms`.
    #[wasm_bindgen(getter)]
    pub fn methods(&self) -> Vec<String> {
        self.methods.clone()
    }

    /// Whether a recovery key can restore the identity (one was
    /// published); if not, only a new identity is possible.
    #[wasm_bindgen(getter, js_name = canRecover)]
    pub fn can_recover(&self) -> bool {
        self.can_recover
    }

    /// The session of a ready login (once).
    #[wasm_bindgen(js_name = takeSession)]
    pub fn take_session(&self) -> Result<KluisSession, JsValue> {
        let mut login = self
            .login
            .try_lock()
            .ok_or_else(|| not_now("the session"))?;
        match login.take() {
            Some(crate::Login::Ready(session)) => {
                Ok(KluisSession::wrap(*session, self.device.clone()))
            }
            other => {
                *login = other;
                Err(not_now("the session"))
            }
        }
    }

    /// Has a code sent by SMS (when `methods` offers `sms`).
    #[wasm_bindgen(js_name = sendSms)]
    pub fn send_sms(&self) -> js_sys::Promise {
        let login = self.login.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let login = login.lock().await;
            let Some(crate::Login::SecondFactor(pending)) = login.as_ref() else {
                return Err(not_now("a code"));
            };
            pending.send_sms().await.map_err(js_error)?;
            Ok(JsValue::TRUE)
        })
    }

    /// Sends the typed code (six digits from the app or SMS, or a recovery
    /// code); resolves to the next step. A wrong code rejects
    /// (`second_factor_failed`) and this step stays for another try.
    pub fn complete(&self, code: String) -> js_sys::Promise {
        let login = self.login.clone();
        let device = self.device.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let next = {
                let login = login.lock().await;
                let Some(crate::Login::SecondFactor(pending)) = login.as_ref() else {
                    return Err(not_now("a code"));
                };
                let code = code.trim();
                let method = crate::SecondFactorMethod::of_code(code, pending.methods());
                pending.complete(method, code).await
            };
            device.flush().await?;
            Ok(LoginStep::wrap(next.map_err(js_error)?, device).into())
        })
    }

    /// Restores the identity with the recovery key and seals it under the
    /// new password; resolves to the session. A malformed key rejects
    /// (`invalid_recovery_key`) and this step stays; a key that does not
    /// open the identity ends this login (sign in again).
    pub fn recover(&self, recovery_key: String) -> js_sys::Promise {
        let login = self.login.clone();
        let device = self.device.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let key = kluis_crypto::recovery::RecoveryKey::parse(&recovery_key).map_err(|e| {
                let err = js_sys::Error::new(&e.to_string());
                err.set_name("invalid_recovery_key");
                JsValue::from(err)
            })?;
            let pending = {
                let mut login = login.lock().await;
                match login.take() {
                    Some(crate::Login::NeedsRecovery(p)) => p,
                    other => {
                        *login = other;
                        return Err(not_now("a recovery key"));
                    }
                }
            };
            let session = pending.recover(&key).await.map_err(js_error);
            device.flush().await?;
            Ok(KluisSession::wrap(session?, device).into())
        })
    }

    /// Starts over with a new identity (the old messages become
    /// unreadable; every peer is told the key changed); resolves to the
    /// account with its new recovery key, to show once.
    #[wasm_bindgen(js_name = newIdentity)]
    pub fn new_identity(&self) -> js_sys::Promise {
        let login = self.login.clone();
        let device = self.device.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let pending = {
                let mut login = login.lock().await;
                match login.take() {
                    Some(crate::Login::NeedsRecovery(p)) => p,
                    other => {
                        *login = other;
                        return Err(not_now("a new identity"));
                    }
                }
            };
            let account = pending.new_identity().await.map_err(js_error);
            device.flush().await?;
            let account = account?;
            Ok(SignedUp {
                recovery_key: account.recovery_key.to_display_string().to_string(),
                session: Some(KluisSession::wrap(account.session, device)),
            }
            .into())
        })
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

    /// [`Self::run`] for a step that answers a value: resolves to it as a
    /// plain JS object.
    fn answer<F, Fut, T>(&self, call: F) -> js_sys::Promise
    where
        F: FnOnce(Rc<Mutex<Session>>) -> Fut,
        Fut: Future<Output = crate::Result<T>> + 'static,
        T: Serialize,
    {
        let done = call(self.inner.clone());
        self.run(async move { to_js(&done.await.map_err(js_error)?) })
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
        self.answer(|s| async move { s.lock().await.me().await })
    }

    /// The relationships this user is in.
    pub fn relationships(&self) -> js_sys::Promise {
        self.answer(|s| async move { s.lock().await.relationships().await })
    }

    /// The current privacy notice in the account's language (`{ version,
    /// language, text, acknowledged_ms }`, text in Markdown); show it when
    /// `me().privacy_notice_pending`.
    #[wasm_bindgen(js_name = privacyNotice)]
    pub fn privacy_notice(&self) -> js_sys::Promise {
        self.answer(|s| async move { s.lock().await.privacy_notice().await })
    }

    /// Records that the user read notice `version`.
    #[wasm_bindgen(js_name = acknowledgePrivacyNotice)]
    pub fn acknowledge_privacy_notice(&self, version: f64) -> js_sys::Promise {
        self.answer(|s| async move {
            s.lock()
                .await
                .acknowledge_privacy_notice(version as i64)
                .await
        })
    }

    /// Sets the account's language (`"nl"`, `"en"`) and, if given, whether
    /// e-mails tell of new messages; resolves to the account.
    #[wasm_bindgen(js_name = setPreferences)]
    pub fn set_preferences(
        &self,
        language: Option<String>,
        activity_emails: Option<bool>,
    ) -> js_sys::Promise {
        let inner = self.inner.clone();
        self.run(async move {
            let language = language
                .map(|l| l.parse::<crate::Language>())
                .transpose()
                .map_err(js_error)?;
            let me = inner
                .lock()
                .await
                .set_preferences(language, activity_emails)
                .await
                .map_err(js_error)?;
            to_js(&me)
        })
    }

    /// One page of the dialogue from the newest back: `{ entries, older }`
    /// (entries oldest first, `older` the cursor of the page before). With
    /// `older` and `beforeSeq` (the oldest place already shown) the page
    /// before that one; an entry at or after `beforeSeq` is refused.
    #[wasm_bindgen(js_name = dialoguePage)]
    pub fn dialogue_page(
        &self,
        relationship: String,
        older: Option<String>,
        before_seq: Option<f64>,
        limit: u32,
    ) -> js_sys::Promise {
        self.answer(|s| async move {
            let rid = parse_relationship_id(&relationship)?;
            let older = match (older.as_deref(), before_seq) {
                (Some(c), Some(seq)) => Some((c, seq as i64)),
                (None, _) => None,
                (Some(_), None) => {
                    return Err(Error::InvalidInput("an older page needs beforeSeq".into()))
                }
            };
            s.lock().await.dialogue_page(rid, older, limit).await
        })
    }

    /// The newest `limit` verified entries of a relationship, oldest
    /// first (for following a conversation).
    pub fn recent(&self, relationship: String, limit: u32) -> js_sys::Promise {
        self.answer(|s| async move {
            let rid = parse_relationship_id(&relationship)?;
            s.lock().await.recent(rid, limit).await
        })
    }

    /// The members of an organisation this user may see: `[{ account_id,
    /// display_name, email, role, disabled, … }]`.
    pub fn members(&self, organisation: String) -> js_sys::Promise {
        self.answer(|s| async move { s.lock().await.members(&organisation).await })
    }

    /// Invites `email` to `organisation` as `role` (`client` by a coach;
    /// `coach` or `manager` by a manager); the server e-mails the link.
    pub fn invite(&self, organisation: String, email: String, role: String) -> js_sys::Promise {
        let inner = self.inner.clone();
        self.run(async move {
            let role: crate::Role = serde_json::from_value(serde_json::Value::String(role))
                .map_err(|_| js_error(Error::InvalidInput("unknown role".into())))?;
            let sent = inner
                .lock()
                .await
                .invite(&organisation, &email, role)
                .await
                .map_err(js_error)?;
            to_js(&sent)
        })
    }

    /// Everything the server holds about this account (the right of
    /// access): the server's `kluis-data/1` document.
    #[wasm_bindgen(js_name = myData)]
    pub fn my_data(&self) -> js_sys::Promise {
        self.answer(|s| async move { s.lock().await.my_data().await })
    }

    /// The invitations not used yet, newest first (a manager's
    /// organisation's, a coach's own): `[{ invitation_id, email, role,
    /// invited_by, created_ms, expires_ms }]`.
    pub fn invitations(&self, organisation: String) -> js_sys::Promise {
        self.answer(|s| async move { s.lock().await.pending_invitations(&organisation).await })
    }

    /// Withdraws an invitation not used yet: its link stops working.
    #[wasm_bindgen(js_name = withdrawInvitation)]
    pub fn withdraw_invitation(&self, organisation: String, invitation: String) -> js_sys::Promise {
        self.step(|s| async move {
            s.lock()
                .await
                .withdraw_invitation(&organisation, &invitation)
                .await
        })
    }

    /// Managers: changes a member's profile: `update` is `{ display_name?,
    /// email?, contract_end?, trajectory_start?, trajectory_end? }` (dates
    /// `YYYY-MM-DD`, `""` clears; a new e-mail address is a proposal).
    #[wasm_bindgen(js_name = updateMember)]
    pub fn update_member(
        &self,
        organisation: String,
        member: String,
        update: JsValue,
    ) -> js_sys::Promise {
        let parsed: Result<crate::MemberUpdate, _> = serde_wasm_bindgen::from_value(update);
        self.step(|s| async move {
            let member = parse_user_id(&member)?;
            let update = parsed.map_err(|e| Error::InvalidInput(format!("member update: {e}")))?;
            s.lock()
                .await
                .update_member(&organisation, member, &update)
                .await
        })
    }

    /// Managers: disables a member (or enables them again).
    #[wasm_bindgen(js_name = setMemberDisabled)]
    pub fn set_member_disabled(
        &self,
        organisation: String,
        member: String,
        disabled: bool,
    ) -> js_sys::Promise {
        self.step(|s| async move {
            let member = parse_user_id(&member)?;
            s.lock()
                .await
                .set_member_disabled(&organisation, member, disabled)
                .await
        })
    }

    /// Managers: the organisation's relationships, members and dates only.
    #[wasm_bindgen(js_name = organisationRelationships)]
    pub fn organisation_relationships(&self, organisation: String) -> js_sys::Promise {
        self.answer(|s| async move {
            s.lock()
                .await
                .organisation_relationships(&organisation)
                .await
        })
    }

    /// Managers: requires (or stops requiring) two-step sign-in of every
    /// member of the organisation.
    #[wasm_bindgen(js_name = requireTwoFactor)]
    pub fn require_two_factor(&self, organisation: String, required: bool) -> js_sys::Promise {
        self.step(|s| async move {
            s.lock()
                .await
                .require_two_factor(&organisation, required)
                .await
        })
    }

    /// Opens a relationship with a client this coach invited; resolves to
    /// its id.
    #[wasm_bindgen(js_name = openRelationship)]
    pub fn open_relationship(&self, organisation: String, client: String) -> js_sys::Promise {
        let inner = self.inner.clone();
        self.run(async move {
            let client = parse_user_id(&client).map_err(js_error)?;
            let rid = inner
                .lock()
                .await
                .open_relationship(&organisation, client)
                .await
                .map_err(js_error)?;
            Ok(JsValue::from_str(&rid.to_string()))
        })
    }

    /// Adds another coach of the organisation to a relationship this
    /// coach is in: a new epoch whose signed membership record names them,
    /// its key wrapped to them (and to everyone already in it). Resolves
    /// to the new epoch. The client sees who joined before sending again.
    #[wasm_bindgen(js_name = addCoach)]
    pub fn add_coach(&self, relationship: String, coach: String) -> js_sys::Promise {
        self.answer(|s| async move {
            let rid = parse_relationship_id(&relationship)?;
            let coach = parse_user_id(&coach)?;
            s.lock()
                .await
                .add_member(rid, coach, crate::MemberRole::Coach)
                .await
        })
    }

    /// Every verified entry of a relationship, oldest first.
    pub fn dialogue(&self, relationship: String) -> js_sys::Promise {
        self.answer(|s| async move {
            let rid = parse_relationship_id(&relationship)?;
            s.lock().await.dialogue(rid).await
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

    /// Writes a coach-private note about the relationship (coaches; only
    /// they ever read it); resolves to the item id.
    #[wasm_bindgen(js_name = addNote)]
    pub fn add_note(&self, relationship: String, text: String) -> js_sys::Promise {
        let inner = self.inner.clone();
        self.run(async move {
            let rid = parse_relationship_id(&relationship).map_err(js_error)?;
            let id = inner
                .lock()
                .await
                .add_note(rid, &text)
                .await
                .map_err(js_error)?;
            Ok(JsValue::from_str(&id.to_string()))
        })
    }

    /// Encrypts a browser `File` (or `Blob`) and shares it in the
    /// relationship as `name` (`mediaType`), read in slices; `onProgress`
    /// is called with `(done, total)` bytes. Resolves to `{ item_id,
    /// attachment_id, size }`. A broken connection is retried segment by
    /// segment; past that the Promise rejects (`unreachable`). For a
    /// failure to be resumable, use `startUpload` and `continueUpload`.
    #[wasm_bindgen(js_name = sendFile)]
    pub fn send_file(
        &self,
        relationship: String,
        file: JsValue,
        name: String,
        media_type: String,
        on_progress: Option<js_sys::Function>,
    ) -> js_sys::Promise {
        self.answer(|s| async move {
            let rid = parse_relationship_id(&relationship)?;
            let reader = BlobReader::new(file)?;
            let total = reader.size as u64;
            let mut progress = progress_to(on_progress);
            let shared = s
                .lock()
                .await
                .send_stream(rid, reader, &name, &media_type, Some(total), &mut progress)
                .await?;
            Ok(shared_file(&shared))
        })
    }

    /// Starts sharing a file of `size` bytes as `name` (`mediaType`):
    /// resolves to a `KluisUpload` for `continueUpload`. Nothing of the
    /// file is read yet.
    #[wasm_bindgen(js_name = startUpload)]
    pub fn start_upload(
        &self,
        relationship: String,
        name: String,
        media_type: String,
        size: f64,
    ) -> js_sys::Promise {
        let s = self.inner.clone();
        self.run(async move {
            let rid = parse_relationship_id(&relationship).map_err(js_error)?;
            let upload = s
                .lock()
                .await
                .start_upload(rid, &name, &media_type, Some(size as u64))
                .await
                .map_err(js_error)?;
            Ok(JsValue::from(KluisUpload {
                upload: Rc::new(std::cell::RefCell::new(Some(upload))),
            }))
        })
    }

    /// Sends the file of `upload` (the same `File` each time): the first
    /// time from its start, after a failure from where it stopped — what
    /// the server stored is not sent again. Resolves like `sendFile`;
    /// after a rejection, call it again (the connection back, "try
    /// again").
    #[wasm_bindgen(js_name = continueUpload)]
    pub fn continue_upload(
        &self,
        upload: &KluisUpload,
        file: JsValue,
        on_progress: Option<js_sys::Function>,
    ) -> js_sys::Promise {
        let cell = upload.upload.clone();
        self.answer(|s| async move {
            // Out of the cell while it runs: a second call at the same
            // time finds it empty.
            let mut held = cell
                .borrow_mut()
                .take()
                .ok_or_else(|| Error::InvalidInput("this upload is running already".into()))?;
            let sent = async {
                let reader = BlobReader::from_offset(file, held.resume_at() as f64)?;
                let mut progress = progress_to(on_progress);
                s.lock()
                    .await
                    .continue_upload(&mut held, reader, &mut progress)
                    .await
            }
            .await;
            *cell.borrow_mut() = Some(held);
            Ok(shared_file(&sent?))
        })
    }

    /// Downloads and decrypts the file of document item `item`, handing
    /// each plaintext chunk to `onChunk(Uint8Array)` as it is opened, and
    /// `(done, total)` to `onProgress`. Resolves to the file's `{ name,
    /// media_type, size }` only after every check passed (the last chunk,
    /// the stream's digest, the size): on a rejection, throw away what
    /// `onChunk` received.
    #[wasm_bindgen(js_name = downloadFile)]
    pub fn download_file(
        &self,
        relationship: String,
        item: String,
        on_chunk: js_sys::Function,
        on_progress: Option<js_sys::Function>,
    ) -> js_sys::Promise {
        self.answer(|s| async move {
            let rid = parse_relationship_id(&relationship)?;
            let item = parse_item_id(&item)?;
            let mut progress = progress_to(on_progress);
            s.lock()
                .await
                .download_file(rid, item, PageWriter(on_chunk), &mut progress)
                .await
        })
    }

    /// Exports everything this user can read, decrypted, as one ZIP
    /// archive (the same files as `kluis export`: JSON, the shared files,
    /// manifest.json with every file's SHA-256), handed to
    /// `onChunk(Uint8Array)` as it is written; `onProgress(done)` counts
    /// file bytes. Resolves to the manifest's file list once the archive
    /// is complete; on a rejection, throw away what `onChunk` received.
    #[wasm_bindgen(js_name = exportZip)]
    pub fn export_zip(
        &self,
        on_chunk: js_sys::Function,
        on_progress: Option<js_sys::Function>,
    ) -> js_sys::Promise {
        self.answer(|s| async move {
            let mut sink = crate::ZipSink::new(PageWriter(on_chunk));
            let mut progress = progress_to(on_progress);
            let files = s.lock().await.export_into(&mut sink, &mut progress).await?;
            sink.finish()?;
            Ok::<_, Error>(files)
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
        self.answer(|s| async move {
            let rid = parse_relationship_id(&relationship)?;
            s.lock().await.membership(rid).await
        })
    }

    /// Records that the user saw who joined the relationship up to
    /// `epoch` (`membership().acknowledged_epoch` afterwards).
    #[wasm_bindgen(js_name = acknowledgeJoins)]
    pub fn acknowledge_joins(&self, relationship: String, epoch: u32) -> js_sys::Promise {
        self.step(|s| async move {
            let rid = parse_relationship_id(&relationship)?;
            s.lock().await.acknowledge_joins(rid, epoch)
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

    /// The account's two-step sign-in: `{ totp, sms_phone,
    /// recovery_codes_left, required_by_organisation }`.
    #[wasm_bindgen(js_name = twoFactor)]
    pub fn two_factor(&self) -> js_sys::Promise {
        self.answer(|s| async move { s.lock().await.two_factor().await })
    }

    /// Starts adding an authenticator app (needs a recent
    /// `reauthenticate`): `{ secret, otpauth_uri }` (draw the URI with
    /// `KluisClient.qrCode`; the server's picture is not used).
    #[wasm_bindgen(js_name = enrolTotp)]
    pub fn enrol_totp(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        self.run(async move {
            let e = inner.lock().await.enrol_totp().await.map_err(js_error)?;
            to_js(&serde_json::json!({"secret": e.secret, "otpauth_uri": e.otpauth_uri}))
        })
    }

    /// Confirms the app with its first code; resolves to the ten recovery
    /// codes, to show once.
    #[wasm_bindgen(js_name = confirmTotp)]
    pub fn confirm_totp(&self, code: String) -> js_sys::Promise {
        let inner = self.inner.clone();
        self.run(async move {
            let codes = inner
                .lock()
                .await
                .confirm_totp(code.trim())
                .await
                .map_err(js_error)?;
            to_js(&codes)
        })
    }

    /// Turns two-step sign-in off with a current code (`code` from the app,
    /// or a recovery code); needs a recent `reauthenticate`.
    #[wasm_bindgen(js_name = disableTwoFactor)]
    pub fn disable_two_factor(&self, code: String) -> js_sys::Promise {
        self.step(|s| async move {
            let code = code.trim().to_owned();
            let method =
                crate::SecondFactorMethod::of_code(&code, &[crate::SecondFactorMethod::Totp]);
            s.lock().await.disable_two_factor(method, &code).await
        })
    }

    /// The account's sessions: `[{ id, device_label, created_ms,
    /// last_seen_ms, expires_ms, current }]`.
    pub fn sessions(&self) -> js_sys::Promise {
        self.answer(|s| async move { s.lock().await.sessions().await })
    }

    /// Ends one of the account's other sessions.
    #[wasm_bindgen(js_name = revokeSession)]
    pub fn revoke_session(&self, id: String) -> js_sys::Promise {
        self.step(|s| async move { s.lock().await.revoke_session(&id).await })
    }

    /// Ends every session of the account, this one included.
    #[wasm_bindgen(js_name = logoutEverywhere)]
    pub fn logout_everywhere(&self) -> js_sys::Promise {
        self.step(|s| async move { s.lock().await.end_everywhere().await })
    }

    /// Changes the password (the old one proven); other sessions end.
    #[wasm_bindgen(js_name = changePassword)]
    pub fn change_password(&self, old: String, new: String) -> js_sys::Promise {
        self.step(|s| async move { s.lock().await.change_password(&old, &new).await })
    }

    /// Deletes this account (clients), the password proven again:
    /// resolves to `{ deleted: true }`, or `{ deleted: false,
    /// scheduledForMs }` when the erasure waits out a cooling-off period.
    #[wasm_bindgen(js_name = deleteAccount)]
    pub fn delete_account(&self, password: String) -> js_sys::Promise {
        let inner = self.inner.clone();
        self.run(async move {
            let outcome = inner
                .lock()
                .await
                .request_account_deletion(&password)
                .await
                .map_err(js_error)?;
            to_js(&match outcome {
                crate::AccountDeletion::Deleted => serde_json::json!({"deleted": true}),
                crate::AccountDeletion::Scheduled { at_ms } => {
                    serde_json::json!({"deleted": false, "scheduledForMs": at_ms})
                }
            })
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
