#!/usr/bin/env python3
"""scripts/scan-expected.py — the PyPI findings an image's filesystem should have.

Usage:
  scripts/scan-expected.py ROOTFS_DIR ADVISORY_PATH...

An oracle for the end-to-end scanning tests, written without looking at
Stowage's Rust code: it reads an image's FINAL filesystem (e.g. `docker export`
of a container, untarred, so that Docker itself has applied the layers'
whiteouts), finds the installed Python distributions, evaluates the OSV
advisories under each ADVISORY_PATH (files or directories, `.json`, `.yaml`,
`.yml`; when several records share an id, the one with the latest `modified`
wins) against them, and prints one JSON array, sorted, of

  {"name", "id", "package_name", "package_version", "file_path", "fixed_in",
   "severity", "cvss_version", "cvss_score", "cvss_vector"}

where `name` is the advisory's first `CVE-` alias (else its id), `id` the
advisory's id, `package_name` the distribution's `Name:` as its metadata writes
it, `package_version` its `Version:`, `file_path` the metadata file relative
to ROOTFS_DIR (no leading `/`), `fixed_in` the lowest `fixed` event above the
version in the ranges that affect it (null without one), `severity` ECR's
level from the record's CVSS vector (see `severity()`; UNDEFINED without one),
`cvss_score` its base score with one decimal.

Installed distributions: in every directory named `site-packages` or
`dist-packages`, `<name>-<version>.dist-info/METADATA`,
`<name>-<version>.egg-info/PKG-INFO` and single-file `<name>.egg-info`, read as
Core Metadata (RFC 822 headers). Symlinks are not followed.

Matching follows the OSV schema's evaluation algorithm
(https://ossf.github.io/osv-schema/#evaluation): an `affected[]` entry applies
when its `package.ecosystem` is `PyPI` and its `package.name` equals the
distribution's name after PEP 503 normalization on both sides; the version is
affected when it equals one of `versions` (PEP 440 equality, falling back to the
exact string for a non-PEP 440 entry) or lies in an ECOSYSTEM (or SEMVER) range:
events sorted by version (`introduced: "0"` first), `introduced` at or below
the version sets affected, `fixed` at or below clears it, `last_affected` below
clears it, and with `limit` events the version must be below one of them.
GIT ranges are skipped (commits are not versions). Versions are compared with
`packaging.version` (the PEP 440 reference). Withdrawn advisories are skipped.

Needs PyYAML, packaging and cvss (all in the venv `scripts/test` sets up:
`$STOWAGE_TEST_PYTHON`).
"""

import datetime
import email.parser
import json
import os
import re
import sys

import yaml
from packaging.version import InvalidVersion, Version

PACKAGE_DIRS = ("site-packages", "dist-packages")


def warn(msg):
    print(f"scan-expected: {msg}", file=sys.stderr)


def normalize(name):
    """PEP 503: lowercase, runs of `-`, `_`, `.` become one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_metadata(path):
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8", errors="replace")
    headers = email.parser.HeaderParser().parsestr(text, headersonly=True)
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return None
    return name.strip(), version.strip()


def installed(root):
    """(name, version, path relative to root) of every Python distribution."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        if os.path.basename(dirpath) not in PACKAGE_DIRS:
            continue
        candidates = []
        for d in dirnames:
            full = os.path.join(dirpath, d)
            if os.path.islink(full):
                continue
            if d.endswith(".dist-info"):
                candidates.append(os.path.join(full, "METADATA"))
            elif d.endswith(".egg-info"):
                candidates.append(os.path.join(full, "PKG-INFO"))
        for f in filenames:
            full = os.path.join(dirpath, f)
            if f.endswith(".egg-info") and os.path.isfile(full) and not os.path.islink(full):
                candidates.append(full)
        for path in candidates:
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            meta = read_metadata(path)
            if meta is None:
                warn(f"{path}: no Name/Version")
                continue
            found.append((meta[0], meta[1], os.path.relpath(path, root)))
    return found


def load_advisories(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            for dirpath, _, filenames in os.walk(p):
                files.extend(os.path.join(dirpath, f) for f in filenames)
        else:
            files.append(p)
    advisories = []
    for f in sorted(files):
        if f.endswith(".json"):
            with open(f, encoding="utf-8") as h:
                advisories.append(json.load(h))
        elif f.endswith((".yaml", ".yml")):
            with open(f, encoding="utf-8") as h:
                advisories.append(yaml.safe_load(h))
    return advisories


def modified(adv):
    """An advisory's `modified` time (YAML may have parsed it already)."""
    m = adv.get("modified")
    if isinstance(m, datetime.datetime):
        return m if m.tzinfo else m.replace(tzinfo=datetime.timezone.utc)
    try:
        t = datetime.datetime.fromisoformat(str(m).replace("Z", "+00:00"))
        return t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)


def parse(v):
    try:
        return Version(v)
    except InvalidVersion:
        return None


def in_versions(version, parsed, versions):
    for v in versions or []:
        p = parse(str(v))
        if (p is not None and parsed is not None and p == parsed) or str(v) == version:
            return True
    return False


def in_range(parsed, events, advisory_id):
    """The OSV schema's evaluation of one range: (affected, the first `fixed`
    above the version when affected); None when a bound is not a version."""
    limits = [e["limit"] for e in events if "limit" in e]
    if limits:
        below = False
        for limit in limits:
            if "*" in str(limit):
                below = True
                continue
            p = parse(str(limit))
            if p is None:
                warn(f"{advisory_id}: limit {limit!r} is not a PEP 440 version; range skipped")
                return None
            if parsed < p:
                below = True
        if not below:
            return (False, None)
    keyed = []
    for e in events:
        kind = next((k for k in ("introduced", "fixed", "last_affected") if k in e), None)
        if kind is None:
            continue
        raw = str(e[kind])
        if kind == "introduced" and raw == "0":
            bound = None
        else:
            bound = parse(raw)
            if bound is None:
                warn(f"{advisory_id}: {kind} {raw!r} is not a PEP 440 version; range skipped")
                return None
        keyed.append((bound, kind, raw))
    # `introduced: "0"` sorts before every version.
    keyed.sort(key=lambda t: (t[0] is not None, t[0] if t[0] is not None else Version("0")))
    vulnerable = False
    for bound, kind, _ in keyed:
        if kind == "introduced" and (bound is None or parsed >= bound):
            vulnerable = True
        elif kind == "fixed" and parsed >= bound:
            vulnerable = False
        elif kind == "last_affected" and parsed > bound:
            vulnerable = False
    if not vulnerable:
        return (False, None)
    fix = next((raw for bound, kind, raw in keyed if kind == "fixed" and bound > parsed), None)
    return (True, fix)


def affects(affected, name, version, advisory_id):
    """None when `affected` does not apply to name/version, else the fixed
    version its ranges name (the lowest, None without one)."""
    pkg = affected.get("package") or {}
    if pkg.get("ecosystem") != "PyPI" or normalize(str(pkg.get("name", ""))) != normalize(name):
        return None
    parsed = parse(version)
    hit = in_versions(version, parsed, affected.get("versions"))
    fixes = []
    if parsed is None:
        warn(f"{name} {version}: not a PEP 440 version; only `versions` lists apply")
    else:
        for r in affected.get("ranges") or []:
            if r.get("type") not in ("ECOSYSTEM", "SEMVER"):
                continue
            result = in_range(parsed, r.get("events") or [], advisory_id)
            if result and result[0]:
                hit = True
                if result[1] is not None:
                    fixes.append(result[1])
    if not hit:
        return None
    return {"fixed_in": min(fixes, key=Version) if fixes else None}


RATINGS = {"None": "INFORMATIONAL", "Low": "LOW", "Medium": "MEDIUM", "High": "HIGH", "Critical": "CRITICAL"}


def severity(adv, affected):
    """ECR's severity from the record's CVSS vector (the `affected` entry's
    own `severity` first, else the record's), scored by the `cvss` package
    (Red Hat's reference implementation): CVSS v3 preferred over v4, the
    base score's qualitative rating (a 0.0 score is INFORMATIONAL); without
    a vector, UNDEFINED."""
    entries = affected.get("severity") or adv.get("severity") or []
    by_type = {e.get("type"): e.get("score") for e in entries if isinstance(e, dict)}
    try:
        import cvss
    except ImportError:
        sys.exit("scan-expected: needs the `cvss` package (scripts/test installs it in its venv)")
    if by_type.get("CVSS_V3"):
        c = cvss.CVSS3(by_type["CVSS_V3"])
        score, rating, vector, version = c.scores()[0], c.severities()[0], by_type["CVSS_V3"], "3"
    elif by_type.get("CVSS_V4"):
        c = cvss.CVSS4(by_type["CVSS_V4"])
        score, rating, vector, version = c.base_score, c.severity, by_type["CVSS_V4"], "4"
    else:
        return {"severity": "UNDEFINED", "cvss_version": None, "cvss_score": None, "cvss_vector": None}
    return {
        "severity": RATINGS[rating],
        "cvss_version": version,
        "cvss_score": f"{float(score):.1f}",
        "cvss_vector": vector,
    }


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root, advisory_paths = argv[1], argv[2:]
    packages = installed(root)
    # One record per id, as an advisory database keeps it: the latest `modified`
    # wins (a later path on a tie), so a changed copy replaces the original.
    by_id = {}
    for adv in load_advisories(advisory_paths):
        if not isinstance(adv, dict) or "id" not in adv:
            continue
        old = by_id.get(adv["id"])
        if old is None or modified(adv) >= modified(old):
            by_id[adv["id"]] = adv
    out = []
    for adv in by_id.values():
        if not isinstance(adv, dict) or adv.get("withdrawn"):
            continue
        aid = adv.get("id")
        name = next((a for a in adv.get("aliases") or [] if str(a).startswith("CVE-")), aid)
        for pkg_name, pkg_version, path in packages:
            hits = [
                (a, hit)
                for a in adv.get("affected") or []
                if (hit := affects(a, pkg_name, pkg_version, aid)) is not None
            ]
            if not hits:
                continue
            fixes = [h["fixed_in"] for _, h in hits if h["fixed_in"] is not None]
            finding = {
                "name": name,
                "id": aid,
                "package_name": pkg_name,
                "package_version": pkg_version,
                "file_path": path,
                "fixed_in": min(fixes, key=Version) if fixes else None,
            }
            finding.update(severity(adv, hits[0][0]))
            out.append(finding)
    out.sort(key=lambda f: (f["name"], f["package_name"], f["package_version"], f["file_path"]))
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
