//! Encryption at rest: no plaintext on disk, tamper detection, disabled and deleted keys.
