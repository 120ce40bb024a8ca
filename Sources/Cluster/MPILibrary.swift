import CMPI
import Diagnostics
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Open MPI's C library, loaded with `dlopen` when (and only when) bss was started by `mpirun`.
///
/// Why not linked: a bss binary must run where Open MPI is absent (a laptop, a container
/// without libopenmpi3), and a process not started by `mpirun` must make no MPI call at all.
/// Loading at run time gives both, keeps the build free of libopenmpi-dev, and costs nothing
/// per call (the entry points are plain function pointers). It is loaded `RTLD_GLOBAL` because
/// Open MPI's own plugins (mca_*.so) resolve libmpi's symbols from the global scope.
///
/// The handle ABI is Open MPI's (see Sources/CMPI/shim.h): predefined handles are the addresses
/// of its exported globals, found with `dlsym`.
struct MPILibrary {
    let path: String
    let initThread: bss_mpi_init_thread_fn
    let initialized: bss_mpi_initialized_fn
    let finalize: bss_mpi_finalize_fn
    let commRank: bss_mpi_comm_int_fn
    let commSize: bss_mpi_comm_int_fn
    let libraryVersion: bss_mpi_get_library_version_fn
    let processorName: bss_mpi_get_processor_name_fn
    let allreduce: bss_mpi_allreduce_fn
    let allgatherv: bss_mpi_allgatherv_fn
    let bcast: bss_mpi_bcast_fn
    let barrier: bss_mpi_barrier_fn
    let abort: bss_mpi_abort_fn
    let commWorld: bss_mpi_handle
    let float: bss_mpi_handle
    let double: bss_mpi_handle
    let int: bss_mpi_handle
    let byte: bss_mpi_handle
    let sum: bss_mpi_handle

    /// Names tried in order; `BSS_MPI_LIBRARY` (a path) comes first when set.
    static var candidates: [String] {
        let user = ProcessInfo.processInfo.environment["BSS_MPI_LIBRARY"].map { [$0] } ?? []
        return user + ["libmpi.so.40", "libmpi.so", "/usr/lib/x86_64-linux-gnu/libmpi.so.40",
                       "/usr/lib/aarch64-linux-gnu/libmpi.so.40", "/usr/lib64/openmpi/lib/libmpi.so.40"]
    }

    /// The first candidate present on disk (no loading), for `bss doctor` outside mpirun.
    static var installedPath: String? {
        candidates.first { $0.hasPrefix("/") && FileManager.default.fileExists(atPath: $0) }
            ?? candidates.lazy.compactMap { name -> String? in
                // Bare sonames: look in the usual multiarch directories.
                for dir in ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"] {
                    let p = dir + "/" + name
                    if !name.hasPrefix("/"), FileManager.default.fileExists(atPath: p) { return p }
                }
                return nil
            }.first
    }

    /// Loads libmpi and resolves every entry point and predefined handle, or says what failed.
    static func load() throws -> MPILibrary {
        var tried: [String] = []
        for name in candidates {
            guard let h = dlopen(name, RTLD_NOW | RTLD_GLOBAL) else {
                tried.append(name)
                continue
            }
            var missing: [String] = []
            func sym<T>(_ s: String, _ type: T.Type) -> T? {
                guard let p = dlsym(h, s) else { missing.append(s); return nil }
                return unsafeBitCast(p, to: type)
            }
            func handle(_ s: String) -> bss_mpi_handle? {
                guard let p = dlsym(h, s) else { missing.append(s); return nil }
                return p
            }
            let lib = MPILibrary(
                path: name,
                initThread: sym("MPI_Init_thread", bss_mpi_init_thread_fn.self) ?? { _, _, _, _ in -1 },
                initialized: sym("MPI_Initialized", bss_mpi_initialized_fn.self) ?? { _ in -1 },
                finalize: sym("MPI_Finalize", bss_mpi_finalize_fn.self) ?? { -1 },
                commRank: sym("MPI_Comm_rank", bss_mpi_comm_int_fn.self) ?? { _, _ in -1 },
                commSize: sym("MPI_Comm_size", bss_mpi_comm_int_fn.self) ?? { _, _ in -1 },
                libraryVersion: sym("MPI_Get_library_version", bss_mpi_get_library_version_fn.self) ?? { _, _ in -1 },
                processorName: sym("MPI_Get_processor_name", bss_mpi_get_processor_name_fn.self) ?? { _, _ in -1 },
                allreduce: sym("MPI_Allreduce", bss_mpi_allreduce_fn.self) ?? { _, _, _, _, _, _ in -1 },
                allgatherv: sym("MPI_Allgatherv", bss_mpi_allgatherv_fn.self) ?? { _, _, _, _, _, _, _, _ in -1 },
                bcast: sym("MPI_Bcast", bss_mpi_bcast_fn.self) ?? { _, _, _, _, _ in -1 },
                barrier: sym("MPI_Barrier", bss_mpi_barrier_fn.self) ?? { _ in -1 },
                abort: sym("MPI_Abort", bss_mpi_abort_fn.self) ?? { _, _ in -1 },
                commWorld: handle("ompi_mpi_comm_world") ?? UnsafeMutableRawPointer(bitPattern: 1)!,
                float: handle("ompi_mpi_float") ?? UnsafeMutableRawPointer(bitPattern: 1)!,
                double: handle("ompi_mpi_double") ?? UnsafeMutableRawPointer(bitPattern: 1)!,
                int: handle("ompi_mpi_int") ?? UnsafeMutableRawPointer(bitPattern: 1)!,
                byte: handle("ompi_mpi_byte") ?? UnsafeMutableRawPointer(bitPattern: 1)!,
                sum: handle("ompi_mpi_op_sum") ?? UnsafeMutableRawPointer(bitPattern: 1)!)
            guard missing.isEmpty else {
                throw MPIError("\(name) is not Open MPI's libmpi (missing \(missing.joined(separator: ", "))); bss speaks Open MPI's ABI only (set BSS_MPI_LIBRARY to Open MPI's libmpi.so.40)")
            }
            return lib
        }
        throw MPIError("started by mpirun but Open MPI's library cannot be loaded (tried \(tried.joined(separator: ", "))); install it with `apt-get install openmpi-bin libopenmpi-dev` (scripts/setup.sh does) or set BSS_MPI_LIBRARY")
    }
}

/// An MPI failure bss can report: one line (a `UserFacingError` of kind `environment`).
public struct MPIError: UserFacingError {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var kind: ErrorKind { .environment }
}
