//! The languages Kluis speaks to its users in: Dutch (the default, for a
//! Dutch service) and English.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A user's language, for e-mail and the privacy notice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Nederlands.
    #[default]
    Nl,
    /// English.
    En,
}

impl Language {
    /// The stored form and BCP 47 tag.
    pub fn code(self) -> &'static str {
        match self {
            Self::Nl => "nl",
            Self::En => "en",
        }
    }

    /// Reads the stored form; anything unknown is a storage fault.
    pub fn from_stored(code: &str) -> Result<Self, ApiError> {
        match code {
            "nl" => Ok(Self::Nl),
            "en" => Ok(Self::En),
            other => Err(ApiError::Internal(format!("stored language {other:?}"))),
        }
    }

    /// One of two texts.
    pub fn pick<'a>(self, nl: &'a str, en: &'a str) -> &'a str {
        match self {
            Self::Nl => nl,
            Self::En => en,
        }
    }
}
