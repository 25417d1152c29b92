#!/bin/sh
# Spark's tests need a Java runtime (Spark 4.0: Java 17 or 21). Install Debian's openjdk-17-jre-headless when `java` is missing.
set -eu
if command -v java >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends openjdk-17-jre-headless
java -version
