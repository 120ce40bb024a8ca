import CMPI
import Foundation

/// The processes of one `mpirun` job (`MPI_COMM_WORLD`), and the few collectives bss uses.
///
/// Only the commands that parallelise (`generate`, `similarity`, `distill`) ask for it, with
/// `MPIWorld.start()`: when the process was not started by `mpirun` that returns nil without
/// loading libmpi or making any MPI call, so single-process runs are exactly what they were.
///
/// MPI is initialised with `MPI_THREAD_SERIALIZED`: collectives are called by one thread at a
/// time (the thread running the command; the engine's workers never call MPI). Every rank must
/// call the same collectives in the same order with matching sizes, the usual MPI contract;
/// the callers (docs/mpi.md) keep every rank's sequence of calls identical by construction.
/// Buffers are counted in elements with C `int`s, so one collective moves fewer than 2³¹
/// elements (callers check).
public final class MPIWorld: @unchecked Sendable {
    /// This process' rank in `0..<size`.
    public let rank: Int
    /// Processes in the job (`mpirun -np N`).
    public let size: Int
    /// Path passed to dlopen, and `MPI_Get_library_version`'s first line.
    public let library: String
    public let version: String
    /// `MPI_Get_processor_name`: the host this rank runs on.
    public let host: String
    /// Ranks of the job on this host (`OMPI_COMM_WORLD_LOCAL_SIZE`, 1 if unknown): the default
    /// thread count divides the cores between them.
    public let localSize: Int
    /// Payload bytes this rank passed to collectives so far (its send buffers): what
    /// the README's "bytes communicated per step" counts.
    public private(set) var bytesSent = 0

    private let lib: MPILibrary
    private var finalized = false

    /// The job this process belongs to, once `start()` succeeded.
    nonisolated(unsafe) public private(set) static var current: MPIWorld?

    /// How the launcher announced an MPI job in the environment, or nil (not started by
    /// mpirun). Open MPI sets `OMPI_COMM_WORLD_SIZE`/`_RANK`; PMIx launchers (srun, prterun)
    /// set `PMIX_RANK`.
    public static var launchVariable: String? {
        let env = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK"].first { env[$0] != nil }
    }

    /// Initialises MPI (once) when started by mpirun; nil otherwise, with no MPI call made.
    public static func start() throws -> MPIWorld? {
        if let current { return current }
        guard launchVariable != nil else { return nil }
        let lib = try MPILibrary.load()
        var provided: Int32 = 0
        guard lib.initThread(nil, nil, Int32(BSS_MPI_THREAD_SERIALIZED), &provided) == 0 else {
            throw MPIError("MPI_Init_thread failed (\(lib.path))")
        }
        guard provided >= Int32(BSS_MPI_THREAD_SERIALIZED) else {
            throw MPIError("\(lib.path) provides thread level \(provided); bss needs MPI_THREAD_SERIALIZED (2)")
        }
        var r: Int32 = 0, s: Int32 = 0
        _ = lib.commRank(lib.commWorld, &r)
        _ = lib.commSize(lib.commWorld, &s)
        var buf = [CChar](repeating: 0, count: Int(BSS_MPI_MAX_LIBRARY_VERSION_STRING) + 1)
        var len: Int32 = 0
        _ = lib.libraryVersion(&buf, &len)
        let version = String(cString: buf).split(separator: "\n").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? "?"
        var name = [CChar](repeating: 0, count: Int(BSS_MPI_MAX_PROCESSOR_NAME) + 1)
        _ = lib.processorName(&name, &len)
        let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1
        let world = MPIWorld(rank: Int(r), size: Int(s), library: lib.path, version: version,
                             host: String(cString: name), localSize: max(1, local), lib: lib)
        current = world
        return world
    }

    /// Where `start()` would load Open MPI from (checked on disk only, nothing loaded).
    public static var installedLibrary: String? { MPILibrary.installedPath }

    private init(rank: Int, size: Int, library: String, version: String, host: String, localSize: Int, lib: MPILibrary) {
        self.rank = rank; self.size = size; self.library = library; self.version = version
        self.host = host; self.localSize = localSize; self.lib = lib
    }

    public var isRoot: Bool { rank == 0 }

    // MARK: - Collectives

    /// Element-wise sum over ranks, in place (every rank gets the sum).
    public func allreduceSum(_ x: inout [Float]) { allreduce(&x, lib.float) }
    public func allreduceSum(_ x: inout [Double]) { allreduce(&x, lib.double) }

    private func allreduce<T>(_ x: inout [T], _ type: bss_mpi_handle) {
        guard !x.isEmpty else { return }
        let n = checkedCount(x.count, "MPI_Allreduce")
        let send = x
        bytesSent += x.count * MemoryLayout<T>.stride
        let rc = send.withUnsafeBytes { s in
            x.withUnsafeMutableBytes { r in lib.allreduce(s.baseAddress!, r.baseAddress!, n, type, lib.sum, lib.commWorld) }
        }
        check(rc, "MPI_Allreduce")
    }

    /// Every rank's `local`, concatenated in rank order, on every rank (ranks may pass
    /// different lengths, including none).
    public func allgather(_ local: [Float]) -> [Float] { allgather(local, lib.float, zero: 0) }
    public func allgather(_ local: [Double]) -> [Double] { allgather(local, lib.double, zero: 0) }
    public func allgather(_ local: [Int32]) -> [Int32] { allgather(local, lib.int, zero: 0) }
    /// The same when every rank's length is known beforehand (`counts[r]`, this rank's must be
    /// `local.count`): one collective instead of two.
    public func allgather(_ local: [Float], counts: [Int]) -> [Float] { allgather(local, lib.float, zero: 0, counts: counts) }

    /// Every rank's count, in rank order.
    public func allgatherCounts(_ count: Int) -> [Int] {
        var counts = [Int32](repeating: 0, count: size), displacements = (0..<size).map { Int32($0) }
        var mine = Int32(checkedCount(count, "MPI_Allgatherv"))
        let ones = [Int32](repeating: 1, count: size)
        bytesSent += 4
        let rc = counts.withUnsafeMutableBytes { r in
            lib.allgatherv(&mine, 1, lib.int, r.baseAddress!, ones, &displacements, lib.int, lib.commWorld)
        }
        check(rc, "MPI_Allgatherv")
        return counts.map { Int($0) }
    }

    private func allgather<T>(_ local: [T], _ type: bss_mpi_handle, zero: T, counts known: [Int]? = nil) -> [T] {
        precondition(known.map { $0.count == size && $0[rank] == local.count } ?? true,
                     "MPIWorld.allgather: counts \(known ?? []) do not fit rank \(rank) sending \(local.count)")
        let counts = known ?? allgatherCounts(local.count)
        let total = counts.reduce(0, +)
        _ = checkedCount(total, "MPI_Allgatherv")
        var displacements: [Int32] = []
        var offset: Int32 = 0
        for c in counts { displacements.append(offset); offset += Int32(c) }
        let counts32 = counts.map { Int32($0) }
        var out = [T](repeating: zero, count: total)
        guard total > 0 else { return out }
        bytesSent += local.count * MemoryLayout<T>.stride
        // A placeholder element keeps the send pointer valid when this rank sends nothing.
        let send = local.isEmpty ? [zero] : local
        let rc = send.withUnsafeBytes { s in
            out.withUnsafeMutableBytes { r in
                lib.allgatherv(s.baseAddress!, Int32(local.count), type, r.baseAddress!, counts32, displacements, type, lib.commWorld)
            }
        }
        check(rc, "MPI_Allgatherv")
        return out
    }

    /// Rank `root`'s bytes on every rank (others pass anything; their length is replaced).
    public func broadcast(_ bytes: inout [UInt8], root: Int = 0) {
        var n = Int32(checkedCount(bytes.count, "MPI_Bcast"))
        check(lib.bcast(&n, 1, lib.int, Int32(root), lib.commWorld), "MPI_Bcast")
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(n)) }
        if rank == root { bytesSent += bytes.count * (size - 1) }
        guard n > 0 else { return }
        let rc = bytes.withUnsafeMutableBytes { lib.bcast($0.baseAddress!, n, lib.byte, Int32(root), lib.commWorld) }
        check(rc, "MPI_Bcast")
    }

    public func barrier() { check(lib.barrier(lib.commWorld), "MPI_Barrier") }

    /// Stops every rank of the job (`MPI_Abort`); the caller has printed its one-line error.
    public func abort(code: Int32 = 1) -> Never {
        _ = lib.abort(lib.commWorld, code)
        exit(code)   // MPI_Abort does not return; this only satisfies the compiler
    }

    /// Ends MPI on this rank after a barrier (so no rank leaves while another still fails).
    public func finalize() {
        guard !finalized else { return }
        finalized = true
        barrier()
        _ = lib.finalize()
    }

    private func checkedCount(_ n: Int, _ call: String) -> Int32 {
        guard n <= Int(Int32.max) else {
            FileHandle.standardError.write(Data("bss: error: [rank \(rank)/\(size)] \(call) of \(n) elements exceeds MPI's int count\n".utf8))
            abort()
        }
        return Int32(n)
    }

    private func check(_ rc: Int32, _ call: String) {
        guard rc != 0 else { return }
        FileHandle.standardError.write(Data("bss: error: [rank \(rank)/\(size)] \(call) failed with code \(rc)\n".utf8))
        abort()
    }
}
