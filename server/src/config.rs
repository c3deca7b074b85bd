//! Configuration: defaults, then a TOML file, then `KLUIS_*` environment
//! variables (the last one wins).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::StartError;

/// The server's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `sqlite://…` (default, in the data directory) or `postgres://…`.
    pub database_url: String,
    /// Address to listen on.
    pub bind: String,
    /// The URL users reach Kluis at (used in links).
    pub public_url: String,
    /// Where the SQLite database and other local state live.
    pub data_dir: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    bind: Option<String>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
}

impl Config {
    /// Loads the configuration. `file` is read if given; `env` supplies
    /// `KLUIS_*` overrides (a function so that tests need not touch the
    /// process environment).
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, StartError> {
        let from_file = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| StartError::Config(format!("{}: {e}", path.display())))?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| StartError::Config(format!("{}: {e}", path.display())))?
            }
            None => FileConfig::default(),
        };
        let data_dir = env("KLUIS_DATA_DIR")
            .map(PathBuf::from)
            .or(from_file.data_dir)
            .unwrap_or_else(|| PathBuf::from("kluis-data"));
        let bind = env("KLUIS_BIND")
            .or(from_file.bind)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let database_url = env("KLUIS_DATABASE_URL")
            .or(from_file.database_url)
            .unwrap_or_else(|| {
                format!("sqlite://{}?mode=rwc", data_dir.join("kluis.db").display())
            });
        let public_url = env("KLUIS_PUBLIC_URL")
            .or(from_file.public_url)
            .unwrap_or_else(|| format!("http://{bind}"));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(StartError::Config(
                "KLUIS_DATABASE_URL must start with sqlite: or postgres://".to_owned(),
            ));
        }
        Ok(Self {
            database_url,
            bind,
            public_url,
            data_dir,
        })
    }

    /// The configuration as an operator reads it, with the database password
    /// hidden.
    pub fn redacted(&self) -> String {
        let db = match self.database_url.split_once('@') {
            Some((creds, host)) if creds.contains("://") && creds.contains(':') => {
                let scheme_user = creds.rsplit_once(':').map_or(creds, |(a, _)| a);
                format!("{scheme_user}:[redacted]@{host}")
            }
            _ => self.database_url.clone(),
        };
        format!(
            "database_url = {db:?}\nbind = {:?}\npublic_url = {:?}\ndata_dir = {:?}\n",
            self.bind,
            self.public_url,
            self.data_dir.display().to_string()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("kluis-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("kluis.toml");
        std::fs::write(
            &file,
            "bind = \"0.0.0.0:9000\"\ndata_dir = \"/var/lib/kluis\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), |k| {
            (k == "KLUIS_BIND").then(|| "127.0.0.1:7000".to_owned())
        })
        .unwrap();
        assert_eq!(c.bind, "127.0.0.1:7000");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/kluis"));
        assert_eq!(c.database_url, "sqlite:///var/lib/kluis/kluis.db?mode=rwc");

        std::fs::write(&file, "bnd = \"typo\"\n").unwrap();
        assert!(matches!(
            Config::load(Some(&file), |_| None),
            Err(StartError::Config(_))
        ));
        assert!(matches!(
            Config::load(None, |k| (k == "KLUIS_DATABASE_URL")
                .then(|| "mysql://x".to_owned())),
            Err(StartError::Config(_))
        ));
    }

    #[test]
    fn redaction_hides_the_database_password() {
        let c = Config::load(None, |k| {
            (k == "KLUIS_DATABASE_URL").then(|| "postgres://kluis:s3cret@db:5432/kluis".to_owned())
        })
        .unwrap();
        let shown = c.redacted();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://kluis:[redacted]@db:5432/kluis"));
    }
}
