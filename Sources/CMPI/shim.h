// CMPI: the part of Open MPI's C API that bss uses, declared for loading libmpi at run time.
// libmpi is deliberately not linked (see Sources/Cluster/MPILibrary.swift): a bss binary must
// run, and make no MPI call, where Open MPI is absent or when it is not started by mpirun.
// The declarations follow Open MPI's mpi.h (v4 and v5): handles are pointers, and the
// predefined ones (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are the addresses of the exported
// globals ompi_mpi_comm_world, ompi_mpi_float, ompi_mpi_op_sum, ... (OMPI_PREDEFINED_GLOBAL).
#ifndef BSS_CMPI_SHIM_H
#define BSS_CMPI_SHIM_H

typedef void *bss_mpi_handle;   /* MPI_Comm, MPI_Datatype, MPI_Op: pointers in Open MPI */

/* The standard's thread levels (same values in Open MPI and MPICH). */
enum { BSS_MPI_THREAD_SINGLE = 0, BSS_MPI_THREAD_FUNNELED = 1, BSS_MPI_THREAD_SERIALIZED = 2,
       BSS_MPI_THREAD_MULTIPLE = 3 };
/* MPI_MAX_LIBRARY_VERSION_STRING and MPI_MAX_PROCESSOR_NAME in Open MPI. */
enum { BSS_MPI_MAX_LIBRARY_VERSION_STRING = 256, BSS_MPI_MAX_PROCESSOR_NAME = 256 };

typedef int (*bss_mpi_init_thread_fn)(int *argc, char ***argv, int required, int *provided);
typedef int (*bss_mpi_initialized_fn)(int *flag);
typedef int (*bss_mpi_finalize_fn)(void);
typedef int (*bss_mpi_comm_int_fn)(bss_mpi_handle comm, int *value);          /* rank, size */
typedef int (*bss_mpi_get_library_version_fn)(char *version, int *length);
typedef int (*bss_mpi_get_processor_name_fn)(char *name, int *length);
typedef int (*bss_mpi_allreduce_fn)(const void *send, void *recv, int count, bss_mpi_handle type,
                                    bss_mpi_handle op, bss_mpi_handle comm);
typedef int (*bss_mpi_allgatherv_fn)(const void *send, int sendCount, bss_mpi_handle sendType, void *recv,
                                     const int *recvCounts, const int *displacements, bss_mpi_handle recvType,
                                     bss_mpi_handle comm);
typedef int (*bss_mpi_bcast_fn)(void *buffer, int count, bss_mpi_handle type, int root, bss_mpi_handle comm);
typedef int (*bss_mpi_barrier_fn)(bss_mpi_handle comm);
typedef int (*bss_mpi_abort_fn)(bss_mpi_handle comm, int code);

#endif
