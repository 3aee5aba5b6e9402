//! Locations, for the platforms that have them (shop and pos). Ids are the
//! shared keys across platforms, and a write naming an unknown location fails
//! with 404 `unknown_location`: it never creates one silently.

use std::collections::BTreeMap;

use omnisim_api::common::{CreateLocation, Location, LocationKind};

use crate::error::{SimError, SimResult};

/// The locations of one platform, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Locations {
    by_id: BTreeMap<String, Location>,
}

impl Locations {
    /// Locations built from `(id, name, kind)` triples.
    pub fn with(defaults: &[(&str, &str, LocationKind)]) -> Self {
        let by_id = defaults
            .iter()
            .map(|(id, name, kind)| {
                let loc = Location {
                    id: (*id).to_owned(),
                    name: (*name).to_owned(),
                    kind: *kind,
                };
                ((*id).to_owned(), loc)
            })
            .collect();
        Locations { by_id }
    }

    /// Fails with 404 `unknown_location` naming `field` unless `id` exists.
    pub fn require(&self, field: &str, id: &str) -> SimResult<&Location> {
        self.by_id
            .get(id)
            .ok_or_else(|| SimError::unknown_location(field, id))
    }

    /// True when `id` exists.
    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// Adds a location. Re-creating an identical one is a no-op; a different
    /// one under the same id is 409 `location_exists`.
    pub fn create(&mut self, req: CreateLocation) -> SimResult<Location> {
        if req.id.is_empty()
            || req.id.len() > 64
            || !req
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(SimError::bad_value(
                "id",
                "a location id is 1 to 64 letters, digits, `-` or `_`",
            ));
        }
        if req.name.trim().is_empty() {
            return Err(SimError::bad_value("name", "a location needs a name"));
        }
        let loc = Location {
            id: req.id,
            name: req.name,
            kind: req.kind,
        };
        match self.by_id.get(&loc.id) {
            Some(existing) if *existing == loc => Ok(loc),
            Some(_) => Err(SimError::conflict(
                "location_exists",
                format!("location `{}` exists with other details", loc.id),
            )
            .field("id")),
            None => {
                self.by_id.insert(loc.id.clone(), loc.clone());
                Ok(loc)
            }
        }
    }

    /// Every location, by id.
    pub fn list(&self) -> Vec<Location> {
        self.by_id.values().cloned().collect()
    }

    /// Location ids, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }
}
