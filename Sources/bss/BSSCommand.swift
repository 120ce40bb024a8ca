import ArgumentParser
import Cluster
import Foundation
import ModelIO
import NN
import Tensor

/// `bss`: boundary-supporting-sample knowledge distillation for models from any framework.
@main
struct BSSCommand: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "bss",
        abstract: "Boundary-supporting-sample knowledge distillation for Keras and PyTorch models.",
        version: version,
        subcommands: [Inspect.self, Predict.self, Eval.self, Verify.self, PresetsCommand.self, Convert.self, Generate.self, Similarity.self, DistillCommand.self, DataCommand.self, Doctor.self]
    )

    /// Runs the command; user errors become one line on stderr and exit status 1.
    static func main() {
        do {
            var command = try parseAsRoot(Generate.normaliseArguments(Array(CommandLine.arguments.dropFirst())))
            try command.run()
            MPIWorld.current?.finalize()
        } catch let e as ModelIOError {
            fail(e.description)
        } catch let e as NNError {
            fail(e.description)
        } catch let e as UserError {
            fail(e.message)
        } catch let e as MPIError {
            fail(e.message)
        } catch {
            if MPIWorld.current.map({ $0.size > 1 }) == true { fail("\(error)") }
            exit(withError: error)
        }
    }

    static func fail(_ message: String) -> Never {
        // Under mpirun the failing rank names itself and stops every rank (docs/mpi.md).
        if let world = MPIWorld.current, world.size > 1 {
            FileHandle.standardError.write(Data("bss: error: [rank \(world.rank)/\(world.size)] \(message)\n".utf8))
            world.abort(code: 1)
        }
        FileHandle.standardError.write(Data("bss: error: \(message)\n".utf8))
        Foundation.exit(1)
    }
}

/// A user error detected by the CLI itself (bad flag combination, empty data, ...).
struct UserError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Options shared by every command that runs a model.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Worker threads (default: all cores). OpenBLAS itself runs single-threaded on each worker.")
    var threads: Int?

    func apply() {
        if let threads { Parallel.threads = max(1, threads) }
    }
}

/// Prints to stdout.
func say(_ s: String) { print(s) }

/// JSON text for `--json` outputs (stable key order).
func jsonString(_ object: Any) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self)
}
