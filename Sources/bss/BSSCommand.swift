import ArgumentParser
import Cluster
import Diagnostics
import Foundation
import ModelIO
import NN
import ONNX
import Tensor

/// `bss`: boundary-supporting-sample knowledge distillation for models from any framework.
@main
struct BSSCommand: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "bss",
        abstract: "Boundary-supporting-sample knowledge distillation for Keras and PyTorch models.",
        version: version,
        subcommands: [Inspect.self, Predict.self, Eval.self, Verify.self, PresetsCommand.self, Convert.self, Generate.self, Similarity.self, DistillCommand.self, ExperimentCommand.self, DataCommand.self, ReportCommand.self, Doctor.self]
    )

    /// Runs the command; user errors (any `UserFacingError`, bad flags included) become one line
    /// on stderr and exit status 1. Ctrl-C stops cleanly (`Interrupt`).
    static func main() {
        // The hidden reader child of HDF5Isolation: libhdf5 reads untrusted HDF5 files in a
        // process of their own, so a crash inside the library cannot take bss down.
        if CommandLine.arguments.dropFirst().first == HDF5Isolation.childArgument {
            HDF5Isolation.childMain(Array(CommandLine.arguments.dropFirst(2)))
        }
        if ProcessInfo.processInfo.environment["BSS_HDF5_IN_PROCESS"] != "1" {
            #if os(Linux)
            HDF5Isolation.enable(executable: "/proc/self/exe")
            #else
            HDF5Isolation.enable(executable: Bundle.main.executablePath)
            #endif
        }
        Interrupt.install()
        ONNXImport.register()   // `.onnx` wherever a model file is accepted (ModelLoader+Formats.swift)
        ONNXWriter.register(producerVersion: version)   // `.onnx` outputs of convert and distill (ModelWriterRegistry)
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            var command = try parseAsRoot(arguments)
            // `doctor` reports a missing OpenBLAS itself; every other verb needs it.
            if !(command is Doctor) { try BLAS.requireOpenBLAS() }
            try command.run()
            MPIWorld.current?.finalize()
        } catch let e as UserFacingError {
            // Every error a user can cause or fix (docs/design.md, "Errors"): one line.
            fail(e.oneLine)
        } catch {
            let code = exitCode(for: error)
            let text = message(for: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }.joined(separator: " ")
            // Help, --version and completion scripts are not errors; neither is a bare exit code.
            guard code != .success, !text.isEmpty else { exit(withError: error) }
            let verb = (["bss"] + verbPath(arguments)).joined(separator: " ")
            fail("\(text) (see '\(verb) --help')", status: code.rawValue)
        }
    }

    /// The subcommand names at the start of `arguments` (`data convert` for `bss data convert X Y`).
    static func verbPath(_ arguments: [String]) -> [String] {
        var path: [String] = [], commands: [ParsableCommand.Type] = configuration.subcommands
        for a in arguments {
            guard let c = commands.first(where: { $0._commandName == a }) else { break }
            path.append(a)
            commands = c.configuration.subcommands
        }
        return path
    }

    static func fail(_ message: String, status: Int32 = 1) -> Never {
        while Interrupt.inProgress { sleep(1) }   // Interrupt exits with 130
        // Under mpirun the failing rank names itself and stops every rank (docs/mpi.md).
        if let world = MPIWorld.current, world.size > 1 {
            FileHandle.standardError.write(Data("bss: error: [rank \(world.rank)/\(world.size)] \(message)\n".utf8))
            world.abort(code: 1)
        }
        FileHandle.standardError.write(Data("bss: error: \(message)\n".utf8))
        Foundation.exit(status)
    }
}

/// A user error detected by the CLI itself (bad flag combination, empty data, ...).
struct UserError: UserFacingError {
    var message: String
    var hint: String?
    init(_ message: String, hint: String? = nil) { self.message = message; self.hint = hint }
    var kind: ErrorKind { .usage }
}

/// `--threads`, shared by every command that runs a model (in `distill` also the run-config
/// key `threads`).
struct RuntimeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Worker threads, >= 1 (default: all cores). OpenBLAS itself runs single-threaded on each worker. The same count gives the same results bit for bit.",
                               valueName: "n"))
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, found \(threads)") }
    }

    func apply() {
        if let threads { Parallel.threads = threads }
    }
}

/// Prints a result to stdout (notes, warnings and "wrote ..." go to stderr: `note`).
func say(_ s: String) { print(s) }

/// JSON text for `--json` outputs (stable key order).
func jsonString(_ object: Any) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self)
}
