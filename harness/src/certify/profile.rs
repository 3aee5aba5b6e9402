//! Certification profiles: scenario files sorted into levels.
//!
//! A profile is a folder `NAME/` holding a `VERSION` file (one line) and
//! `level-1/`, `level-2/`, `level-3/` with scenario files; its name is the
//! folder's. The `default`
//! profile (and `smoke`, its first scenario of each level) is built into the
//! binary, so `omnisim certify` works from any directory.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::validate::{Loaded, ScenarioError};

/// One scenario of a profile.
#[derive(Clone, Debug)]
pub struct ProfileScenario {
    /// Its level, 1 to 3.
    pub level: u8,
    /// `level-N/stem`.
    pub id: String,
    /// Where it comes from (shown in errors and on the certificate).
    pub file: PathBuf,
    /// Its text.
    pub source: String,
    /// Its title (`name`) and tags, read from the text.
    pub title: String,
    /// Its tags.
    pub tags: Vec<String>,
}

impl ProfileScenario {
    fn new(level: u8, file: PathBuf, source: String) -> Self {
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        #[derive(Deserialize)]
        struct Head {
            #[serde(default)]
            name: String,
            #[serde(default)]
            tags: Vec<String>,
        }
        let head: Option<Head> = toml::from_str::<toml::Table>(&source)
            .ok()
            .and_then(|t| toml::Value::Table(t).try_into().ok());
        let (title, tags) = head.map(|h| (h.name, h.tags)).unwrap_or_default();
        ProfileScenario {
            level,
            id: format!("level-{level}/{stem}"),
            file,
            source,
            title,
            tags,
        }
    }

    /// The stem of its file (`both-channel-sales`).
    pub fn stem(&self) -> &str {
        self.id.split('/').next_back().unwrap_or(&self.id)
    }

    /// Validates and loads it.
    pub fn load(&self) -> Result<Loaded, String> {
        crate::validate::load_str(&self.file, &self.source).map_err(|errors| {
            errors
                .iter()
                .map(ScenarioError::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// A named, versioned set of scenarios in levels.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Its name.
    pub name: String,
    /// Its version: changes whenever a scenario changes.
    pub version: String,
    /// The scenarios, level by level, sorted.
    pub scenarios: Vec<ProfileScenario>,
}

macro_rules! builtin {
    ($($level:literal $stem:literal),* $(,)?) => {
        &[$(($level, concat!("level-", $level, "/", $stem, ".toml"),
            include_str!(concat!("../../../certify/default/level-", $level, "/", $stem, ".toml")))),*]
    };
}

/// The default profile's files: (level, path under `certify/default/`, text).
const DEFAULT: &[(u8, &str, &str)] = builtin![
    1 "sales-in-both-channels",
    1 "counts-and-receipts",
    1 "concurrent-sales-last-units",
    1 "compare-and-set-conflict",
    2 "cancel-after-authorization",
    2 "capture-on-fulfilment",
    2 "partial-return-across-channels",
    2 "split-tender-partial-refund",
    2 "price-and-status-propagation",
    2 "discount-code-return-pro-rata",
    2 "line-dropped-before-pickup",
    2 "refund-in-gateway-dashboard",
    2 "tax-code-removed-online",
    2 "same-person-online-and-at-the-register",
    2 "consent-withdrawn-in-store",
    2 "ends-online-but-not-in-store",
    2 "online-order-returned-in-store-back-to-card",
    2 "count-while-staff-add-online",
    2 "two-stores-and-a-warehouse",
    2 "pos-mastered-price",
    2 "bank-transfer-fails",
    3 "duplicate-reordered-webhooks",
    3 "dropped-webhooks",
    3 "rate-limits-and-5xx",
    3 "forged-and-stale-signatures",
    3 "crash-and-restart",
    3 "outage-30m-catch-up",
    3 "read-only-platforms",
    3 "cancel-heard-before-create",
    3 "price-changes-reordered",
    3 "store-return-refund-timed-out",
    3 "crash-between-apply-and-commit",
    3 "sold-out-at-the-register-while-cut-off",
    3 "price-write-answer-lost",
];

/// The default profile's version (`certify/default/VERSION`).
pub const DEFAULT_VERSION: &str = include_str!("../../../certify/default/VERSION");

/// The profiles built into the binary.
pub const BUILTIN: &[&str] = &["default", "smoke"];

/// A built-in profile by name.
pub fn builtin(name: &str) -> Option<Profile> {
    let all = || {
        DEFAULT.iter().map(|(level, path, text)| {
            ProfileScenario::new(
                *level,
                Path::new("certify/default").join(path),
                (*text).to_owned(),
            )
        })
    };
    match name {
        "default" => Some(Profile {
            name: "default".into(),
            version: DEFAULT_VERSION.trim().into(),
            scenarios: all().collect(),
        }),
        "smoke" => {
            let mut seen = std::collections::BTreeSet::new();
            Some(Profile {
                name: "smoke".into(),
                version: DEFAULT_VERSION.trim().into(),
                scenarios: all().filter(|s| seen.insert(s.level)).collect(),
            })
        }
        _ => None,
    }
}

/// A profile by name (built in) or folder path.
pub fn find(name_or_path: &str) -> Result<Profile, String> {
    if let Some(p) = builtin(name_or_path) {
        return Ok(p);
    }
    let dir = Path::new(name_or_path);
    if !dir.is_dir() {
        return Err(format!(
            "--profile: `{name_or_path}` is neither a built-in profile ({}) nor a folder",
            BUILTIN.join(", ")
        ));
    }
    from_dir(dir)
}

/// Reads a profile folder.
pub fn from_dir(dir: &Path) -> Result<Profile, String> {
    let version_file = dir.join("VERSION");
    let version = std::fs::read_to_string(&version_file)
        .map_err(|e| {
            format!(
                "{}: {e} (a profile folder holds a VERSION file)",
                version_file.display()
            )
        })?
        .trim()
        .to_owned();
    let name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string());
    let mut scenarios = Vec::new();
    for level in 1..=3u8 {
        let sub = dir.join(format!("level-{level}"));
        let Ok(entries) = std::fs::read_dir(&sub) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            scenarios.push(ProfileScenario::new(level, f, text));
        }
    }
    if scenarios.is_empty() {
        return Err(format!(
            "{}: no scenarios under level-1/, level-2/ or level-3/",
            dir.display()
        ));
    }
    Ok(Profile {
        name,
        version,
        scenarios,
    })
}
