//! Business rules, callable without HTTP: the registry API (and later the ECR
//! API and the console) call these.

pub mod manifests;
pub mod uploads;
