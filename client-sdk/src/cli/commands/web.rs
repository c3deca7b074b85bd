//! `kluis verify-web`: is the web client a server serves the bundle built
//! from source? (The comparison is `crate::bundle`.)

use std::path::Path;

use serde_json::json;

use crate::bundle::{verify_served, BundleManifest};
use crate::cli::failure::{Failure, Outcome};
use crate::Error;

pub(crate) async fn verify(url: &str, manifest: &Path, json: bool) -> Outcome {
    let bytes = std::fs::read(manifest).map_err(|e| {
        Failure::from(Error::InvalidInput(format!(
            "{}: {e} (build it from source with ./scripts/build-web)",
            manifest.display()
        )))
    })?;
    let local = BundleManifest::parse(&bytes)?;
    let check = verify_served(url, &local).await?;
    if json {
        println!(
            "{}",
            json!({"files": check.files, "matches": true,
                   "published_manifest_matches": check.published_manifest_matches})
        );
    } else {
        println!(
            "The web client at {url} is the bundle built from source: {} files, each SHA-256 the same.",
            check.files
        );
        if !check.published_manifest_matches {
            println!(
                "Its published manifest ({}) differs from yours, though the files match.",
                crate::bundle::WELL_KNOWN_MANIFEST
            );
        }
    }
    Ok(())
}
