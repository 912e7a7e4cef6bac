#!/usr/bin/env bash
# A STAND-IN for PaddlePaddle's official image paddlepaddle/paddle:<pin>, built from Debian's own packages
# for machines that cannot pull from Docker Hub (the port's test machines). It is NOT the official image
# and is never tagged with its name: Debian 12 (bookworm) made with debootstrap, libgomp1, Python 3.11 in a
# virtual environment on the PATH (/opt/venv, so `python` and `pip` are the venv's, as in the official
# image), and `pip install paddlepaddle==<pin from requirements.txt>`.
#
# pip inside a container reaches the package index only with the CA bundle the host's pip is configured
# with, so the stand-in (never the project's Dockerfile) carries that bundle and a pip.conf naming it.
# Builds use --network host.
#
#   tests/image/make_standin_base.sh            # builds dcgan-standin-paddle:<pin> unless it exists
#   tests/image/make_standin_base.sh --rebuild  # builds it again
#
# Needs root (debootstrap), a running Docker engine, debootstrap, and Debian's mirror and PyPI reachable.
# Prints the stand-in's image name as its last line.
set -euo pipefail
cd "$(dirname "$0")/../.."

pin=$(sed -n 's/^paddlepaddle==\([^;[:space:]]*\); python_version < "3.13".*/\1/p' requirements.txt)
[ -n "$pin" ] || { echo "make_standin_base.sh: no paddlepaddle pin for Python < 3.13 in requirements.txt" >&2; exit 2; }
image="dcgan-standin-paddle:$pin"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ "${1:-}" != "--rebuild" ] && docker image inspect "$image" >/dev/null 2>&1; then
    echo "the stand-in base $image exists already (--rebuild to build it again)" >&2
    echo "$image"
    exit 0
fi
for tool in docker debootstrap; do
    command -v "$tool" >/dev/null || { echo "make_standin_base.sh: $tool is missing: apt-get install docker.io debootstrap" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "make_standin_base.sh: debootstrap needs root; run it as root" >&2; exit 2; }

# the CA bundle the host's pip uses: its own setting (pip.conf or PIP_CERT), else the system's bundle
ca=$(python3 -m pip config get global.cert 2>/dev/null || true)
ca=${PIP_CERT:-${ca:-}}
for candidate in "$ca" "${REQUESTS_CA_BUNDLE:-}" "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt; do
    if [ -n "$candidate" ] && [ -f "$candidate" ]; then ca=$candidate; break; fi
done
[ -f "$ca" ] || { echo "make_standin_base.sh: found no CA bundle for pip (set PIP_CERT to one)" >&2; exit 2; }

work=$(mktemp -d /var/tmp/dcgan-standin.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "building the stand-in base $image (Debian 12 from $mirror, paddlepaddle==$pin from PyPI)" >&2

# 1. Debian 12, minimal, with what paddle's CPU wheel needs (libgomp1) and Python 3.11 with venv
debootstrap --variant=minbase --include=libgomp1,python3,python3-venv,ca-certificates \
    bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; echo "make_standin_base.sh: debootstrap failed" >&2; exit 1; }
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
tar -C "$work/rootfs" -c . | docker import - "dcgan-standin-rootfs:$pin" >/dev/null

# 2. the venv, paddle, and the host pip's CA bundle with a pip.conf naming it
mkdir "$work/context"
cp "$ca" "$work/context/pip-ca.crt"
printf '[global]\ncert = /etc/pip-ca.crt\n' >"$work/context/pip.conf"
cat >"$work/context/Dockerfile" <<DOCKERFILE
FROM dcgan-standin-rootfs:$pin
LABEL org.opencontainers.image.description="STAND-IN for paddlepaddle/paddle:$pin built by tests/image/make_standin_base.sh; not the official image"
COPY pip-ca.crt /etc/pip-ca.crt
COPY pip.conf /etc/pip.conf
ENV PATH=/opt/venv/bin:\$PATH LANG=C.UTF-8
RUN python3 -m venv /opt/venv && pip install --no-cache-dir "paddlepaddle==$pin" \
    && python -c "import paddle; print('stand-in base: paddle', paddle.__version__)"
CMD ["python"]
DOCKERFILE
docker build --network host -t "$image" "$work/context" >&2
docker image rm "dcgan-standin-rootfs:$pin" >/dev/null 2>&1 || true
echo "$image"
