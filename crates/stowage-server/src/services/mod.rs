//! Business rules, callable without HTTP: the registry API (and later the ECR
//! API and the console) call these.

pub mod audit;
pub mod authz;
pub mod console_passwords;
pub mod credentials;
pub mod downloads;
pub mod encryption;
pub mod gc;
pub mod iam;
pub mod kms;
pub mod lifecycle;
pub mod manifests;
pub mod policies;
pub mod pulls;
pub mod repositories;
pub mod scans;
pub mod tag_cache;
pub mod tokens;
pub mod ttl_cache;
pub mod uploads;
pub mod vulndb;
