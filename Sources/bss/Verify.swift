import ArgumentParser
import Foundation
import ModelIO
import NN
import Tensor

/// `bss verify MODEL --data X --reference LOGITS.npz`: our logits against logits computed in
/// the model's own framework, to catch a wrong architecture or convention (e.g. a CIFAR ResNet
/// loaded under the other option-A family, which no key check can see).
///
/// Passes when `max |ours − reference| ≤ tolerance · max |reference|`; prints that difference,
/// the largest element-wise relative difference and argmax agreement; exits 1 beyond it.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare the model's logits with reference logits from its own framework; exit 1 beyond the tolerance.",
        discussion: """
            The reference is an .npz with the logits for DATA (N x classes) under key 'logits', or as its only \
            array. In PyTorch: model.eval(); numpy.savez("ref.npz", logits=model(torch.from_numpy(x)).detach().numpy()).

            Example:
              bss verify resnet20.npz --arch akamaster-resnet20 --data x.npz --reference ref.npz
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var data: DataOptions
    @Option(help: ArgumentHelp("Reference logits (.npz): key 'logits' or the only array, N x classes.", valueName: "logits.npz"))
    var reference: String
    @Option(help: "Largest allowed max |ours - reference|, relative to the largest |reference| logit.")
    var tolerance: Double = 1e-4
    @Option(help: "Samples per forward pass.") var batchSize = 128
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard tolerance > 0, tolerance.isFinite else { throw ValidationError("--tolerance must be a positive number") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        runtime.apply()
        let m = try model.load()
        let ds = try data.load(for: m)
        let (key, ref) = try Self.readReference(reference)
        guard ref.shape == [ds.count, m.classes] else {
            throw ModelIOError(.mismatch, file: reference, location: key,
                               "reference logits have shape \(ref.shape), expected [\(ds.count), \(m.classes)] (samples in \(ds.file) × the model's classes)")
        }
        let expected = try ref.floats(file: reference, key: key)
        let ours = m.graph.predict(ds.x, batchSize: batchSize).data
        let c = VerifyComparison(ours: ours, reference: expected, classes: m.classes, tolerance: tolerance)
        say("model:            \(m.file ?? m.architectureName) (architecture \(m.architectureName))")
        say("data:             \(ds.file) (\(ds.count) samples)")
        say("reference:        \(reference) (key '\(key)', \(ds.count) x \(m.classes))")
        say(String(format: "max |difference|: %.6g", c.maxAbs))
        say(String(format: "largest |logit|:  %.6g (reference)", c.scale))
        say(String(format: "max relative:     %.6g of the largest logit (tolerance %.3g); element-wise up to %.6g", c.relative, tolerance, c.maxElementwise))
        say(String(format: "argmax agreement: %d/%d (%.2f%%)", c.agree, ds.count, ds.count > 0 ? 100 * Double(c.agree) / Double(ds.count) : 100))
        say(c.passed ? "result:           PASS" : "result:           FAIL")
        guard c.passed else {
            throw UserError(String(format: "%@: logits differ from %@ by %.3g of the largest logit (tolerance %.3g): the architecture or its convention does not match the weights (for CIFAR ResNets: heo2019- vs akamaster-, see `bss presets`)",
                                   model.model, reference, c.relative, tolerance))
        }
    }

    /// The array under `logits`, or the file's only array.
    static func readReference(_ path: String) throws -> (String, NumpyArray) {
        let arrays = try Npz.readDictionary(URL(fileURLWithPath: path))
        if let a = arrays["logits"] { return ("logits", a) }
        guard arrays.count == 1, let only = arrays.first else {
            throw ModelIOError(.notFound, file: path, location: "logits",
                               "no array 'logits' and not a single array (found: \(arrays.keys.sorted().joined(separator: ", ")))")
        }
        return (only.key, only.value)
    }
}

/// Our logits against reference logits, row-major `[N, classes]`.
struct VerifyComparison {
    var maxAbs = 0.0
    var scale = 0.0
    var maxElementwise = 0.0
    var agree = 0
    var relative: Double { scale > 0 ? maxAbs / scale : maxAbs }
    var passed: Bool

    init(ours: [Float], reference: [Float], classes: Int, tolerance: Double) {
        var finite = true
        for (a, b) in zip(ours, reference) {
            let d = abs(Double(a) - Double(b))
            if !d.isFinite { finite = false }
            maxAbs = max(maxAbs, d)
            scale = max(scale, abs(Double(b)))
            if b != 0 { maxElementwise = max(maxElementwise, d / abs(Double(b))) }
        }
        let n = classes > 0 ? reference.count / classes : 0
        for i in 0..<n {
            let r = (i * classes)..<((i + 1) * classes)
            let ao = r.max { ours[$0] < ours[$1] }!, ar = r.max { reference[$0] < reference[$1] }!
            if ao == ar { agree += 1 }
        }
        passed = finite && (scale > 0 ? maxAbs <= tolerance * scale : maxAbs <= tolerance)
    }
}
