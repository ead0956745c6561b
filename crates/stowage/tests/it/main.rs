//! Stowage's integration tests: one binary, modules per area. Each test starts
//! the real `stowage` binary on a random loopback port with a temp data dir and
//! talks HTTP to it; tests that need PostgreSQL, Docker, containerd or skopeo use
//! the services `scripts/test` starts (see `support`); `cluster` runs several
//! nodes on one PostgreSQL database and the test S3 bucket.

mod aws_cli;
mod private_postgres;
mod support;

mod clients;
mod e2e_containerd;
mod e2e_credential_helper;
mod e2e_docker;
mod e2e_skopeo;

mod registry_blobs;
mod registry_manifests;
mod registry_ops;
mod registry_uploads;

mod authz;
mod console;
mod ecr_boto3;
mod ecr_cli;
mod ecr_public;

mod audit;
mod gc;
mod iam;
mod lifecycle;

mod encryption;
mod kms;
mod master_key;
mod sbom;
mod scanning;
mod tls;
mod vulndb;

mod bootstrap;
mod cluster;
