// CHDF5: the HDF5 C API plus static inline accessors for macros Swift cannot import.
#ifndef BSS_CHDF5_SHIM_H
#define BSS_CHDF5_SHIM_H
#include <hdf5/serial/hdf5.h>
#endif
