#!/usr/bin/env bash
# Installs the Debian packages bss needs, when they are missing. Nothing else is installed.
#   libopenblas-dev  CBLAS (loaded at run time; see Sources/Tensor/BLAS.swift)
#   libhdf5-dev      HDF5 C library (Keras .h5/.keras, HDF5 state dicts and data sets)
#   zlib1g-dev       zlib (inflate for .npz/.keras members and .gz data, deflate for PNG, CRC-32)
#   libssl-dev       OpenSSL's libcrypto (SHA-256 provenance hashes)
#   pkg-config       lets SwiftPM find HDF5's include and library paths
#   libjpeg62-turbo-dev, libpng-dev   JPEG/PNG decoding for image-folder data sets
#   openmpi-bin, libopenmpi-dev       mpirun and Open MPI's libmpi, for running on several
#                    processes or machines (docs/mpi.md; libmpi is loaded only under mpirun)
#   libdnnl-dev      oneDNN 2.x, the convolution library (loaded at run time; Conv2D falls back
#                    to OpenBLAS without it; docs/design.md, "Convolution backends")
set -euo pipefail
needed=(libopenblas-dev libhdf5-dev zlib1g-dev libssl-dev pkg-config libjpeg62-turbo-dev libpng-dev openmpi-bin libopenmpi-dev libdnnl-dev)
missing=()
for p in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
