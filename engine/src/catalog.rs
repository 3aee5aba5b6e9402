//! Catalog mastership: which system owns each catalog field the engine
//! syncs. A merchant usually prices at the register and lets the web follow
//! (`price = pos`), or runs the catalog from the online admin (`shop`), or
//! lets either side change it (`both`, the last change wins). A change on
//! the master side travels to the other; a change on the non-master side is
//! a conflict: the engine reports it (a `catalog_conflict` sync error and the
//! `catalog_conflicts` counter of `/status`) and puts the master's value back.
//!
//! Titles are not synced (a register's short name and a web title differ on
//! purpose), and product status is the shop's alone (the POS has none).

use std::fmt;
use std::str::FromStr;

use crate::config::ParseError;

/// The system that owns one catalog field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Master {
    /// Either side may change it; the latest change wins.
    #[default]
    Both,
    /// The shop owns it: the POS follows, and POS edits are conflicts.
    Shop,
    /// The POS owns it: the shop follows, and shop edits are conflicts.
    Pos,
}

impl Master {
    /// Its name in flags and scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Master::Both => "both",
            Master::Shop => "shop",
            Master::Pos => "pos",
        }
    }

    /// Whether a change made on `side` (`shop` or `pos`) is the master's.
    pub fn accepts(self, side: Master) -> bool {
        self == Master::Both || self == side
    }
}

impl fmt::Display for Master {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Master {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "both" => Ok(Master::Both),
            "shop" => Ok(Master::Shop),
            "pos" => Ok(Master::Pos),
            _ => Err(ParseError::new(
                "catalog master",
                s,
                "`shop`, `pos` or `both`",
            )),
        }
    }
}

/// The master of each synced catalog field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CatalogMaster {
    /// The unit price.
    pub price: Master,
    /// The tax code.
    pub tax_code: Master,
}

impl FromStr for CatalogMaster {
    type Err = ParseError;
    /// `price=pos,tax_code=shop` (fields left out are `both`; empty is all `both`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut m = CatalogMaster::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let err = || {
                ParseError::new(
                    "catalog master setting",
                    part,
                    "`price=<master>` or `tax_code=<master>`",
                )
            };
            let (field, master) = part.split_once('=').ok_or_else(err)?;
            let master: Master = master.trim().parse()?;
            match field.trim() {
                "price" => m.price = master,
                "tax_code" => m.tax_code = master,
                _ => return Err(err()),
            }
        }
        Ok(m)
    }
}

impl fmt::Display for CatalogMaster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "price={},tax_code={}", self.price, self.tax_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_default_to_both() {
        let m: CatalogMaster = "price=pos".parse().unwrap();
        assert_eq!(m.price, Master::Pos);
        assert_eq!(m.tax_code, Master::Both);
        assert_eq!(m.to_string().parse::<CatalogMaster>(), Ok(m));
        assert_eq!("".parse::<CatalogMaster>(), Ok(CatalogMaster::default()));
        assert!("title=pos".parse::<CatalogMaster>().is_err());
        assert!("price=erp".parse::<CatalogMaster>().is_err());
        assert!(Master::Pos.accepts(Master::Pos));
        assert!(!Master::Pos.accepts(Master::Shop));
        assert!(Master::Both.accepts(Master::Shop));
    }
}
