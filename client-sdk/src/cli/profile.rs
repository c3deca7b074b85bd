//! Where the CLI keeps things between runs: a profile directory with the
//! server and e-mail address last used (nothing secret) and the sealed
//! local store (pins and epochs, readable only after a login).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The non-secret part of a profile.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Profile {
    pub server: Option<String>,
    pub email: Option<String>,
}

pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("kluis");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".config").join("kluis"),
        None => PathBuf::from(".kluis"),
    }
}

impl Profile {
    pub fn load(dir: &Path) -> Self {
        std::fs::read(dir.join("profile.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("profile.json"), json)
    }
}
