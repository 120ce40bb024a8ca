import Foundation
import ModelIO

/// What one epoch did: one line of the metrics log.
///
/// Loss terms are means over the epoch's batches weighted by batch size (`kd_bss` weighted by
/// the BSS used in each batch); accuracies are fractions in [0, 1] (`train_accuracy` from the
/// student's training-mode forwards, `val_accuracy` in inference mode after the epoch).
public struct EpochMetrics: Codable, Equatable, Sendable {
    public var epoch: Int
    public var lr: Double
    public var alpha: Double
    public var beta: Double
    public var loss: Double
    public var ce: Double
    public var kd: Double
    public var kdBSS: Double
    public var trainAccuracy: Double
    public var valAccuracy: Double?
    public var valLoss: Double?
    public var bssAttempted: Int
    public var bssAccepted: Int
    public var bssUsed: Int
    public var batches: Int
    public var samples: Int
    public var seconds: Double
    /// Unweighted feature terms by kind (`fitnet`, `at`, `fsp`), batch-size weighted means;
    /// empty (and absent from the log) without feature terms.
    public var features: [String: Double] = [:]
    /// Processes that trained the epoch (`mpirun -np N`; 1 without MPI). Optional only so logs
    /// written before it existed still read; always written.
    public var mpiWorldSize: Int?

    enum CodingKeys: String, CodingKey {
        case epoch, lr, alpha, beta, loss, ce, kd, kdBSS = "kd_bss", trainAccuracy = "train_accuracy",
             valAccuracy = "val_accuracy", valLoss = "val_loss", bssAttempted = "bss_attempted",
             bssAccepted = "bss_accepted", bssUsed = "bss_used", batches, samples, seconds, features,
             mpiWorldSize = "mpi_world_size"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epoch = try c.decode(Int.self, forKey: .epoch); lr = try c.decode(Double.self, forKey: .lr)
        alpha = try c.decode(Double.self, forKey: .alpha); beta = try c.decode(Double.self, forKey: .beta)
        loss = try c.decode(Double.self, forKey: .loss); ce = try c.decode(Double.self, forKey: .ce)
        kd = try c.decode(Double.self, forKey: .kd); kdBSS = try c.decode(Double.self, forKey: .kdBSS)
        trainAccuracy = try c.decode(Double.self, forKey: .trainAccuracy)
        valAccuracy = try c.decodeIfPresent(Double.self, forKey: .valAccuracy)
        valLoss = try c.decodeIfPresent(Double.self, forKey: .valLoss)
        bssAttempted = try c.decode(Int.self, forKey: .bssAttempted); bssAccepted = try c.decode(Int.self, forKey: .bssAccepted)
        bssUsed = try c.decode(Int.self, forKey: .bssUsed); batches = try c.decode(Int.self, forKey: .batches)
        samples = try c.decode(Int.self, forKey: .samples); seconds = try c.decode(Double.self, forKey: .seconds)
        features = try c.decodeIfPresent([String: Double].self, forKey: .features) ?? [:]
        mpiWorldSize = try c.decodeIfPresent(Int.self, forKey: .mpiWorldSize)
    }

    public init(epoch: Int, lr: Double, alpha: Double, beta: Double) {
        self.epoch = epoch; self.lr = lr; self.alpha = alpha; self.beta = beta
        loss = 0; ce = 0; kd = 0; kdBSS = 0; trainAccuracy = 0
        bssAttempted = 0; bssAccepted = 0; bssUsed = 0; batches = 0; samples = 0; seconds = 0
    }

    /// Keys always present (val ones as `null` when there is no validation data), so every line
    /// of the log has the same fields.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epoch, forKey: .epoch); try c.encode(lr, forKey: .lr)
        try c.encode(alpha, forKey: .alpha); try c.encode(beta, forKey: .beta)
        try c.encode(loss, forKey: .loss); try c.encode(ce, forKey: .ce); try c.encode(kd, forKey: .kd)
        try c.encode(kdBSS, forKey: .kdBSS); try c.encode(trainAccuracy, forKey: .trainAccuracy)
        try c.encode(valAccuracy, forKey: .valAccuracy); try c.encode(valLoss, forKey: .valLoss)
        try c.encode(bssAttempted, forKey: .bssAttempted); try c.encode(bssAccepted, forKey: .bssAccepted)
        try c.encode(bssUsed, forKey: .bssUsed); try c.encode(batches, forKey: .batches)
        try c.encode(samples, forKey: .samples); try c.encode(seconds, forKey: .seconds)
        if !features.isEmpty { try c.encode(features, forKey: .features) }
        try c.encode(mpiWorldSize ?? 1, forKey: .mpiWorldSize)
    }

    /// One JSON object on one line (stable key order).
    public var jsonLine: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        let data = (try? e.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// The metrics log next to the output: JSON lines, one `EpochMetrics` per epoch. Rewritten whole
/// (atomically) after every epoch from the run's history, so a resumed run's log is exactly
/// the uninterrupted one's (timings aside).
public enum MetricsLog {
    public static func write(_ history: [EpochMetrics], to url: URL) throws {
        let text = history.map(\.jsonLine).joined(separator: "\n") + (history.isEmpty ? "" : "\n")
        try writeText(text, to: url)
    }

    public static func read(_ url: URL) throws -> [EpochMetrics] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelIOError(.notFound, file: url.path, "cannot read the metrics log")
        }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated().map { i, line in
            do { return try JSONDecoder().decode(EpochMetrics.self, from: Data(line.utf8)) } catch {
                throw ModelIOError(.malformed, file: url.path, location: "line \(i + 1)", "not an epoch record")
            }
        }
    }
}

/// Writes `text` to `url` through `AtomicFile`.
func writeText(_ text: String, to url: URL) throws {
    try AtomicFile.write(to: url) { temporary in
        do { try Data(text.utf8).write(to: temporary) } catch {
            throw ModelIOError(.io, file: url.path, "cannot write: \(error.localizedDescription)")
        }
    }
}
