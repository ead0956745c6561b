//! `stowage scan sbom`: an image's package inventory (its last scan's, else
//! read from its layers now) as a CycloneDX JSON SBOM.

use std::io::Write;

use anyhow::{Context, bail};
use stowage_core::Digest;
use stowage_server::AppState;
use stowage_server::services::repositories;
use stowage_server::services::scans::{self, image};

/// `stowage scan …`.
#[derive(clap::Subcommand)]
pub enum ScanCommand {
    /// Print an image's packages as a CycloneDX 1.5 JSON SBOM on stdout.
    ///
    /// The inventory is the one the image's last scan stored, else it is read
    /// from the image's layers now (which can take a while for a large image).
    Sbom(SbomArgs),
}

/// Which image `scan sbom` describes.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("image").required(true).args(["image_tag", "image_digest"])))]
pub struct SbomArgs {
    /// Repository name, e.g. `team/app`.
    #[arg(long)]
    pub repository: String,
    /// The image's tag.
    #[arg(long)]
    pub image_tag: Option<String>,
    /// The image's manifest digest (`sha256:…`).
    #[arg(long)]
    pub image_digest: Option<String>,
}

/// Runs a scan subcommand, printing to `out`.
pub async fn execute(state: &AppState, command: ScanCommand, out: &mut impl Write) -> anyhow::Result<()> {
    match command {
        ScanCommand::Sbom(args) => {
            let bom = sbom(state, &args).await?;
            writeln!(out, "{}", serde_json::to_string_pretty(&bom)?)?;
        }
    }
    Ok(())
}

/// The CycloneDX document of the image `args` names.
async fn sbom(state: &AppState, args: &SbomArgs) -> anyhow::Result<serde_json::Value> {
    let name = &args.repository;
    let repo = repositories::lookup(state, &state.config.account_id, name)
        .await?
        .with_context(|| format!("repository '{name}' does not exist"))?;
    let digest = match (&args.image_tag, &args.image_digest) {
        (Some(tag), _) => state
            .meta
            .tag_digest(repo.id, tag)
            .await?
            .with_context(|| format!("image tag '{tag}' not found in repository '{name}'"))?,
        (None, Some(d)) => d
            .parse::<Digest>()
            .map_err(|e| anyhow::anyhow!("invalid image digest '{d}': {e}"))?,
        (None, None) => bail!("give --image-tag or --image-digest"),
    };
    let not_found = || format!("image '{digest}' not found in repository '{name}'");
    let record = state
        .meta
        .images_by_digest(repo.id, &[digest])
        .await?
        .into_iter()
        .next()
        .with_context(not_found)?;
    let manifest = image::load_manifest(state, &repo, &digest)
        .await
        .with_context(|| format!("reading the manifest of '{digest}'"))?
        .with_context(not_found)?;
    if manifest.media_type.is_index() {
        let children: Vec<String> = manifest.manifests.iter().map(|m| m.digest.to_string()).collect();
        bail!(
            "image '{digest}' is an index: ask for one of its images ({})",
            children.join(", ")
        );
    }
    let inventory = scans::inventory_of(state, &repo, &digest)
        .await
        .with_context(|| format!("reading the packages of image '{digest}'"))?
        .with_context(not_found)?;
    let image_ref = stowage_scan::sbom::ImageRef {
        registry: state.config.registry_host().to_string(),
        repository: repo.name.clone(),
        digest: digest.to_string(),
        tags: record.tags,
        layers: manifest.layers.iter().map(|l| l.digest.to_string()).collect(),
    };
    Ok(stowage_scan::sbom::cyclonedx(&inventory, &image_ref))
}
