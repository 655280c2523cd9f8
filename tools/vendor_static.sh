#!/usr/bin/env bash
# Vendor Leaflet and Leaflet.markercluster into static/vendor/ from the npm registry, pinned to the versions
# folium 0.20.0 links to (folium.folium._default_js, folium.plugins.MarkerCluster.default_js), so no page ever
# needs a CDN. Uses the npm client's configured registry; run from anywhere: ./tools/vendor_static.sh
set -euo pipefail
cd "$(dirname "$0")/.."

LEAFLET=1.9.3
MARKERCLUSTER=1.1.0
dest=static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "leaflet@$LEAFLET" "leaflet.markercluster@$MARKERCLUSTER" >/dev/null)
mkdir -p "$work/leaflet" "$work/markercluster"
tar -xzf "$work/leaflet-$LEAFLET.tgz" -C "$work/leaflet"
tar -xzf "$work/leaflet.markercluster-$MARKERCLUSTER.tgz" -C "$work/markercluster"

rm -rf "$dest/leaflet" "$dest/leaflet.markercluster"
mkdir -p "$dest/leaflet/images" "$dest/leaflet.markercluster"
cp "$work/leaflet/package/dist/leaflet.js" "$work/leaflet/package/dist/leaflet.css" "$dest/leaflet/"
cp "$work/leaflet/package/dist/images/"*.png "$dest/leaflet/images/"
cp "$work/leaflet/package/LICENSE" "$dest/leaflet/LICENSE"
cp "$work/markercluster/package/dist/leaflet.markercluster.js" \
   "$work/markercluster/package/dist/MarkerCluster.css" \
   "$work/markercluster/package/dist/MarkerCluster.Default.css" "$dest/leaflet.markercluster/"
cp "$work/markercluster/package/MIT-LICENCE.txt" "$dest/leaflet.markercluster/LICENSE" 2>/dev/null \
  || cp "$work/markercluster/package/"*LICEN* "$dest/leaflet.markercluster/LICENSE"

{
  echo "Vendored by tools/vendor_static.sh from the npm registry; versions match folium 0.20.0."
  echo "leaflet $LEAFLET (BSD-2-Clause)"
  echo "leaflet.markercluster $MARKERCLUSTER (MIT)"
  echo
  (cd "$dest" && find leaflet leaflet.markercluster -type f ! -name LICENSE -print0 | sort -z | xargs -0 sha256sum)
} > "$dest/VERSIONS.txt"
echo "vendored into $dest:"
cat "$dest/VERSIONS.txt"
