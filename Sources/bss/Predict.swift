import ArgumentParser
import Foundation
import ModelIO
import NN
import Tensor

/// `bss predict MODEL --data DATA --out OUT.npz`: logits for every sample.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the model's logits (pre-softmax, float32, N x classes) to an .npz under key 'logits'.",
        discussion: """
            Example:
              bss predict model.npz --arch heo2019-resnet26 --data test.npz --out out/logits.npz --probabilities
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var data: DataOptions
    @Option(help: "Output .npz file (missing folders are created).") var out: String
    @OptionGroup var batch: BatchSizeOption
    @Flag(help: "Also write softmax probabilities under key 'probabilities'.") var probabilities = false
    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var safety: InputSafetyOptions

    func validate() throws {
        guard out.hasSuffix(".npz") else { throw ValidationError("--out must end in .npz") }
    }

    func run() throws {
        runtime.apply()
        safety.apply()
        try OutputPath.checkNotAnInput(out, inputs: [model.model, model.arch, data.data])
        let m = try model.load()
        // A chunk of samples at a time: large image sets are never decoded whole (DataStream).
        let stream = try data.stream(for: m)
        let progress = Progress(total: stream.count, label: "predict", unit: "samples")
        let logits = try data.predict(m, stream, batchSize: batch.value(), progress: progress).logits
        progress.finish()
        var entries: [(String, NumpyArray)] = [("logits", NumpyArray(logits))]
        if probabilities { entries.append(("probabilities", NumpyArray(softmax(logits)))) }
        try Npz.write(entries, to: URL(fileURLWithPath: out))
        note("wrote \(out): logits \(logits.shape)")
    }
}
