//! An image's [`Inventory`] as a CycloneDX 1.5 JSON SBOM: the image as the
//! BOM's subject, its OS, and one `library` component per package.
//!
//! The document is a function of its inputs: no timestamp, components in a
//! fixed order, and a serial number hashed from the rest of the document, so
//! the same image and inventory always give the same bytes.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::catalog::{Inventory, Os, Package, PackageKind};

/// The CycloneDX version written.
pub const SPEC_VERSION: &str = "1.5";

/// The image an inventory is of, as the SBOM names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRef {
    /// `host[:port]` of the registry (`repository_url` is `<registry>/<repository>`).
    pub registry: String,
    /// The repository name (`team/app`).
    pub repository: String,
    /// The manifest digest (`sha256:<hex>`).
    pub digest: String,
    /// The tags pointing at the image (any order; written sorted).
    pub tags: Vec<String>,
    /// The layer digests in manifest order ([`Package::layer`] indexes them).
    pub layers: Vec<String>,
}

/// The CycloneDX JSON document of an image's inventory.
pub fn cyclonedx(inventory: &Inventory, image: &ImageRef) -> Value {
    let image_purl = oci_purl(image);
    let mut tags: Vec<&str> = image.tags.iter().map(String::as_str).collect();
    tags.sort_unstable();
    tags.dedup();
    let mut image_props = vec![
        prop("stowage:registry", &image.registry),
        prop("stowage:repository", &image.repository),
    ];
    image_props.extend(tags.iter().map(|t| prop("stowage:tag", t)));
    image_props.extend(image.layers.iter().map(|l| prop("stowage:layer_digest", l)));

    let mut components = Vec::with_capacity(inventory.packages.len() + 1);
    if let Some(os) = &inventory.os {
        components.push(os_component(os));
    }
    let mut packages: Vec<&Package> = inventory.packages.iter().collect();
    packages.sort_by(|a, b| {
        (&a.ecosystem, &a.name, &a.version, &a.path, &a.purl, a.layer).cmp(&(
            &b.ecosystem,
            &b.name,
            &b.version,
            &b.path,
            &b.purl,
            b.layer,
        ))
    });
    let mut refs = HashSet::new();
    for p in packages {
        components.push(package_component(p, image, &mut refs));
    }

    let mut bom = json!({
        "$schema": format!("http://cyclonedx.org/schema/bom-{SPEC_VERSION}.schema.json"),
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": {
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "Stowage",
                    "version": env!("CARGO_PKG_VERSION"),
                }],
            },
            "component": {
                "type": "container",
                "bom-ref": image_purl,
                "name": image.repository,
                "version": image.digest,
                "purl": image_purl,
                "properties": image_props,
            },
        },
        "components": components,
    });
    let serial = serial_number(&bom.to_string());
    bom["serialNumber"] = json!(serial);
    bom
}

fn prop(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

/// `pkg:oci/<last name segment>@sha256%3A…?repository_url=<registry>/<repository>`.
fn oci_purl(image: &ImageRef) -> String {
    let name = image.repository.rsplit('/').next().unwrap_or_default().to_lowercase();
    let repository_url = format!("{}/{}", image.registry, image.repository).to_lowercase();
    format!(
        "pkg:oci/{}@{}?repository_url={}",
        encode(&name, ""),
        encode(&image.digest, ""),
        encode(&repository_url, "/:")
    )
}

/// Percent-encodes all but `A–Z a–z 0–9 . - _ ~` and the bytes in `keep`.
fn encode(s: &str, keep: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') || keep.as_bytes().contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn os_component(os: &Os) -> Value {
    let version = os.version_id.as_deref().unwrap_or_default();
    let mut c = json!({
        "type": "operating-system",
        "bom-ref": format!("os:{}@{version}", os.id),
        "name": os.id,
    });
    if !version.is_empty() {
        c["version"] = json!(version);
    }
    if let Some(pretty) = &os.pretty_name {
        c["description"] = json!(pretty);
    }
    let mut props = Vec::new();
    if let Some(ecosystem) = &os.ecosystem {
        props.push(prop("stowage:ecosystem", ecosystem));
    }
    if let Some(codename) = &os.codename {
        props.push(prop("stowage:codename", codename));
    }
    props.push(prop("stowage:path", &os.source));
    c["properties"] = json!(props);
    c
}

fn package_component(p: &Package, image: &ImageRef, refs: &mut HashSet<String>) -> Value {
    // The purl, unless taken (the same package installed twice): then the path tells them apart.
    let mut bom_ref = p.purl.clone();
    let mut n = 1;
    while !refs.insert(bom_ref.clone()) {
        n += 1;
        bom_ref = if n == 2 {
            format!("{}#{}", p.purl, p.path)
        } else {
            format!("{}#{}#{n}", p.purl, p.path)
        };
    }
    // Maven's `groupId:artifactId` and npm's `@scope/name` have a CycloneDX group.
    let shown = if p.display_name.is_empty() {
        &p.name
    } else {
        &p.display_name
    };
    let split = match p.kind {
        PackageKind::Maven => shown.split_once(':'),
        PackageKind::Npm if shown.starts_with('@') => shown.split_once('/'),
        _ => None,
    };
    let (group, name) = split.map_or((None, shown.as_str()), |(g, n)| (Some(g), n));
    let kind = serde_json::to_value(p.kind).ok();
    let mut props = vec![prop("stowage:ecosystem", &p.ecosystem)];
    if let Some(kind) = kind.as_ref().and_then(Value::as_str) {
        props.push(prop("stowage:package_type", kind));
    }
    props.push(prop("stowage:path", &p.path));
    props.push(prop("stowage:layer_index", &p.layer.to_string()));
    if let Some(digest) = image.layers.get(p.layer) {
        props.push(prop("stowage:layer_digest", digest));
    }
    if let Some(source) = &p.source_name {
        props.push(prop("stowage:source_name", source));
    }
    if let Some(version) = &p.source_version {
        props.push(prop("stowage:source_version", version));
    }
    let mut c = json!({
        "type": "library",
        "bom-ref": bom_ref,
        "name": name,
        "version": p.version,
        "purl": p.purl,
        "properties": props,
    });
    if let Some(group) = group {
        c["group"] = json!(group);
    }
    c
}

/// `urn:uuid:` of a 128-bit FNV-1a hash of `text`, marked as an RFC 4122
/// name-based (version 5) UUID; stable, not cryptographic.
fn serial_number(text: &str) -> String {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut h = OFFSET;
    for b in text.bytes().chain((text.len() as u64).to_le_bytes()) {
        h ^= u128::from(b);
        h = h.wrapping_mul(PRIME);
    }
    let mut b = h.to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::image_inventory;
    use crate::layers::tests::{LayerBuilder, gzip, index, real_debian_base, real_site_packages};

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const LAYER0: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const LAYER1: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn image() -> ImageRef {
        ImageRef {
            registry: "127.0.0.1:5000".into(),
            repository: "team/app".into(),
            digest: DIGEST.into(),
            tags: vec!["v2".into(), "latest".into()],
            layers: vec![LAYER0.into(), LAYER1.into()],
        }
    }

    fn package(kind: PackageKind, name: &str, version: &str, ecosystem: &str, purl: &str, layer: usize) -> Package {
        let os = matches!(kind, PackageKind::Deb | PackageKind::Apk | PackageKind::Rpm);
        Package {
            kind,
            name: name.to_lowercase(),
            display_name: name.into(),
            version: version.into(),
            source_name: os.then(|| format!("{name}-src")),
            source_version: os.then(|| version.into()),
            ecosystem: ecosystem.into(),
            purl: purl.into(),
            path: "var/lib/dpkg/status".into(),
            layer,
        }
    }

    fn inventory() -> Inventory {
        Inventory {
            os: Some(Os {
                id: "debian".into(),
                version_id: Some("12".into()),
                codename: Some("bookworm".into()),
                pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
                ecosystem: Some("Debian:12".into()),
                source: "etc/os-release".into(),
            }),
            packages: vec![
                package(
                    PackageKind::Deb,
                    "libc6",
                    "2.36-9+deb12u4",
                    "Debian:12",
                    "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc",
                    0,
                ),
                package(
                    PackageKind::Python,
                    "PyYAML",
                    "6.0.1",
                    "PyPI",
                    "pkg:pypi/pyyaml@6.0.1",
                    1,
                ),
                package(
                    PackageKind::Maven,
                    "org.slf4j:slf4j-api",
                    "2.0.9",
                    "Maven",
                    "pkg:maven/org.slf4j/slf4j-api@2.0.9",
                    1,
                ),
                package(
                    PackageKind::Npm,
                    "@scope/pkg",
                    "1.0.0",
                    "npm",
                    "pkg:npm/%40scope/pkg@1.0.0",
                    7,
                ),
            ],
        }
    }

    fn props(c: &Value, name: &str) -> Vec<String> {
        c["properties"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == name)
            .map(|p| p["value"].as_str().unwrap().to_owned())
            .collect()
    }

    fn component<'a>(bom: &'a Value, purl: &str) -> &'a Value {
        let found: Vec<&Value> = bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["purl"] == purl)
            .collect();
        assert_eq!(found.len(), 1, "{purl} in {bom:#}");
        found[0]
    }

    fn is_uuid_urn(s: &str) -> bool {
        let Some(uuid) = s.strip_prefix("urn:uuid:") else {
            return false;
        };
        let groups: Vec<&str> = uuid.split('-').collect();
        groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|g| g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            && groups[2].starts_with('5')
            && matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b')
    }

    #[test]
    fn structure() {
        let bom = cyclonedx(&inventory(), &image());
        assert_eq!(bom["bomFormat"], "CycloneDX");
        assert_eq!(bom["specVersion"], "1.5");
        assert_eq!(bom["version"], 1);
        assert!(
            is_uuid_urn(bom["serialNumber"].as_str().unwrap()),
            "{}",
            bom["serialNumber"]
        );
        assert!(bom["metadata"].get("timestamp").is_none());
        assert_eq!(bom["metadata"]["tools"]["components"][0]["name"], "Stowage");

        let subject = &bom["metadata"]["component"];
        let image_purl = format!(
            "pkg:oci/app@sha256%3A{}?repository_url=127.0.0.1:5000/team/app",
            DIGEST.strip_prefix("sha256:").unwrap()
        );
        assert_eq!(subject["type"], "container");
        assert_eq!(subject["name"], "team/app");
        assert_eq!(subject["version"], DIGEST);
        assert_eq!(subject["purl"], image_purl.as_str());
        assert_eq!(subject["bom-ref"], image_purl.as_str());
        assert_eq!(props(subject, "stowage:tag"), ["latest", "v2"]);
        assert_eq!(props(subject, "stowage:layer_digest"), [LAYER0, LAYER1]);

        let components = bom["components"].as_array().unwrap();
        assert_eq!(components.len(), 5);
        let os = &components[0];
        assert_eq!(os["type"], "operating-system");
        assert_eq!(os["name"], "debian");
        assert_eq!(os["version"], "12");
        assert_eq!(os["description"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(props(os, "stowage:ecosystem"), ["Debian:12"]);
        assert_eq!(props(os, "stowage:path"), ["etc/os-release"]);

        let libc = component(
            &bom,
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc",
        );
        assert_eq!(libc["type"], "library");
        assert_eq!(libc["bom-ref"], libc["purl"]);
        assert_eq!(libc["name"], "libc6");
        assert_eq!(libc["version"], "2.36-9+deb12u4");
        assert_eq!(props(libc, "stowage:source_name"), ["libc6-src"]);
        assert_eq!(props(libc, "stowage:source_version"), ["2.36-9+deb12u4"]);
        assert_eq!(props(libc, "stowage:package_type"), ["deb"]);
        assert_eq!(props(libc, "stowage:path"), ["var/lib/dpkg/status"]);
        assert_eq!(props(libc, "stowage:layer_index"), ["0"]);
        assert_eq!(props(libc, "stowage:layer_digest"), [LAYER0]);

        let yaml = component(&bom, "pkg:pypi/pyyaml@6.0.1");
        assert_eq!(yaml["name"], "PyYAML");
        assert!(yaml.get("group").is_none());
        assert!(props(yaml, "stowage:source_name").is_empty());
        assert_eq!(props(yaml, "stowage:layer_digest"), [LAYER1]);

        let slf4j = component(&bom, "pkg:maven/org.slf4j/slf4j-api@2.0.9");
        assert_eq!(
            (&slf4j["group"], &slf4j["name"]),
            (&json!("org.slf4j"), &json!("slf4j-api"))
        );
        // A layer index the image does not have: the index, no digest.
        let npm = component(&bom, "pkg:npm/%40scope/pkg@1.0.0");
        assert_eq!((&npm["group"], &npm["name"]), (&json!("@scope"), &json!("pkg")));
        assert_eq!(props(npm, "stowage:layer_index"), ["7"]);
        assert!(props(npm, "stowage:layer_digest").is_empty());
    }

    #[test]
    fn without_os_or_packages() {
        let bom = cyclonedx(&Inventory::default(), &ImageRef::default());
        assert_eq!(bom["components"], json!([]));
        assert!(is_uuid_urn(bom["serialNumber"].as_str().unwrap()));
        let os = Os {
            id: "wolfi".into(),
            version_id: None,
            codename: None,
            pretty_name: None,
            ecosystem: Some("Wolfi".into()),
            source: "etc/os-release".into(),
        };
        let bom = cyclonedx(
            &Inventory {
                os: Some(os),
                packages: vec![],
            },
            &image(),
        );
        let c = &bom["components"][0];
        assert_eq!((&c["type"], &c["name"]), (&json!("operating-system"), &json!("wolfi")));
        assert!(c.get("version").is_none());
    }

    #[test]
    fn escaping_and_order() {
        let mut inv = inventory();
        let odd = "we\"ird\\name\u{e9}\n<&>";
        inv.packages.push(package(
            PackageKind::Python,
            odd,
            "1.0",
            "PyPI",
            "pkg:pypi/weird@1.0",
            0,
        ));
        let img = ImageRef {
            registry: "Registry.Example:8443".into(),
            repository: "Team/deep/App+x".into(),
            ..image()
        };
        let bom = cyclonedx(&inv, &img);
        // Serialized and read back: the strings survive JSON escaping.
        let text = serde_json::to_string_pretty(&bom).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, bom);
        assert_eq!(component(&back, "pkg:pypi/weird@1.0")["name"], odd);
        assert!(text.contains(r#"we\"ird\\name"#), "{text}");
        // The image purl: lowercase name and URL, `+` and the digest's `:` encoded.
        let purl = back["metadata"]["component"]["purl"].as_str().unwrap();
        assert!(purl.starts_with("pkg:oci/app%2Bx@sha256%3A0123"), "{purl}");
        assert!(
            purl.ends_with("?repository_url=registry.example:8443/team/deep/app%2Bx"),
            "{purl}"
        );

        // Packages in (ecosystem, name, version, path) order, the OS first,
        // whatever order the inventory had them in.
        let names = |bom: &Value| -> Vec<String> {
            bom["components"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["bom-ref"].as_str().unwrap().to_owned())
                .collect()
        };
        let expected = names(&bom);
        assert!(expected[0].starts_with("os:debian@12"));
        let ecosystems: Vec<String> = bom["components"].as_array().unwrap()[1..]
            .iter()
            .map(|c| props(c, "stowage:ecosystem")[0].clone())
            .collect();
        assert!(ecosystems.is_sorted(), "{ecosystems:?}");
        inv.packages.reverse();
        assert_eq!(names(&cyclonedx(&inv, &img)), expected);
        inv.packages.rotate_left(2);
        assert_eq!(cyclonedx(&inv, &img), bom);
    }

    #[test]
    fn deterministic() {
        let a = cyclonedx(&inventory(), &image());
        let b = cyclonedx(&inventory(), &image());
        assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        // Tags in another order: the same document.
        let mut img = image();
        img.tags.reverse();
        assert_eq!(cyclonedx(&inventory(), &img), a);

        // Any change to what the document says gives another serial number.
        let serial = |bom: &Value| bom["serialNumber"].as_str().unwrap().to_owned();
        let mut other = inventory();
        other.packages[1].version = "6.0.2".into();
        let mut other_image = image();
        other_image.digest = DIGEST.replace("0123", "3210");
        let mut tagged = image();
        tagged.tags.push("v3".into());
        let serials: HashSet<String> = [
            serial(&a),
            serial(&cyclonedx(&other, &image())),
            serial(&cyclonedx(&inventory(), &other_image)),
            serial(&cyclonedx(&inventory(), &tagged)),
            serial(&cyclonedx(&Inventory::default(), &image())),
        ]
        .into();
        assert_eq!(serials.len(), 5);
    }

    #[test]
    fn the_same_purl_twice_gets_distinct_refs() {
        let mut inv = inventory();
        let mut copy = inv.packages[1].clone();
        copy.path = "opt/venv/lib/python3.11/site-packages/PyYAML-6.0.1.dist-info/METADATA".into();
        inv.packages.push(copy.clone());
        copy.layer = 0;
        inv.packages.push(copy);
        let bom = cyclonedx(&inv, &image());
        let refs: Vec<&str> = bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["bom-ref"].as_str().unwrap())
            .collect();
        assert_eq!(refs.iter().collect::<HashSet<_>>().len(), refs.len(), "{refs:?}");
        let yaml: Vec<&&str> = refs.iter().filter(|r| r.starts_with("pkg:pypi/pyyaml@6.0.1")).collect();
        assert_eq!(yaml.len(), 3, "{refs:?}");
    }

    /// A Debian layer (this machine's os-release and dpkg status) with Python
    /// packages on top, indexed and cataloged, then written as a BOM.
    #[test]
    fn a_real_debian_and_python_image() {
        let base = gzip(&real_debian_base().tar());
        let mut top = LayerBuilder::new();
        let site = "usr/local/lib/python3.11/site-packages";
        top.file(
            &format!("{site}/Flask_Cors-4.0.1.dist-info/METADATA"),
            b"Metadata-Version: 2.1\nName: Flask-Cors\nVersion: 4.0.1\n",
        );
        let real = real_site_packages().map_or(0, |sp| {
            top.real_tree(&sp, "opt/venv/lib/python3.11/site-packages", &|p| {
                p.file_name().is_some_and(|n| n == "METADATA")
                    && p.parent()
                        .and_then(|d| d.file_name())
                        .is_some_and(|d| d.to_string_lossy().ends_with(".dist-info"))
            })
        });
        let layers = [index(&base), index(&gzip(&top.tar()))];
        let inv = image_inventory(&layers);
        let bom = cyclonedx(&inv, &image());

        let os = &bom["components"][0];
        assert_eq!(os["type"], "operating-system");
        assert_eq!(os["name"], inv.os.as_ref().unwrap().id.as_str());
        let debs: Vec<&Package> = inv.packages.iter().filter(|p| p.kind == PackageKind::Deb).collect();
        let pythons = inv.packages.iter().filter(|p| p.kind == PackageKind::Python).count();
        assert!(debs.len() > 10, "{} dpkg packages", debs.len());
        // Flask-Cors, and the real ones (when this machine has a pyenv site-packages).
        assert!(
            pythons > usize::from(real > 0),
            "{pythons} Python packages from {real} METADATA files"
        );
        assert_eq!(bom["components"].as_array().unwrap().len(), inv.packages.len() + 1);

        for p in &inv.packages {
            let c = component(&bom, &p.purl);
            assert_eq!(c["version"], p.version.as_str());
            assert_eq!(props(c, "stowage:path"), [p.path.as_str()]);
            assert_eq!(props(c, "stowage:layer_digest"), [image().layers[p.layer].as_str()]);
            if p.kind == PackageKind::Deb {
                assert!(p.purl.starts_with("pkg:deb/debian/"), "{}", p.purl);
                assert_eq!(props(c, "stowage:layer_digest"), [LAYER0]);
                assert_eq!(props(c, "stowage:source_name"), [p.source_name.as_deref().unwrap()]);
            }
        }
        let libc = debs.iter().find(|p| p.name == "libc6").expect("libc6 is installed");
        assert_eq!(props(component(&bom, &libc.purl), "stowage:source_name"), ["glibc"]);
        let cors = component(&bom, "pkg:pypi/flask-cors@4.0.1");
        assert_eq!(
            (&cors["name"], &cors["version"]),
            (&json!("Flask-Cors"), &json!("4.0.1"))
        );
        assert_eq!(props(cors, "stowage:layer_digest"), [LAYER1]);
    }
}
