//! The worker's housekeeping on both engines: expired login state, pending
//! second factors and SMS codes go, and so do e-mail rows a month after
//! they were sent or given up on; what is still pending or recent stays.

use kluis_server::clock::now_ms;
use kluis_server::store::Engine;
use kluis_test_support::both_engines;
use sqlx::Row;

use crate::common::TestServer;

both_engines!(expired_and_old_rows_are_removed);

async fn count(s: &TestServer, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(s.state.store.pool())
        .await
        .unwrap()
        .try_get::<i64, _>("n")
        .unwrap()
}

async fn expired_and_old_rows_are_removed(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (_, _, account) = s.setup_organisation("manon@a.nl", "Correct-Horse-9").await;
    let now = now_ms();
    let day = 24 * 3600 * 1000;
    let pool = s.state.store.pool();
    for (id, sent, failed) in [
        ("old-sent", Some(now - 31 * day), None),
        ("old-failed", None, Some(now - 40 * day)),
        ("recent-sent", Some(now - day), None),
        ("pending", None, None),
    ] {
        sqlx::query(
            "INSERT INTO outbox (id, recipient, kind, subject, created_ms, next_attempt_ms, sent_ms, failed_ms) \
             VALUES ($1, 'x@a.nl', 'test', 's', $2, $2, $3, $4)",
        )
        .bind(id)
        .bind(now - 50 * day)
        .bind(sent)
        .bind(failed)
        .execute(pool)
        .await
        .unwrap();
    }
    for (hash, expires) in [(vec![1u8; 32], now - 1), (vec![2u8; 32], now + 60_000)] {
        sqlx::query(
            "INSERT INTO pending_logins (token_hash, account_id, device_label, session_mode, expires_ms) \
             VALUES ($1, $2, 'd', 'bearer', $3)",
        )
        .bind(hash)
        .bind(&account)
        .bind(expires)
        .execute(pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO sms_codes (account_id, purpose, code_hash, expires_ms) VALUES ($1, 'login', $2, $3)",
    )
    .bind(&account)
    .bind(vec![3u8; 32])
    .bind(now - 1)
    .execute(pool)
    .await
    .unwrap();

    kluis_server::worker::housekeeping(&s.state).await;

    let left: Vec<String> = sqlx::query("SELECT id FROM outbox WHERE kind = 'test' ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("id").unwrap())
        .collect();
    assert_eq!(left, ["pending", "recent-sent"]);
    assert_eq!(
        count(&s, "SELECT COUNT(*) AS n FROM pending_logins").await,
        1
    );
    assert_eq!(count(&s, "SELECT COUNT(*) AS n FROM sms_codes").await, 0);
    s.stop().await;
}
