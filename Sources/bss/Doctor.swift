import ArgumentParser
import Cluster
import Foundation
import NN
import Tensor

/// `bss doctor`: what this machine gives the engine (BLAS kernels, threads), with the sgemm
/// rate of the kernel in force and, when the user's `OPENBLAS_CORETYPE` overrides the tool's
/// choice, the rate of the kernel the tool would have chosen, so the setting's cost is visible.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the BLAS library and kernels in use, their sgemm rate, and the thread count.",
        discussion: """
            Example:
              bss doctor --threads 2
            """)

    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Skip the sgemm timing (about a second per kernel).")
    var noTiming = false

    /// Used by `doctor` itself: a child process started with another OPENBLAS_CORETYPE prints
    /// only its kernel name and rate (OpenBLAS picks its kernels once per process).
    @Flag(help: .hidden)
    var rateOnly = false

    func run() throws {
        runtime.apply()
        let s = BLAS.status
        if rateOnly {
            say("\(s.coreName) \(String(format: "%.1f", BLAS.sgemmRate()))")
            return
        }
        // Under mpirun every rank reports its place; rank 0 goes on with the rest (docs/mpi.md).
        let world = try MPISupport.start(runtime)
        if let world, !world.isRoot {
            say("MPI rank:       \(world.rank) of \(world.size) on \(world.host), \(Parallel.threads) kernel threads")
            return
        }
        say("bss \(BSSCommand.version)")
        say("BLAS library:   \(s.library)")
        say("OpenBLAS core:  \(s.coreName) (\(describe(s)))")
        say("BLAS threads:   1 per worker (the engine runs one product per sample on its own workers)")
        say("kernel threads: \(Parallel.threads)")
        say("convolutions:   " + (ConvBackend.current == .oneDNN ? "oneDNN (\(ConvBackend.oneDNNMessage))"
            : "OpenBLAS im2col + sgemm" + (ConvBackend.oneDNNAvailable ? " (BSS_CONV=openblas)" : " (oneDNN: \(ConvBackend.oneDNNMessage))")))
        if let note = s.note { say("note:           \(note)") }
        if let world {
            say("MPI library:    \(world.library) (\(world.version))")
            say("MPI rank:       \(world.rank) of \(world.size) on \(world.host) (world size \(world.size))")
        } else {
            say("MPI:            not started by mpirun: one process, no MPI call made (Open MPI library: "
                + (MPIWorld.installedLibrary.map { "\($0), loaded only under mpirun" } ?? "not installed; apt-get install openmpi-bin libopenmpi-dev") + ")")
        }
        guard !noTiming else { return }
        say(String(format: "sgemm 1024³:    %.1f GFLOP/s with %@", BLAS.sgemmRate(), s.coreName))
        if s.choice == "user", let own = BLAS.preferredCoreType() {
            if own.caseInsensitiveCompare(s.requested ?? "") == .orderedSame {
                say("the tool's own choice for this CPU is the same kernel (\(own))")
            } else if let (core, rate) = measure(coreType: own) {
                say(String(format: "the tool would choose %@ for this CPU: %.1f GFLOP/s (unset OPENBLAS_CORETYPE to use it)", core, rate))
            } else {
                say("the tool would choose \(own) for this CPU (its rate could not be measured)")
            }
        }
    }

    func describe(_ s: BLAS.Status) -> String {
        switch s.choice {
        case "user":
            let own = BLAS.preferredCoreType().map { "; the tool would choose \($0)" } ?? ""
            return "OPENBLAS_CORETYPE=\(s.requested ?? "") set by the user\(own)"
        case "auto": return "chosen from CPU features: \(s.requested ?? ""), verified against a reference GEMM"
        case "none": return "OpenBLAS not loaded; every other verb refuses to run"
        default: return "OpenBLAS' own detection"
        }
    }

    /// Runs this executable again with `OPENBLAS_CORETYPE=coreType` and reads its rate.
    func measure(coreType: String) -> (String, Double)? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        p.arguments = ["doctor", "--rate-only"] + (Parallel.threads != ProcessInfo.processInfo.activeProcessorCount
                                                     ? ["--threads", "\(Parallel.threads)"] : [])
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_CORETYPE"] = coreType
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let words = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard p.terminationStatus == 0, words.count == 2, let rate = Double(words[1]) else { return nil }
        return (String(words[0]), rate)
    }
}
