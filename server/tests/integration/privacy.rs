//! The privacy notice at first login, on both engines: pending until
//! acknowledged, recorded when shown (version, language, time), refused
//! when acknowledged unseen or for another version, and asked again once
//! the acknowledged version is no longer the current one.

use kluis_server::store::Engine;
use kluis_test_support::both_engines;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;

use crate::common::TestServer;

const PW: &str = "Correct-Horse-9";

both_engines!(privacy_notice_is_shown_recorded_and_acknowledged);

async fn privacy_notice_is_shown_recorded_and_acknowledged(engine: Engine) {
    let s = TestServer::start_with(engine, &[("KLUIS_PRIVACY_CONTACT", "avg@praktijk.nl")]).await;
    let (_, token, account) = s.setup_organisation("manon@a.nl", PW).await;
    let t = Some(token.as_str());
    let (_, me) = s.get("/api/me", t).await;
    assert_eq!(me["privacy_notice_pending"], true);

    // Acknowledging what was never shown is refused.
    let (status, body) = s
        .post("/api/privacy-notice/acknowledge", json!({"version": 1}), t)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("notice_not_shown"))
    );

    let (status, notice) = s.get("/api/privacy-notice", t).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(notice["language"], "nl");
    assert_eq!(notice["version"], 1);
    assert!(notice["acknowledged_ms"].is_null());
    let text = notice["text"].as_str().unwrap();
    for needle in [
        "inzage",
        "rectificatie",
        "vergetelheid",
        "beperking",
        "overdraagbaarheid",
        "Autoriteit Persoonsgegevens",
        "avg@praktijk.nl",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    let row = sqlx::query(
        "SELECT version, language, shown_ms, acknowledged_ms FROM privacy_notices_shown \
         WHERE account_id = $1",
    )
    .bind(&account)
    .fetch_one(s.state.store.pool())
    .await
    .unwrap();
    assert_eq!(row.try_get::<i64, _>("version").unwrap(), 1);
    assert_eq!(row.try_get::<String, _>("language").unwrap(), "nl");
    assert!(row.try_get::<i64, _>("shown_ms").unwrap() > 0);
    assert!(row
        .try_get::<Option<i64>, _>("acknowledged_ms")
        .unwrap()
        .is_none());

    // Another version than the current one is refused.
    let (status, body) = s
        .post("/api/privacy-notice/acknowledge", json!({"version": 0}), t)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("notice_changed"))
    );
    let (status, done) = s
        .post("/api/privacy-notice/acknowledge", json!({"version": 1}), t)
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let at = done["acknowledged_ms"].as_i64().unwrap();
    let (_, me) = s.get("/api/me", t).await;
    assert_eq!(me["privacy_notice_pending"], false);
    // A second acknowledgement keeps the first time.
    let (_, again) = s
        .post("/api/privacy-notice/acknowledge", json!({"version": 1}), t)
        .await;
    assert_eq!(again["acknowledged_ms"].as_i64(), Some(at));

    // In English once the user chooses English.
    let (status, _) = s
        .put("/api/me/preferences", json!({"language": "en"}), &token)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, notice) = s.get("/api/privacy-notice", t).await;
    assert_eq!(notice["language"], "en");
    assert!(notice["text"]
        .as_str()
        .unwrap()
        .contains("Right to erasure"));

    // What was acknowledged becomes an older version (as after an update
    // of the notice): the notice is pending again.
    sqlx::query("UPDATE privacy_notices_shown SET version = 0 WHERE account_id = $1")
        .bind(&account)
        .execute(s.state.store.pool())
        .await
        .unwrap();
    let (_, me) = s.get("/api/me", t).await;
    assert_eq!(me["privacy_notice_pending"], true);
    s.stop().await;
}
