import ArgumentParser
import Foundation
import ModelIO

/// `--max-memory` and `--allow-nonfinite`: how far every verb that reads files trusts them.
///
/// `--max-memory` sets `MemoryBudget` (the most memory one file may make a reader allocate;
/// sizes declared by files are checked against it before allocating). `--allow-nonfinite`
/// lets NaN/infinite weights and inputs load (`NonFinite`). Call `apply()` first in `run()`.
struct InputSafetyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The most memory one input file may make bss allocate (default: half of physical memory, \(MemoryBudget.describe(UInt64(MemoryBudget.defaultBytes)))); larger declared sizes are refused before reading. SIZE is \(MemoryBudget.syntax).",
                               valueName: "size"),
            transform: { try MemoryBudget.parse($0) })
    var maxMemory: Int?

    @Flag(help: "Load weights and inputs that hold NaN or infinite values (by default that is an error naming the key).")
    var allowNonfinite = false

    func apply() {
        if let maxMemory { MemoryBudget.bytes = maxMemory }
        NonFinite.allowed = allowNonfinite
    }
}
