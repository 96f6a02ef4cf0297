#!/usr/bin/env bash
# Private runtime for @jazzer.js/core 4.0.0 on Debian 12 (see docs/FUZZING.md).
#
# Jazzer's prebuilt addon needs GLIBC_2.38 and GLIBCXX_3.4.32; Debian 12 ships glibc 2.36 and
# GCC 12. This script downloads Debian 13 ("trixie") libc6, libstdc++6 and libgcc-s1 with
# apt-get, from the Debian archive this machine's apt sources already use (verified by the
# archive keyring; SENTINEL_FUZZ_DEBIAN_ARCHIVE overrides the archive URI), and unpacks them under
# .fuzz/runtime/root without installing anything: apt's state and cache for this live in
# .fuzz/runtime/apt. test/fuzz/jazzer.ts then starts jazzer with that loader.
# Idempotent; works as root or not. Exits non-zero with one line on stderr when it cannot.
set -euo pipefail
cd "$(dirname "$0")/../.."

dest=${SENTINEL_FUZZ_RUNTIME:-$PWD/.fuzz/runtime}
suite=trixie
packages=(libc6 libstdc++6 libgcc-s1)
loader=$dest/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2

if [ -x "$loader" ] && [ -f "$dest/VERSIONS" ]; then
  echo "jazzer runtime: already in $dest ($(tr '\n' ' ' < "$dest/VERSIONS"))"
  exit 0
fi
for tool in apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "jazzer runtime: $tool not found (needs a Debian-based system)" >&2; exit 1; }
done
if [ "$(dpkg --print-architecture)" != amd64 ]; then
  echo "jazzer runtime: only amd64 is supported, this is $(dpkg --print-architecture)" >&2
  exit 1
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || { echo "jazzer runtime: $keyring missing (apt-get install debian-archive-keyring)" >&2; exit 1; }

# The archive of the system's own main suite (not -security or -updates), as apt knows it.
archive=${SENTINEL_FUZZ_DEBIAN_ARCHIVE:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' 2>/dev/null |
  awk '$3 == "deb" && $2 !~ /-/ && $1 !~ /security/ { print $1; exit }')}
[ -n "$archive" ] || { echo "jazzer runtime: no Debian archive in the apt sources (run apt-get update first)" >&2; exit 1; }

apt=$dest/apt
rm -rf "$dest/root" "$apt"
mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/debs" "$dest/root"
echo "deb [signed-by=$keyring] $archive $suite main" > "$apt/sources.list"
opts=(
  -o "Dir::Etc::SourceList=$apt/sources.list"
  -o "Dir::Etc::SourceParts=/nonexistent"
  -o "Dir::State=$apt"
  -o "Dir::State::Lists=$apt/lists"
  -o "Dir::State::status=/dev/null"
  -o "Dir::Cache=$apt"
  -o "Dir::Cache::archives=$apt/archives"
  -o "APT::Sandbox::User=$(id -un)"
  -o "Debug::NoLocking=1"
)
echo "jazzer runtime: fetching ${packages[*]} from Debian $suite"
apt-get "${opts[@]}" -qq update
(cd "$apt/debs" && apt-get "${opts[@]}" -qq download "${packages[@]}")
: > "$dest/VERSIONS.tmp"
for deb in "$apt"/debs/*.deb; do
  dpkg-deb -x "$deb" "$dest/root"
  echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)" >> "$dest/VERSIONS.tmp"
done
[ -x "$loader" ] || { echo "jazzer runtime: no loader at $loader after unpacking" >&2; exit 1; }
mv "$dest/VERSIONS.tmp" "$dest/VERSIONS"
rm -rf "$apt"
echo "jazzer runtime: ready in $dest ($(tr '\n' ' ' < "$dest/VERSIONS"))"
