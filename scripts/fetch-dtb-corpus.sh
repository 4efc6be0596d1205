#!/usr/bin/env bash
# Fetches the board DTBs of Debian's current arm64 Linux kernel package into
# target/dtb-corpus/<vendor>/*.dtb, the corpus that `cargo dtb --summary target/dtb-corpus`
# measures `discover` against. Uses apt-get with a private state directory for arm64 and the host's
# own apt sources, like `cargo qemu -- --vs-linux`: the host's dpkg state is not touched.
# Needs apt-get, apt-cache, dpkg-deb (Debian or Ubuntu). The corpus is never committed.
set -euo pipefail

cd "$(dirname "$0")/.."
out=target/dtb-corpus
work=target/dtb-corpus-apt
metapackage=linux-image-arm64

rm -rf "${work}"
mkdir -p "${work}/state/lists/partial" "${work}/cache/archives/partial"
: >"${work}/status"
apt_options=(
    -o "Dir::State=${PWD}/${work}/state"
    -o "Dir::State::status=${PWD}/${work}/status"
    -o "Dir::Cache=${PWD}/${work}/cache"
    -o APT::Architecture=arm64
    -o APT::Architectures=arm64
)
apt-get "${apt_options[@]}" update >/dev/null
package="$(apt-cache "${apt_options[@]}" show --no-all-versions "${metapackage}" |
    sed -n 's/^Depends: *//p' | tr ',|' '\n\n' | awk '{print $1}' | grep '^linux-image-' | head -n 1)"
if [ -z "${package}" ]; then
    echo "${metapackage} not found for arm64 in this host's apt sources" >&2
    exit 1
fi
echo "downloading ${package} (arm64)" >&2
(cd "${work}" && apt-get "${apt_options[@]}" download "${package}" >/dev/null)
dpkg-deb -x "${work}"/*.deb "${work}/root"
rm -rf "${out}"
mkdir -p "${out}"
cp -r "${work}"/root/usr/lib/linux-image-*/. "${out}/"
echo "${package}" >"${out}/PACKAGE"
rm -rf "${work}"
echo "$(find "${out}" -name '*.dtb' | wc -l) DTBs from ${package} in ${out}" >&2
