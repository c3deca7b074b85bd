//! A fresh database per test: a SQLite file in the test's own directory,
//! or a uniquely named PostgreSQL database, created through `psql` on the
//! server at `KLUIS_TEST_POSTGRES_URL` and dropped when the test is done.

use std::process::Command;

use crate::{temp_dir, Engine, TempDir};

/// The PostgreSQL the tests use unless `KLUIS_TEST_POSTGRES_URL` names
/// another: the URL of a database to connect to for creating and dropping
/// the tests' own databases, which go on the same server.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// `KLUIS_TEST_POSTGRES_URL`, or [`DEFAULT_POSTGRES_URL`].
pub fn postgres_url() -> String {
    std::env::var("KLUIS_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// `url` with its database name replaced by `name` (user, host, port and
/// any `?parameters` kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, parameters) = url
        .split_once('?')
        .map_or((url, None), |(b, p)| (b, Some(p)));
    let authority_from = base.find("://").map_or(0, |i| i + 3);
    let path_from = base
        .get(authority_from..)
        .and_then(|rest| rest.find('/'))
        .map_or(base.len(), |i| authority_from + i);
    let server = base.get(..path_from).unwrap_or(base);
    match parameters {
        Some(p) => format!("{server}/{name}?{p}"),
        None => format!("{server}/{name}"),
    }
}

/// Runs `sql` on the database at `url`; its output, unaligned, without
/// headers (`psql -tA`).
fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args(["-d", url, "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!("{sql}: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// A PostgreSQL database of one test, dropped (with any connections still
/// open to it) when this is dropped.
#[derive(Debug)]
pub struct FreshPostgres {
    name: String,
    url: String,
}

impl FreshPostgres {
    /// Creates a database with a new name.
    pub fn create() -> Self {
        let name = format!("kluis_test_{}", rand::random::<u32>());
        let admin = postgres_url();
        psql(&admin, &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin}: {e}"));
        let url = with_database(&admin, &name);
        Self { name, url }
    }

    /// Its URL, for `KLUIS_DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `sql` on it; the output of `psql -tA`.
    pub fn query(&self, sql: &str) -> String {
        psql(&self.url, sql).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for FreshPostgres {
    fn drop(&mut self) {
        let dropped = psql(
            &postgres_url(),
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
        // A failing test is already unwinding: a second panic would abort
        // every other test of the binary.
        if let Err(e) = dropped {
            assert!(std::thread::panicking(), "{e}");
        }
    }
}

/// A database for one test on `engine`, and a data directory for it: the
/// SQLite file lives in that directory; a PostgreSQL database is dropped
/// with this.
#[derive(Debug)]
pub struct TestDb {
    /// What `KLUIS_DATABASE_URL` says.
    pub url: String,
    /// The test's data directory.
    pub dir: TempDir,
    _postgres: Option<FreshPostgres>,
}

impl TestDb {
    /// A fresh database.
    pub fn new(engine: Engine) -> Self {
        let dir = temp_dir();
        match engine {
            Engine::Sqlite => Self {
                url: format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("kluis.db").display()
                ),
                dir,
                _postgres: None,
            },
            Engine::Postgres => {
                let postgres = FreshPostgres::create();
                Self {
                    url: postgres.url().to_owned(),
                    dir,
                    _postgres: Some(postgres),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "kluis_test_1"),
            "postgres://postgres@127.0.0.1:5432/kluis_test_1"
        );
        assert_eq!(
            with_database("postgres://u:p@db/admin?sslmode=disable", "x"),
            "postgres://u:p@db/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://db:5433", "x"),
            "postgres://db:5433/x"
        );
    }
}
