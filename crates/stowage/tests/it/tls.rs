//! HTTPS serving: docker, the AWS CLI and certificate reload.
