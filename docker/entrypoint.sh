#!/bin/sh
# The image's entry point.
#   docker run IMAGE [FLAGS]          python dc_gan.py FLAGS: trains (or draws) as the script does
#   docker run -p 127.0.0.1:8888:8888 IMAGE notebook [JUPYTER FLAGS]
#                                     Jupyter on the chapter's notebooks, in the work volume
# Jupyter keeps its random token (printed in the log with the URL) and its XSRF checks, and runs as the
# image's user. It listens on all of the container's addresses, so that a published port reaches it:
# publish it on 127.0.0.1, or whoever reaches the port can run code once they have the token.
set -eu

if [ "${1:-}" != notebook ]; then
    exec python dc_gan.py "$@"  # PID 1: docker stop's SIGTERM reaches the script, which saves and exits
fi
shift

notebooks=${DCGAN_NOTEBOOKS:-/app/notebooks}  # the work volume
chapter=${DCGAN_CHAPTER:-/app/chapter}  # the notebooks as the image carries them, set to read /app/mnist
# Copy in the chapter's notebooks that the work folder lacks; a notebook saved there before stays as saved.
for source in "$chapter"/*.ipynb; do
    target="$notebooks/$(basename "$source")"
    if [ ! -e "$target" ] && ! cp "$source" "$target"; then
        echo "dcgan notebook: cannot write $notebooks (mount a volume or a folder that uid $(id -u) can write)" >&2
        exit 1
    fi
done
echo "dcgan notebook: the chapter's notebooks and your work are in $notebooks (a volume); MNIST is in" \
     "/app/mnist. Open the http://127.0.0.1:8888/tree?token=... URL below." >&2
exec jupyter notebook --no-browser --ip=0.0.0.0 --port=8888 --ServerApp.root_dir="$notebooks" "$@"
