//! The claims file: capabilities a connector declares it does not support.
//!
//! ```toml
//! [[unsupported]]
//! capability = "split-tender"       # a scenario's file stem, id or tag
//! reason = "We only sync card payments."
//! ```
//!
//! Scenarios it names show as "not claimed" on the certificate, never as
//! passed.

use std::path::Path;

use serde::Deserialize;

use super::profile::{Profile, ProfileScenario};

/// One capability declared unsupported.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unsupported {
    /// A scenario's file stem (`split-tender-partial-refund`), id
    /// (`level-2/split-tender-partial-refund`) or one of its tags.
    pub capability: String,
    /// Why, in the vendor's words (required).
    pub reason: String,
}

/// The whole claims file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Declared gaps.
    #[serde(default)]
    pub unsupported: Vec<Unsupported>,
}

impl Claims {
    /// Reads and checks a claims file against the profile.
    pub fn load(file: &Path, profile: &Profile) -> Result<Claims, String> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("--claims {}: {e}", file.display()))?;
        let claims: Claims =
            toml::from_str(&text).map_err(|e| format!("--claims {}: {e}", file.display()))?;
        for (i, u) in claims.unsupported.iter().enumerate() {
            if u.reason.trim().is_empty() {
                return Err(format!(
                    "--claims {}: unsupported[{i}] (`{}`) needs a reason",
                    file.display(),
                    u.capability
                ));
            }
            if !profile.scenarios.iter().any(|s| matches(s, &u.capability)) {
                let known: Vec<&str> = profile.scenarios.iter().map(|s| s.stem()).collect();
                return Err(format!(
                    "--claims {}: unsupported[{i}].capability `{}` names no scenario or tag of profile `{}` (scenarios: {})",
                    file.display(),
                    u.capability,
                    profile.name,
                    known.join(", ")
                ));
            }
        }
        Ok(claims)
    }

    /// The reason a scenario is excluded, if it is.
    pub fn excludes(&self, s: &ProfileScenario) -> Option<String> {
        self.unsupported
            .iter()
            .find(|u| matches(s, &u.capability))
            .map(|u| u.reason.clone())
    }
}

fn matches(s: &ProfileScenario, capability: &str) -> bool {
    s.id == capability || s.stem() == capability || s.tags.iter().any(|t| t == capability)
}
