# The chapter's DCGAN in PaddlePaddle's official image. CPU by default; for a CUDA GPU:
#   docker build --build-arg PADDLE_TAG=2.6.2-gpu-cuda12.0-cudnn8.9-trt8.6 -t dcgan-gpu .
# PADDLE_TAG starts with the paddlepaddle version requirements.txt pins (tests/test_docker.py checks it).
# PADDLE_IMAGE: another image of that name and tag scheme, such as the stand-in the tests build where
# Docker Hub cannot be reached (tests/image/make_standin_base.sh).
ARG PADDLE_IMAGE=paddlepaddle/paddle
ARG PADDLE_TAG=2.6.2
FROM ${PADDLE_IMAGE}:${PADDLE_TAG}

# The base image brings paddlepaddle (or paddlepaddle-gpu): install only the rest of requirements.txt,
# so a CPU build of paddle never lands beside the GPU one.
COPY requirements.txt /tmp/requirements.txt
RUN grep -v '^paddlepaddle' /tmp/requirements.txt > /tmp/requirements-extra.txt \
    && python -m pip install --no-cache-dir -r /tmp/requirements-extra.txt \
    && rm /tmp/requirements.txt /tmp/requirements-extra.txt

RUN useradd --create-home --uid 1000 gan \
    && mkdir -p /app/output_dcgan /home/gan/.cache/paddle \
    && chown -R gan:gan /app /home/gan/.cache
WORKDIR /app
COPY --chown=gan:gan dc_gan.py README.md ./
COPY --chown=gan:gan dcgan_port/ dcgan_port/
COPY --chown=gan:gan output_dcgan/README.md output_dcgan/
ENV HOME=/home/gan
USER 1000:1000

# Results, and the MNIST download in paddle's dataset cache, outlive the container.
VOLUME ["/app/output_dcgan", "/home/gan/.cache/paddle"]
# The image is the script: what follows the image name in `docker run` are its flags.
ENTRYPOINT ["python", "dc_gan.py"]
