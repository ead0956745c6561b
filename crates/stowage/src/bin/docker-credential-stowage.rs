//! `docker-credential-stowage`: a Docker credential helper for Stowage
//! registries. Put it on `PATH` and name it in `~/.docker/config.json`:
//! `{"credHelpers": {"registry.example.com:5000": "stowage"}}`; docker then
//! runs `docker-credential-stowage get` and gets a fresh registry password
//! from `GetAuthorizationToken`, signed with the standard AWS credentials.
//! See [`stowage::credential_helper`].

use std::io::Write as _;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env = |name: &str| std::env::var(name).ok();
    let code = stowage::credential_helper::run(
        &args,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
        &env,
    );
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
