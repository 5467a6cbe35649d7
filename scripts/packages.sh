# scripts/packages.sh: sourced by scripts/demo.sh, scripts/test.sh and .ci/run.
#
# install_missing_packages <who> <package>...: installs the Debian packages that are not yet
# installed (apt-get, when run as root); otherwise prints the exact apt-get line and exits 1.
# Where there is no dpkg (not Debian), it assumes the packages are there and says so.
install_missing_packages() {
  local who=$1
  shift
  if ! command -v dpkg >/dev/null; then
    echo "$who: dpkg not found (not Debian?); assuming these are installed: $*" >&2
    return 0
  fi
  local missing=() p
  for p in "$@"; do
    dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "$who: missing Debian packages: ${missing[*]}" >&2
    echo "Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "==> Installing missing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y "${missing[@]}"
}
