# The chapter's DCGAN in PaddlePaddle's official image. CPU by default; for a CUDA GPU:
#   docker build --build-arg PADDLE_TAG=2.6.2-gpu-cuda12.0-cudnn8.9-trt8.6 -t dcgan-gpu .
# PADDLE_TAG starts with the paddlepaddle version requirements.txt pins (tests/test_docker.py checks it).
# PADDLE_IMAGE: another image of that name and tag scheme, such as the stand-in the tests build where
# Docker Hub cannot be reached (tests/image/make_standin_base.sh).
ARG PADDLE_IMAGE=paddlepaddle/paddle
ARG PADDLE_TAG=2.6.2
FROM ${PADDLE_IMAGE}:${PADDLE_TAG}

# The base image brings paddlepaddle (or paddlepaddle-gpu): install only the rest of requirements.txt and
# the Jupyter packages of requirements-notebook.txt, so a CPU build of paddle never lands beside the GPU one.
COPY requirements.txt requirements-notebook.txt /tmp/
RUN grep -v '^paddlepaddle' /tmp/requirements.txt > /tmp/requirements-extra.txt \
    && grep -v '^-r' /tmp/requirements-notebook.txt > /tmp/requirements-jupyter.txt \
    && python -m pip install --no-cache-dir -r /tmp/requirements-extra.txt -r /tmp/requirements-jupyter.txt \
    && rm /tmp/requirements*.txt

RUN useradd --create-home --uid 1000 gan \
    && mkdir -p /app/output_dcgan /app/notebooks /home/gan/.cache/paddle \
    && chown -R gan:gan /app /home/gan/.cache
WORKDIR /app
COPY --chown=gan:gan dc_gan.py README.md ./
COPY --chown=gan:gan dcgan_port/ dcgan_port/
COPY --chown=gan:gan output_dcgan/README.md output_dcgan/
COPY docker/entrypoint.sh docker/stock.py docker/
COPY dc_gan.ipynb dc_gan.cn.ipynb chapter/
ENV HOME=/home/gan PYTHONPATH=/app

# MNIST in the image, so the container trains offline: the files put in docker/mnist/ before the build,
# and those it lacks downloaded from MNIST_URL (empty: no download; docker/mnist/README.md). The
# notebooks in chapter/ are set to read /app/mnist; original files are in paddle's dataset cache too.
ARG MNIST_URL=https://dataset.bj.bcebos.com/mnist/
COPY docker/mnist/ mnist/
RUN python docker/stock.py /app/mnist /home/gan/.cache/paddle/dataset/mnist "$MNIST_URL" \
        chapter/dc_gan.ipynb chapter/dc_gan.cn.ipynb \
    && chown -R gan:gan /home/gan/.cache
USER 1000:1000

# Results, the MNIST download in paddle's dataset cache, and the notebooks with the work saved in them
# outlive the container.
VOLUME ["/app/output_dcgan", "/home/gan/.cache/paddle", "/app/notebooks"]
# Jupyter, for `docker run -p 127.0.0.1:8888:8888 IMAGE notebook`
EXPOSE 8888
# `docker run IMAGE FLAGS` runs `python dc_gan.py FLAGS`; `docker run IMAGE notebook` serves the notebooks.
ENTRYPOINT ["/app/docker/entrypoint.sh"]
