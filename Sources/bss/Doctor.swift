import ArgumentParser
import Foundation
import Tensor

/// `bss doctor`: what this machine gives the engine (BLAS kernels, threads).
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the BLAS library and kernels in use, and the thread count.")

    func run() throws {
        let s = BLAS.status
        say("bss \(BSSCommand.version)")
        say("BLAS library:   \(s.library)")
        say("OpenBLAS core:  \(s.coreName) (\(describe(s)))")
        say("BLAS threads:   \(s.threads)")
        say("kernel threads: \(Parallel.threads)")
        if let note = s.note { say("note:           \(note)") }
    }

    func describe(_ s: BLAS.Status) -> String {
        switch s.choice {
        case "user": return "OPENBLAS_CORETYPE=\(s.requested ?? "") set by the user"
        case "auto": return "chosen from CPU features: \(s.requested ?? ""), verified against a reference GEMM"
        default: return "OpenBLAS' own detection"
        }
    }
}
