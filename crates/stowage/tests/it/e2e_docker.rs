//! End to end with the docker CLI and engine: build, push, pull and run images,
//! pushes to unknown repositories, and manifest lists made with `docker manifest`.

use std::collections::BTreeMap;

use crate::clients::*;
use crate::support::*;

#[tokio::test]
async fn docker_push_pull_run_round_trip() {
    let s = TestServer::start().await;
    let docker = Docker::new();
    docker.login(&s).await;
    let repo = unique("e2e-docker");
    s.create_repo(&repo);
    let (local, built_id) = docker.build_busybox("hello from stowage").await;
    let remote = format!("{}/{repo}:v1", s.host());
    docker.tag(&local, &remote).await;

    let pushed = docker.push(&remote).await;
    assert_eq!(pushed, registry_digest(&s, &repo, "v1").await);
    assert_eq!(registry_tags(&s, &repo).await, ["v1"]);

    docker.rmi(&[&local, &remote]).await;
    assert!(
        !docker.has_image(&built_id).await,
        "the image is still in the engine after rmi"
    );
    docker.pull(&remote).await;
    assert_eq!(
        docker.image_id(&remote).await,
        built_id,
        "pulled image id differs from the built one"
    );
    assert_eq!(docker.run_image(&remote).await, "hello from stowage\n");
}

#[tokio::test]
async fn docker_push_to_a_missing_repository_fails_with_name_unknown() {
    let s = TestServer::start().await;
    let docker = Docker::new();
    docker.login(&s).await;
    let repo = unique("e2e-missing");
    let (local, _) = docker.build_busybox("never pushed").await;
    let remote = format!("{}/{repo}:v1", s.host());
    docker.tag(&local, &remote).await;

    let out = run(&mut docker.cmd(&["push", &remote])).await;
    assert!(
        !out.status.success(),
        "push to a missing repository succeeded: {}",
        describe(&out)
    );
    let text = describe(&out).to_lowercase();
    assert!(
        text.contains("name unknown"),
        "docker output does not say name unknown: {text}"
    );
    assert!(
        text.contains(&repo),
        "docker output does not name the repository: {text}"
    );
    let r = s.get(&format!("/v2/{repo}/tags/list")).send().await.unwrap();
    assert_eq!(r.status(), 404, "the failed push created the repository");
}

#[tokio::test]
async fn docker_manifest_list_push_and_pull() {
    let s = TestServer::start().await;
    let docker = Docker::new();
    docker.login(&s).await;
    let repo = unique("e2e-multi");
    s.create_repo(&repo);
    let remote = |tag: &str| format!("{}/{repo}:{tag}", s.host());
    let mut built = BTreeMap::new();
    for arch in ["amd64", "arm64"] {
        let (local, id) = docker.build_busybox(&format!("hello from {arch}")).await;
        docker.tag(&local, &remote(arch)).await;
        let digest = docker.push(&remote(arch)).await;
        docker.rmi(&[&local, &remote(arch)]).await;
        built.insert(arch, (id, digest));
    }

    // The engine builds amd64 only; the second image is labelled arm64 in the list.
    let list = remote("multi");
    docker
        .ok(&[
            "manifest",
            "create",
            "--insecure",
            &list,
            &remote("amd64"),
            &remote("arm64"),
        ])
        .await;
    docker
        .ok(&["manifest", "annotate", "--arch", "arm64", &list, &remote("arm64")])
        .await;
    let out = docker.ok(&["manifest", "push", "--insecure", "--purge", &list]).await;
    let list_digest = out
        .split_whitespace()
        .last()
        .expect("docker manifest push prints the digest")
        .to_string();

    let r = s
        .get(&format!("/v2/{repo}/manifests/multi"))
        .header("accept", DOCKER_LIST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], DOCKER_LIST);
    assert_eq!(r.headers()["docker-content-digest"], list_digest.as_str());
    let body: serde_json::Value = r.json().await.unwrap();
    let platforms: BTreeMap<&str, &str> = body["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| {
            (
                m["platform"]["architecture"].as_str().unwrap(),
                m["digest"].as_str().unwrap(),
            )
        })
        .collect();
    let expected: BTreeMap<&str, &str> = built.iter().map(|(arch, (_, d))| (*arch, d.as_str())).collect();
    assert_eq!(platforms, expected);

    docker.pull(&list).await;
    assert_eq!(
        docker.image_id(&list).await,
        built["amd64"].0,
        "pulling the list did not pick linux/amd64"
    );
    assert_eq!(docker.run_image(&list).await, "hello from amd64\n");
}

/// `docker login` with the password from `get-login-password`, then an
/// overwrite of an immutable tag fails with ECR's TAG_INVALID message.
#[tokio::test]
async fn docker_cannot_overwrite_an_immutable_tag() {
    let s = TestServer::start().await;
    let docker = Docker::new();
    docker.login(&s).await;
    let repo = unique("e2e-frozen");
    let out = s.admin(&["repo", "create", &repo, "--image-tag-mutability", "IMMUTABLE"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let remote = format!("{}/{repo}:v1", s.host());
    let (first, _) = docker.build_busybox("first").await;
    docker.tag(&first, &remote).await;
    let pushed = docker.push(&remote).await;
    let (second, _) = docker.build_busybox("second").await;
    docker.tag(&second, &remote).await;
    let out = run(&mut docker.cmd(&["push", &remote])).await;
    assert!(!out.status.success(), "overwrite succeeded: {}", describe(&out));
    let text = describe(&out);
    assert!(
        text.contains(&format!(
            "tag invalid: The image tag 'v1' already exists in the '{repo}' repository and cannot be overwritten because the tag is immutable."
        )),
        "{text}"
    );
    assert_eq!(registry_digest(&s, &repo, "v1").await, pushed, "the tag moved");
    docker.rmi(&[&first, &second, &remote]).await;
}
