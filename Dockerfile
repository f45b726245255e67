# mnist-vm: build the package and train the assembly network in fast mode.
#
#   docker build -t mnist-vm .
#   docker run --rm -it -v mnist-cache:/root/.cache/mnist-vm mnist-vm      # downloads MNIST once
#
# Offline: mount a directory holding the four MNIST files (.gz or raw; only read):
#
#   docker run --rm -it -v /path/to/mnist:/data:ro mnist-vm run --fast --data /data
#   docker run --rm -it -v /path/to/fashion:/data:ro mnist-vm run --fast --dataset fashion-mnist --data /data
#
# Fast mode runs in one process (compiled kernels); one CPU is enough.
FROM python:3.11-slim

# No nasm/binutils: only the differential tests use them (numba and llvmlite
# come as wheels with their own LLVM).
WORKDIR /app
COPY pyproject.toml README.md ./
COPY vm ./vm
COPY mnist_vm ./mnist_vm
COPY programs ./programs
RUN pip install --no-cache-dir .

# Downloads and unpacked copies go to the cache volume, never into a mounted --data directory.
VOLUME ["/root/.cache/mnist-vm"]
ENTRYPOINT ["mnist-vm"]
CMD ["run", "--fast"]
