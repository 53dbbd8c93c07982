#!/usr/bin/env bash
# Vendor Chart.js and its plugins from the npm registry into
# platform/dashboard/static/vendor/, so the dashboard works offline (no CDN).
#
# Each package is fetched at a pinned version with `npm pack` (which checks the
# tarball against the registry's integrity hash), and only its browser build
# (UMD / minified), the source map that build names, and its LICENSE are kept.
# VERSIONS.md records package, version, licence, files and their sha256.
#
# Usage: scripts/vendor_static.sh      (re-run after changing a pin below)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR_DIR="$REPO_ROOT/platform/dashboard/static/vendor"

# package  version  path of the browser build inside the package tarball
PINS=(
    "chart.js                  4.5.1  dist/chart.umd.min.js"
    "hammerjs                  2.0.8  hammer.min.js"
    "chartjs-plugin-zoom       2.2.0  dist/chartjs-plugin-zoom.min.js"
    "chartjs-plugin-annotation 3.1.0  dist/chartjs-plugin-annotation.min.js"
    "chartjs-adapter-date-fns  3.0.0  dist/chartjs-adapter-date-fns.bundle.min.js"
)
# What each one is for, written into VERSIONS.md.
declare -A NOTES=(
    [chart.js]="charts on every dashboard page"
    [hammerjs]="touch gestures for chartjs-plugin-zoom (upstream left a v2.0.7 banner in the 2.0.8 build)"
    [chartjs-plugin-zoom]="pan and zoom on time-series charts"
    [chartjs-plugin-annotation]="change-point and threshold markers"
    [chartjs-adapter-date-fns]="time axis; the bundle build includes date-fns (MIT)"
)

command -v npm >/dev/null || { echo "vendor_static.sh: npm not found on PATH (needs node 18+ and npm)" >&2; exit 1; }
command -v node >/dev/null || { echo "vendor_static.sh: node not found on PATH" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
STAGE="$WORK/vendor"
mkdir -p "$STAGE"

pkg_field() {  # pkg_field <package.json> <field>
    node -e 'const p = require(process.argv[1]); const v = p[process.argv[2]];
             process.stdout.write(typeof v === "object" && v ? (v.type || JSON.stringify(v)) : String(v ?? ""))' "$1" "$2"
}

{
    echo "# Vendored static files"
    echo
    echo "Fetched from the npm registry by \`scripts/vendor_static.sh\`; do not edit by hand."
    echo "Change a pin in that script and re-run it to refresh."
    echo
    echo "| Package | Version | Licence | File | sha256 | Used for |"
    echo "|---|---|---|---|---|---|"
} >"$STAGE/VERSIONS.md"

for pin in "${PINS[@]}"; do
    read -r name version build <<<"$pin"
    echo "fetching $name@$version" >&2
    tarball="$(cd "$WORK" && npm pack "$name@$version" --silent 2>/dev/null | tail -n 1)"
    [[ -f "$WORK/$tarball" ]] || { echo "vendor_static.sh: npm pack $name@$version produced no tarball" >&2; exit 1; }
    unpacked="$WORK/unpacked/$name"
    mkdir -p "$unpacked"
    tar -xzf "$WORK/$tarball" -C "$unpacked"
    pkg="$unpacked/package"

    got="$(pkg_field "$pkg/package.json" version)"
    [[ "$got" == "$version" ]] || { echo "vendor_static.sh: $name: expected version $version, tarball says $got" >&2; exit 1; }
    [[ -f "$pkg/$build" ]] || { echo "vendor_static.sh: $name@$version has no $build" >&2; exit 1; }
    licence_file="$(cd "$pkg" && ls LICENSE* LICENCE* 2>/dev/null | head -n 1 || true)"
    [[ -n "$licence_file" ]] || { echo "vendor_static.sh: $name@$version ships no LICENSE file" >&2; exit 1; }
    licence="$(pkg_field "$pkg/package.json" license)"

    dest="$STAGE/$name"
    mkdir -p "$dest"
    file="$(basename "$build")"
    cp "$pkg/$build" "$dest/$file"
    cp "$pkg/$licence_file" "$dest/$licence_file"
    # A build that names a source map must ship it: collectstatic's manifest
    # storage follows sourceMappingURL and fails on a missing file.
    map="$(sed -n 's|^//# sourceMappingURL=\(.*\)$|\1|p' "$pkg/$build" | tail -n 1)"
    if [[ -n "$map" ]]; then
        map_src="$(dirname "$pkg/$build")/$map"
        [[ -f "$map_src" ]] || { echo "vendor_static.sh: $name@$version: $build names source map $map, which is missing" >&2; exit 1; }
        cp "$map_src" "$dest/$map"
    fi

    sha="$(sha256sum "$dest/$file" | cut -d' ' -f1)"
    echo "| $name | $version | $licence ($licence_file) | \`vendor/$name/$file\` | \`$sha\` | ${NOTES[$name]} |" >>"$STAGE/VERSIONS.md"
done

# Swap in the new tree only once every package is fetched and checked.
rm -rf "$VENDOR_DIR"
mkdir -p "$(dirname "$VENDOR_DIR")"
cp -R "$STAGE" "$VENDOR_DIR"
echo "vendored into ${VENDOR_DIR#"$REPO_ROOT"/}:" >&2
(cd "$VENDOR_DIR" && find . -type f | sort) >&2
