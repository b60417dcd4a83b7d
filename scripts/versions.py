#!/usr/bin/env python3
"""One version for every package of Spektate: check that they agree, or move them all at once.

    python3 scripts/versions.py check          exit 1 naming each file that disagrees
    python3 scripts/versions.py bump X.Y.Z     every manifest to X.Y.Z, and the changelog's
                                               Unreleased section becomes [X.Y.Z] - today
    python3 scripts/versions.py msrv           the documented minimum Rust version against the
                                               manifests and every locked package's rust-version
    python3 scripts/versions.py show           the version, for scripts and workflows

The version lives in the root Cargo.toml ([workspace.package] version); the crates inherit it,
pyproject.toml takes it from Cargo.toml (dynamic), and the Node packages (the main one and
its per-platform packages in bindings/node/npm), the internal crate
dependencies, the Helm chart, the kustomize image tag and the changelog repeat it.
Needs Python 3.11 or newer (tomllib).
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$")
# A dependency on one of the workspace's own crates: `name = { path = "...", version = "X" ... }`.
INTERNAL_DEP = re.compile(r'^(?P<head>\s*spektate[\w-]*\s*=\s*\{[^}\n]*\bpath\s*=\s*"[^"]*"[^}\n]*\bversion\s*=\s*")(?P<version>[^"]*)(?P<tail>".*)$', re.M)
CHANGELOG_VERSION = re.compile(r"^## \[(?P<version>\d[^\]]*)\](?: - (?P<date>\S+))?\s*$", re.M)
MSRV_README = re.compile(r"Rust (\d+\.\d+) or newer")
# napi-rs's npm platform names of the Rust targets the Node addon is built for.
NAPI_PLATFORMS = {
    "x86_64-unknown-linux-gnu": "linux-x64-gnu",
    "x86_64-unknown-linux-musl": "linux-x64-musl",
    "aarch64-unknown-linux-gnu": "linux-arm64-gnu",
    "x86_64-apple-darwin": "darwin-x64",
    "aarch64-apple-darwin": "darwin-arm64",
    "x86_64-pc-windows-msvc": "win32-x64-msvc",
}


# Where the documents and CI integrations name a release: `uses: spektate/spektate-rs@vX.Y.Z`,
# an Azure Pipelines repository resource's `ref: refs/tags/vX.Y.Z` and its `version: X.Y.Z`.
RELEASE_REFERENCES = [
    re.compile(r"(spektate/spektate-rs@v)(\d+\.\d+\.\d+)"),
    re.compile(r"(refs/tags/v)(\d+\.\d+\.\d+)"),
    re.compile(r"^(\s*version: )(\d+\.\d+\.\d+)\s*$", re.M),
]


def referencing_files() -> list[Path]:
    return [ROOT / "README.md", ROOT / "action.yml", *sorted((ROOT / "docs/pipelines").glob("*.md")),
            *sorted((ROOT / "ci/azure-pipelines").glob("*.yml"))]


def workspace_version() -> str:
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text())
    return manifest["workspace"]["package"]["version"]


def cargo_manifests() -> list[Path]:
    """The root manifest and every workspace member's, read from the [workspace] members list."""
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text())
    members = [ROOT / m / "Cargo.toml" for m in manifest["workspace"]["members"]]
    return [ROOT / "Cargo.toml", *members]


def node_manifests() -> list[Path]:
    node = ROOT / "bindings" / "node"
    return [node / "package.json", *sorted((node / "npm").glob("*/package.json"))]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def check() -> list[str]:
    """Every disagreement with the workspace version, one line each naming file and value."""
    version = workspace_version()
    problems: list[str] = []
    if not SEMVER.match(version):
        problems.append(f"Cargo.toml: workspace version {version!r} is not X.Y.Z")
    for path in cargo_manifests():
        if not path.exists():
            problems.append(f"{rel(path)}: missing (a workspace member)")
            continue
        text = path.read_text()
        package = tomllib.loads(text).get("package", {})
        if package and package.get("version") != {"workspace": True}:
            problems.append(f"{rel(path)}: package version {package.get('version')!r} is not `version.workspace = true`")
        for dep in INTERNAL_DEP.finditer(text):
            if dep["version"] != version:
                line = dep.group(0).split("=")[0].strip()
                problems.append(f"{rel(path)}: dependency {line} has version {dep['version']!r}, not {version!r}")

    pyproject = tomllib.loads((ROOT / "bindings/python/pyproject.toml").read_text())
    project = pyproject.get("project", {})
    if "version" in project and project["version"] != version:
        problems.append(f"bindings/python/pyproject.toml: version {project['version']!r}, not {version!r}")
    elif "version" not in project and "version" not in project.get("dynamic", []):
        problems.append("bindings/python/pyproject.toml: no version, and version is not dynamic (from Cargo.toml)")

    node_packages = node_manifests()
    if len(node_packages) < 2:
        problems.append("bindings/node/npm: no per-platform packages")
    main = json.loads(node_packages[0].read_text())
    platform_names = set()
    for path in node_packages:
        package = json.loads(path.read_text())
        if package.get("version") != version:
            problems.append(f"{rel(path)}: version {package.get('version')!r}, not {version!r}")
        if path != node_packages[0]:
            platform_names.add(package.get("name"))
    # The per-platform packages are the optional dependencies of the published @spektate/node
    # (bindings/node/scripts/pack.mjs adds them when it packs): one per napi target.
    for target in main.get("napi", {}).get("targets", []):
        platform = NAPI_PLATFORMS.get(target)
        if platform is None:
            problems.append(f"bindings/node/package.json: napi target {target} has no known npm platform name")
        elif f"@spektate/node-{platform}" not in platform_names:
            problems.append(f"bindings/node/npm/{platform}/package.json: missing for napi target {target}")
    if len(platform_names) != len(main.get("napi", {}).get("targets", [])):
        problems.append(f"bindings/node/npm: {len(platform_names)} packages for {len(main.get('napi', {}).get('targets', []))} napi targets")
    lock = json.loads((ROOT / "bindings/node/package-lock.json").read_text())
    for where, value in (("version", lock.get("version")), ('packages[""].version', lock.get("packages", {}).get("", {}).get("version"))):
        if value != version:
            problems.append(f"bindings/node/package-lock.json: {where} {value!r}, not {version!r}")

    chart = (ROOT / "deploy/helm/spektate/Chart.yaml").read_text()
    for key in ("version", "appVersion"):
        found = re.search(rf'^{key}:\s*"?([^"\s]+)"?\s*$', chart, re.M)
        if not found or found[1] != version:
            problems.append(f"deploy/helm/spektate/Chart.yaml: {key} {found[1] if found else None!r}, not {version!r}")
    kustomization = (ROOT / "deploy/kubernetes/kustomization.yaml").read_text()
    tag = re.search(r'^\s*newTag:\s*"?([^"\s]+)"?\s*$', kustomization, re.M)
    if not tag or tag[1] != version:
        problems.append(f"deploy/kubernetes/kustomization.yaml: newTag {tag[1] if tag else None!r}, not {version!r}")

    for path in referencing_files():
        text = path.read_text() if path.exists() else ""
        for pattern in RELEASE_REFERENCES:
            for found in pattern.finditer(text):
                if found[2] != version:
                    problems.append(f"{rel(path)}: names release {found[2]} ({found.group(0).strip()}), not {version}")

    problems += check_changelog(version)
    return problems


def check_changelog(version: str) -> list[str]:
    text = (ROOT / "CHANGELOG.md").read_text()
    problems = []
    if not re.search(r"^## \[Unreleased\]\s*$", text, re.M):
        problems.append("CHANGELOG.md: no '## [Unreleased]' section")
    released = list(CHANGELOG_VERSION.finditer(text))
    if released:
        newest = released[0]
        if newest["version"] != version:
            problems.append(f"CHANGELOG.md: newest section is [{newest['version']}], the packages are {version}")
        for section in released:
            date = section["date"] or ""
            try:
                datetime.date.fromisoformat(date)
            except ValueError:
                problems.append(f"CHANGELOG.md: section [{section['version']}] has no YYYY-MM-DD date (got {date!r})")
        if not re.search(rf"^\[{re.escape(version)}\]: \S+$", text, re.M):
            problems.append(f"CHANGELOG.md: no link reference for [{version}]")
    elif version != "0.1.0":
        # Before the first release the manifests carry the first version; any other needs its section.
        problems.append(f"CHANGELOG.md: no section for {version} (run scripts/bump-version.sh {version})")
    return problems


def bump(new: str) -> None:
    if not SEMVER.match(new):
        sys.exit(f"bump: {new!r} is not a version X.Y.Z")
    old = workspace_version()
    released = [m["version"] for m in CHANGELOG_VERSION.finditer((ROOT / "CHANGELOG.md").read_text())]
    if new in released:
        sys.exit(f"bump: CHANGELOG.md already has a section [{new}]")
    edits: dict[Path, str] = {}

    root = (ROOT / "Cargo.toml").read_text()
    section = re.search(r"^\[workspace\.package\]\n(?:(?!\[).*\n)*", root, re.M)
    if not section:
        sys.exit("bump: Cargo.toml has no [workspace.package] section")
    block = re.sub(r'^version = "[^"]*"', f'version = "{new}"', section.group(0), count=1, flags=re.M)
    edits[ROOT / "Cargo.toml"] = root[: section.start()] + block + root[section.end():]
    for path in cargo_manifests():
        text = edits.get(path, path.read_text())
        edits[path] = INTERNAL_DEP.sub(lambda m: f"{m['head']}{new}{m['tail']}", text)

    for index, path in enumerate(node_manifests()):
        package = json.loads(path.read_text())
        package["version"] = new
        edits[path] = json.dumps(package, indent=2, ensure_ascii=False) + "\n"
    lock_path = ROOT / "bindings/node/package-lock.json"
    lock = json.loads(lock_path.read_text())
    lock["version"] = new
    lock["packages"][""]["version"] = new
    edits[lock_path] = json.dumps(lock, indent=2, ensure_ascii=False) + "\n"

    chart_path = ROOT / "deploy/helm/spektate/Chart.yaml"
    chart = re.sub(r"^version:.*$", f"version: {new}", chart_path.read_text(), count=1, flags=re.M)
    edits[chart_path] = re.sub(r"^appVersion:.*$", f'appVersion: "{new}"', chart, count=1, flags=re.M)
    kustomization_path = ROOT / "deploy/kubernetes/kustomization.yaml"
    edits[kustomization_path] = re.sub(r'^(\s*newTag:\s*).*$', rf'\g<1>"{new}"', kustomization_path.read_text(), count=1, flags=re.M)

    for path in referencing_files():
        if path.exists():
            text = edits.get(path, path.read_text())
            for pattern in RELEASE_REFERENCES:
                text = pattern.sub(lambda m: m.group(0).replace(m[1] + m[2], m[1] + new, 1), text)
            edits[path] = text

    changelog_path = ROOT / "CHANGELOG.md"
    changelog = changelog_path.read_text()
    today = datetime.date.today().isoformat()
    heading = re.search(r"^## \[Unreleased\]\s*$", changelog, re.M)
    if not heading:
        sys.exit("bump: CHANGELOG.md has no '## [Unreleased]' section")
    changelog = changelog[: heading.start()] + f"## [Unreleased]\n\n## [{new}] - {today}\n" + changelog[heading.end():]
    repo = "https://github.com/spektate/spektate-rs"
    previous = released[0] if released else None
    links = re.sub(r"^\[Unreleased\]: .*$", f"[Unreleased]: {repo}/compare/v{new}...HEAD", changelog, count=1, flags=re.M)
    new_link = f"{repo}/compare/v{previous}...v{new}" if previous else f"{repo}/releases/tag/v{new}"
    links = re.sub(r"^(\[Unreleased\]: .*)$", rf"\g<1>\n[{new}]: {new_link}", links, count=1, flags=re.M)
    edits[changelog_path] = links

    for path, text in edits.items():
        path.write_text(text)
    problems = check()
    if problems:
        sys.exit("bump: the versions still disagree:\n  " + "\n  ".join(problems))
    print(f"{old} -> {new}: {len(edits)} files; Cargo.lock follows at the next cargo command")


def version_key(text: str) -> tuple[int, ...]:
    """1.85 and 1.85.0 compare equal."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def msrv() -> list[str]:
    """The minimum supported Rust version: Cargo.toml's rust-version, stated in the README, and
    no locked package (what `cargo metadata` reads from Cargo.lock) asking for a newer Rust."""
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text())
    declared = manifest["workspace"]["package"].get("rust-version")
    if not declared:
        return ["Cargo.toml: no rust-version in [workspace.package]"]
    problems = []
    readme = MSRV_README.findall((ROOT / "README.md").read_text())
    if readme != [declared]:
        problems.append(f"README.md: says Rust {readme or 'nothing'} or newer, Cargo.toml's rust-version is {declared}")
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
    )
    members = set(metadata["workspace_members"])
    for package in metadata["packages"]:
        wanted = package.get("rust_version")
        if package["id"] in members:
            if wanted != declared:
                problems.append(f"{package['name']}: rust-version {wanted!r}, not the workspace's {declared}")
        elif wanted and version_key(wanted) > version_key(declared):
            problems.append(f"{package['name']} {package['version']} needs Rust {wanted}, newer than the declared {declared}")
    return problems


def main(argv: list[str]) -> int:
    if argv[:1] == ["check"] and len(argv) == 1:
        problems = check()
        if problems:
            print("versions disagree:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        print(f"versions agree: {workspace_version()}")
        return 0
    if argv[:1] == ["bump"] and len(argv) == 2:
        bump(argv[1])
        return 0
    if argv[:1] == ["msrv"] and len(argv) == 1:
        problems = msrv()
        if problems:
            print("minimum supported Rust version:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        print(f"minimum supported Rust version agrees: {tomllib.loads((ROOT / 'Cargo.toml').read_text())['workspace']['package']['rust-version']}")
        return 0
    if argv == ["show"]:
        print(workspace_version())
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
