#!/usr/bin/env bash
# Builds Berth's distribution from the jar Maven just packaged (target/berth.jar and target/lib/):
#   target/dist/berth-VERSION/          the tree: berth.jar, lib/, runtime/ (jlink: no JDK needed), bin/berth, etc/, systemd/, man/, doc/
#   target/berth-VERSION-linux-x86_64.tar.gz   that tree
#   target/berth_DEBVERSION_amd64.deb          the same files laid out for Debian (/usr/lib/berth, /usr/bin/berth, /etc/berth, the unit)
# Run by `./mvnw -Pdist package` (or verify, which also installs the package into a throwaway root: DistributionIT).
#   src/dist/build.sh VERSION     (from the project root)
set -euo pipefail
VERSION=${1:?usage: build.sh VERSION}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
DIST=src/dist
OUT=target/dist
NAME=berth-$VERSION
TREE=$OUT/$NAME

find_jdk() {  # the same rule as bin/berth: JAVA_HOME if it is 25+, else the newest 25+ under /usr/lib/jvm
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  candidates+=($(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV))
  for home in "${candidates[@]}"; do
    home=${home%/}
    [ -x "$home/bin/jlink" ] || continue
    local v
    v=$("$home/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    if [ -n "$v" ] && [ "${v%%.*}" -ge 25 ] 2>/dev/null; then echo "$home"; return 0; fi
  done
  return 1
}
JDK=$(find_jdk) || { echo "build.sh: needs a JDK 25 or newer with jlink" >&2; exit 1; }
[ -f target/berth.jar ] && [ -d target/lib ] || { echo "build.sh: target/berth.jar and target/lib/ are missing: run ./mvnw package first" >&2; exit 1; }

rm -rf "$OUT" && mkdir -p "$TREE"

# 1. The runtime: only the modules Berth and its libraries use (jdeps --print-module-deps over the jars, plus
#    java.xml for logback's configuration and jdk.zipfs, jdk.naming.dns, jdk.net, jdk.management that are loaded
#    by name at run time), no debug symbols, no AWT/X11 or sound libraries (nothing is drawn or played, and
#    they would make the package depend on X), and a CDS archive so that every `berth` command starts sooner.
MODULES=java.base,java.compiler,java.desktop,java.management,java.naming,java.net.http,java.security.jgss,java.sql,jdk.jfr,jdk.unsupported,java.xml,jdk.zipfs,jdk.naming.dns,jdk.net,jdk.management,jdk.crypto.ec
"$JDK/bin/jlink" --add-modules "$MODULES" --strip-debug --no-header-files --no-man-pages --compress=zip-6 \
  --exclude-files='**/libawt_xawt.so,**/libsplashscreen.so,**/libjsound.so' \
  --generate-cds-archive --output "$TREE/runtime"

# 2. The jar and its libraries (the jar's manifest names lib/*.jar beside it)
cp target/berth.jar "$TREE/"
cp -r target/lib "$TREE/lib"

# 3. The launcher, the default node config, the unit, the man page, the docs
mkdir -p "$TREE/bin" "$TREE/etc" "$TREE/systemd" "$TREE/man" "$TREE/doc"
install -m 0755 "$DIST/bin/berth" "$TREE/bin/berth"
install -m 0644 "$DIST/etc/berth.toml" "$DIST/etc/apps.toml" "$TREE/etc/"
install -m 0644 "$DIST/systemd/berth.service" "$TREE/systemd/"
install -m 0644 "$DIST/man/berth.1" "$TREE/man/"
install -m 0644 README.md docs/INSTALL.md docs/OPERATIONS.md docs/CONFIG.md "$TREE/doc/"
tar -C "$OUT" -czf "target/$NAME-linux-x86_64.tar.gz" "$NAME"

# 4. The Debian package, laid out from the same tree
DEBVERSION=${VERSION/-SNAPSHOT/~snapshot}
PKG=$OUT/deb
install -d "$PKG/DEBIAN" "$PKG/usr/lib/berth" "$PKG/usr/bin" "$PKG/etc/berth" "$PKG/usr/lib/systemd/system" \
  "$PKG/usr/share/man/man1" "$PKG/usr/share/doc/berth"
cp -r "$TREE/runtime" "$TREE/lib" "$TREE/bin" "$TREE/berth.jar" "$PKG/usr/lib/berth/"
ln -s ../lib/berth/bin/berth "$PKG/usr/bin/berth"
install -m 0644 "$TREE/etc/berth.toml" "$TREE/etc/apps.toml" "$PKG/etc/berth/"
install -m 0644 "$TREE/systemd/berth.service" "$PKG/usr/lib/systemd/system/"
gzip -9n < "$TREE/man/berth.1" > "$PKG/usr/share/man/man1/berth.1.gz"
install -m 0644 "$TREE"/doc/* "$PKG/usr/share/doc/berth/"
install -m 0644 "$DIST/debian/copyright" "$PKG/usr/share/doc/berth/copyright"
install -m 0644 "$DIST/debian/conffiles" "$PKG/DEBIAN/"
install -m 0755 "$DIST/debian/postinst" "$DIST/debian/prerm" "$DIST/debian/postrm" "$PKG/DEBIAN/"
sed -e "s/@VERSION@/$DEBVERSION/" -e "s/@SIZE@/$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)/" "$DIST/debian/control" > "$PKG/DEBIAN/control"
chmod -R u+rwX,go+rX,go-w "$PKG"
dpkg-deb --root-owner-group -Zgzip --build "$PKG" "target/berth_${DEBVERSION}_amd64.deb" >/dev/null
echo "built target/$NAME-linux-x86_64.tar.gz and target/berth_${DEBVERSION}_amd64.deb"
