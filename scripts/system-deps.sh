#!/usr/bin/env bash
# Install the Debian packages the pipeline needs (Psi4, Graphviz for provenance graphs), if missing, and those of the
# loopback Slurm-over-SSH cluster of the remote-execution tests (scripts/slurm-cluster.sh), and PostgreSQL + RabbitMQ
# (with the locales they need) for the production profile (scripts/services.sh, `aiida-polymer setup --production`),
# and Chromium with its WebDriver for the app's browser test (tests/test_app_browser.py).
set -euo pipefail
packages=(psi4 graphviz slurm-wlm munge openssh-server postgresql rabbitmq-server locales chromium chromium-driver
          fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "warning: no apt-get; install these yourself: ${missing[*]}" >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "Installing Debian packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
