#!/usr/bin/env bash
# Makes the base every Paystream image is built on, without pulling one: a Java runtime made by jlink from the
# JDK that builds (at /opt/java) and the C libraries it needs, from this machine (glibc, libz, libstdc++ for
# RocksDB), plus an empty /tmp and /var/lib/paystream (writable by the images' user: a volume mounted there
# starts with its permissions). The images are built FROM scratch with this directory as their first layer.
#   base.sh OUT_DIR        (does nothing when OUT_DIR/opt/java/bin/java exists)
set -euo pipefail
out="$1"
[ -x "$out/opt/java/bin/java" ] && exit 0
: "${JAVA_HOME:?JAVA_HOME must name the JDK that builds}"
rm -rf "$out"
mkdir -p "$out/opt" "$out/tmp" "$out/proc" "$out/lib/x86_64-linux-gnu" "$out/lib64" "$out/var/lib/paystream"
"$JAVA_HOME/bin/jlink" --output "$out/opt/java" --strip-debug --no-man-pages --no-header-files \
  --add-modules java.base,java.desktop,java.instrument,java.logging,java.management,java.naming,java.net.http,java.prefs,java.rmi,java.scripting,java.security.jgss,java.security.sasl,java.sql,java.transaction.xa,java.xml,jdk.httpserver,jdk.jfr,jdk.management,jdk.naming.dns,jdk.net,jdk.unsupported,jdk.zipfs
for lib in libc.so.6 libdl.so.2 libm.so.6 libpthread.so.0 librt.so.1 libz.so.1 libgcc_s.so.1 libstdc++.so.6; do
  for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu; do
    if [ -e "$dir/$lib" ]; then cp -L "$dir/$lib" "$out/lib/x86_64-linux-gnu/"; break; fi
  done
  [ -e "$out/lib/x86_64-linux-gnu/$lib" ] || { echo "base.sh: $lib not found on this machine" >&2; exit 1; }
done
cp -L /lib64/ld-linux-x86-64.so.2 "$out/lib64/"
