//! Admin subcommands that have more to them than a call and a print.

pub mod account;
pub mod audit;
pub mod iam;
pub mod lifecycle;
pub mod scan;
pub mod vulndb;
