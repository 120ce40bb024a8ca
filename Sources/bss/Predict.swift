import ArgumentParser
import Foundation
import ModelIO
import NN
import Tensor

/// `bss predict MODEL --data DATA --out OUT.npz`: logits for every sample.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the model's logits (pre-softmax, float32, N x classes) to an .npz under key 'logits'.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var data: DataOptions
    @Option(help: "Output .npz file.") var out: String
    @Option(help: "Samples per forward pass.") var batchSize = 128
    @Flag(help: "Also write softmax probabilities under key 'probabilities'.") var probabilities = false
    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var safety: InputSafetyOptions

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard out.hasSuffix(".npz") else { throw ValidationError("--out must end in .npz") }
    }

    func run() throws {
        runtime.apply()
        safety.apply()
        try OutputPath.checkNotAnInput(out, inputs: [model.model, model.arch, data.data])
        let m = try model.load()
        let ds = try data.load(for: m)
        let progress = Progress(total: ds.count, label: "predict", unit: "samples")
        let logits = m.graph.predict(ds.x, batchSize: batchSize) { progress.update($0) }
        progress.finish()
        var entries: [(String, NumpyArray)] = [("logits", NumpyArray(logits))]
        if probabilities { entries.append(("probabilities", NumpyArray(softmax(logits)))) }
        try Npz.write(entries, to: URL(fileURLWithPath: out))
        FileHandle.standardError.write(Data("wrote \(out): logits \(logits.shape)\n".utf8))
    }
}
