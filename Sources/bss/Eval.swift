import ArgumentParser
import Foundation
import ModelIO
import NN
import Tensor

/// `bss eval MODEL --data DATA`: accuracy, cross-entropy, per-class accuracy, confusion matrix.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model on labelled data: accuracy, mean cross-entropy, per-class accuracy, confusion matrix.",
        discussion: """
            Example:
              bss eval teacher.keras --data test.npz --scale 1/255 --json
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var data: DataOptions
    @OptionGroup var batch: BatchSizeOption
    @Flag(help: "Print JSON instead of text.") var json = false
    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var safety: InputSafetyOptions

    func run() throws {
        safety.apply()
        runtime.apply()
        let m = try model.load()
        // A chunk of samples at a time: large image sets are never decoded whole (DataStream).
        let stream = try data.stream(for: m)
        let progress = Progress(total: stream.count, label: "eval", unit: "samples")
        var checked = false
        let (logits, labels) = try data.predict(m, stream, batchSize: batch.value(), progress: progress) { chunk in
            // Before any work: unlabelled data fails on its first chunk.
            if !checked && chunk.y == nil {
                throw ModelIOError(.notFound, file: chunk.file, location: "y", "eval needs labels: no array 'y'")
            }
            checked = true
        }
        progress.finish()
        guard let y = labels else {
            throw ModelIOError(.notFound, file: data.data, location: "y", "eval needs labels: no array 'y'")
        }
        let ds = (file: data.data, count: logits.batch)
        let e = Evaluation(logits: logits, labels: y)
        if json {
            say(jsonString(["model": m.file ?? m.architectureName, "data": ds.file, "samples": ds.count,
                            "accuracy": e.accuracy, "cross_entropy": e.crossEntropy,
                            "per_class_accuracy": e.perClassAccuracy.map { $0.isNaN ? NSNull() : $0 as Any },
                            "confusion_matrix": e.confusion]))
            return
        }
        say("model:         \(m.file ?? m.architectureName)")
        say("data:          \(ds.file) (\(ds.count) samples)")
        say(String(format: "accuracy:      %.6f (%d/%d)", e.accuracy, e.correct, ds.count))
        say(String(format: "cross-entropy: %.6f", e.crossEntropy))
        say("per-class accuracy:")
        for (c, a) in e.perClassAccuracy.enumerated() {
            say(a.isNaN ? "  \(c): no samples" : String(format: "  %d: %.4f (%d)", c, a, e.confusion[c].reduce(0, +)))
        }
        say("confusion matrix (rows: true class, columns: predicted):")
        let w = max(3, String(e.confusion.flatMap { $0 }.max() ?? 0).count)
        for row in e.confusion {
            say("  " + row.map { String(repeating: " ", count: max(0, w - String($0).count)) + String($0) }.joined(separator: " "))
        }
    }
}

/// Classification metrics from logits and integer labels.
struct Evaluation {
    var correct = 0
    var accuracy: Double
    var crossEntropy: Double
    var perClassAccuracy: [Double]
    var confusion: [[Int]]

    init(logits: Tensor, labels: [Int]) {
        let n = logits.batch, c = logits.sampleCount
        confusion = Array(repeating: Array(repeating: 0, count: c), count: c)
        var ce = 0.0
        for i in 0..<n {
            let row = logits.data[(i * c)..<((i + 1) * c)]
            let mx = row.max()!
            let lse = Double(mx) + log(row.reduce(0.0) { $0 + exp(Double($1 - mx)) })
            ce += lse - Double(row[row.startIndex + labels[i]])
            let pred = row.indices.max { row[$0] < row[$1] }! - row.startIndex   // first max on ties
            confusion[labels[i]][pred] += 1
            if pred == labels[i] { correct += 1 }
        }
        accuracy = n > 0 ? Double(correct) / Double(n) : 0
        crossEntropy = n > 0 ? ce / Double(n) : 0
        perClassAccuracy = confusion.enumerated().map { k, row in
            let t = row.reduce(0, +); return t > 0 ? Double(row[k]) / Double(t) : .nan }
    }
}
