//! The two migration folders must give the same schema: every table and
//! column that `migrations/sqlite` creates, `migrations/postgres` creates
//! too, and nothing more. Queries are written once for both engines, so a
//! column missing on one of them is a failure in production only.

use std::collections::BTreeSet;

use kluis_server::store::Store;
use kluis_test_support::database::TestDb;
use kluis_test_support::Engine;
use sqlx::Row;

/// (table, column) of every table the migrations made, without sqlx's
/// own bookkeeping.
async fn columns(engine: Engine) -> BTreeSet<(String, String)> {
    let db = TestDb::new(engine);
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let sql = match engine {
        Engine::Sqlite => {
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'"
        }
        Engine::Postgres => {
            "SELECT CAST(table_name AS TEXT) AS t, CAST(column_name AS TEXT) AS c \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'"
        }
    };
    let rows = sqlx::query(sql).fetch_all(store.pool()).await.unwrap();
    store.close().await;
    rows.iter()
        .map(|r| (r.get::<String, _>("t"), r.get::<String, _>("c")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_engines_define_the_same_tables_and_columns() {
    let sqlite = columns(Engine::Sqlite).await;
    let postgres = columns(Engine::Postgres).await;
    let tables: BTreeSet<&str> = sqlite.iter().map(|(t, _)| t.as_str()).collect();
    // The check means something only if it saw the schema.
    assert!(
        tables.contains("accounts") && tables.contains("items"),
        "{tables:?}"
    );
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "migrations differ\n  only in SQLite: {only_sqlite:?}\n  only in PostgreSQL: {only_postgres:?}"
    );
    println!(
        "schema: {} tables, {} columns, the same on both engines",
        tables.len(),
        sqlite.len()
    );
}
