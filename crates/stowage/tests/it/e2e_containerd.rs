//! End to end with containerd's `ctr`: pulling an image docker pushed.

use tokio::process::Command;

use crate::clients::*;
use crate::support::*;

/// `ctr` on the test containerd, in a namespace of its own that is emptied and
/// removed on drop.
struct Ctr {
    bin: String,
    address: String,
    namespace: String,
}

impl Ctr {
    fn new() -> Ctr {
        Ctr {
            bin: require_env("STOWAGE_TEST_CTR"),
            address: require_env("STOWAGE_TEST_CONTAINERD_ADDRESS"),
            namespace: unique("stowage-test"),
        }
    }

    fn global_args(&self) -> [&str; 4] {
        ["--address", &self.address, "--namespace", &self.namespace]
    }

    async fn ok(&self, args: &[&str]) -> String {
        run_ok(Command::new(&self.bin).args(self.global_args()).args(args)).await
    }

    /// The digest `ctr image ls` shows for a reference.
    async fn listed_digest(&self, reference: &str) -> String {
        let out = self.ok(&["image", "ls"]).await;
        // Columns: REF TYPE DIGEST SIZE PLATFORMS LABELS
        out.lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .find(|cols| cols.first() == Some(&reference))
            .and_then(|cols| cols.get(2).map(|d| d.to_string()))
            .unwrap_or_else(|| panic!("{reference} is not in ctr image ls:\n{out}"))
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let ctr = |args: &[&str]| {
            std::process::Command::new(&self.bin)
                .args(self.global_args())
                .args(args)
                .stderr(std::process::Stdio::null())
                .output()
        };
        // Best effort: images first (--sync drops their content and snapshots),
        // then the namespace, which containerd only removes when it is empty.
        if let Ok(out) = ctr(&["image", "ls", "--quiet"]) {
            let refs = String::from_utf8_lossy(&out.stdout).into_owned();
            let refs: Vec<&str> = refs.lines().collect();
            if !refs.is_empty() {
                let _ = ctr(&[&["image", "rm", "--sync"], refs.as_slice()].concat());
            }
        }
        let _ = ctr(&["namespaces", "rm", &self.namespace]);
    }
}

#[tokio::test]
async fn containerd_pulls_a_docker_pushed_image() {
    let s = TestServer::start().await;
    let docker = Docker::new();
    docker.login(&s).await;
    let repo = unique("e2e-ctr");
    s.create_repo(&repo);
    let (local, _) = docker.build_busybox("hello from stowage").await;
    let remote = format!("{}/{repo}:v1", s.host());
    docker.tag(&local, &remote).await;
    docker.push(&remote).await;
    let digest = registry_digest(&s, &repo, "v1").await;

    let ctr = Ctr::new();
    let user = format!("AWS:{}", s.password);
    ctr.ok(&["image", "pull", "--plain-http", "--user", &user, &remote])
        .await;
    assert_eq!(ctr.listed_digest(&remote).await, digest);
}
