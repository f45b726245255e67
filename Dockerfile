# mnist-vm: build the package and train the assembly network in fast mode.
#   docker build -t mnist-vm .
#   docker run --rm -it -v mnist-cache:/root/.cache/mnist-vm mnist-vm
FROM python:3.11-slim

# nasm is only needed for the differential tests; the product itself is pure Python.
RUN apt-get update && apt-get install -y --no-install-recommends nasm binutils \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY vm ./vm
COPY mnist_vm ./mnist_vm
COPY programs ./programs
RUN pip install --no-cache-dir .

# MNIST is downloaded on first use into the cache volume.
VOLUME ["/root/.cache/mnist-vm"]
ENTRYPOINT ["mnist-vm"]
CMD ["run", "--fast"]
