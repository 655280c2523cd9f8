# Install the Debian packages named in "$@" that are missing (sourced by scripts/serve and scripts/test).
ensure_debian_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "missing Debian packages (install them as root): ${missing[*]}" >&2; return 1
    fi
  fi
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# fonts for Chinese in report figures and PDFs; pango for WeasyPrint (PDF reports)
REPORT_PACKAGES=(fonts-noto-cjk fontconfig libpango-1.0-0 libpangoft2-1.0-0)
# PostgreSQL 15 + PostGIS 3: the tests run every register test on a throwaway server too (tests/pgserver.py)
DATABASE_PACKAGES=(postgresql-15-postgis-3)
