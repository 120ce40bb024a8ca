import Foundation

/// Statistics of one generation run, for the end-of-run summary and `--json`.
///
/// - counts per status (meaning per mode, see `BSSStatus.meaning(in:)`);
/// - `stepHistogram[s]`: pairs that stopped after `s` updates (`0...maxSteps`), all pairs and
///   accepted pairs;
/// - mean and median `‖x_bss − x_base‖₂` over the accepted pairs (nil when none);
/// - `tried[b][k]`, `accepted[b][k]`: the base-class × target-class acceptance table;
/// - throughput: pairs per second of the search (teacher passes included).
public struct BSSReport {
    public var mode: BSSMode
    public var classes: Int
    public var pairs: Int
    public var counts: [BSSStatus: Int]
    public var stepHistogram: [Int]
    public var acceptedStepHistogram: [Int]
    public var meanNorm: Double?
    public var medianNorm: Double?
    public var tried: [[Int]]
    public var accepted: [[Int]]
    public var seconds: Double
    /// Per-sample teacher evaluations (forward rows) and input-gradient rows.
    public var forwardRows: Int
    public var backwardRows: Int

    public var pairsPerSecond: Double { seconds > 0 ? Double(pairs) / seconds : 0 }

    public init(result: BSSBatchResult, baseClass: [Int], targetClass: [Int], norms: [Float], classes: Int,
                parameters: BSSParameters, seconds: Double) {
        mode = parameters.mode
        self.classes = classes
        pairs = result.status.count
        counts = Dictionary(uniqueKeysWithValues: BSSStatus.allCases.map { s in (s, result.count(s)) })
        stepHistogram = [Int](repeating: 0, count: parameters.maxSteps + 1)
        acceptedStepHistogram = stepHistogram
        tried = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        accepted = tried
        var acceptedNorms: [Double] = []
        for j in 0..<pairs {
            let s = min(max(result.steps[j], 0), parameters.maxSteps)
            stepHistogram[s] += 1
            tried[baseClass[j]][targetClass[j]] += 1
            if result.status[j] == .accepted {
                acceptedStepHistogram[s] += 1
                accepted[baseClass[j]][targetClass[j]] += 1
                acceptedNorms.append(Double(norms[j]))
            }
        }
        if !acceptedNorms.isEmpty {
            meanNorm = acceptedNorms.reduce(0, +) / Double(acceptedNorms.count)
            let sorted = acceptedNorms.sorted(), m = sorted.count / 2
            medianNorm = sorted.count % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2
        }
        self.seconds = seconds
        forwardRows = result.forwardRows
        backwardRows = result.backwardRows
    }

    /// JSON-ready values (keys snake_case; the acceptance table as rows = base class).
    public var jsonObject: [String: Any] {
        var rejected: [String: Int] = [:]
        for s in [BSSStatus.rejectedOtherClass, .rejectedStepLimit] { rejected[s.key] = counts[s] ?? 0 }
        return [
            "mode": mode.rawValue, "pairs_tried": pairs, "accepted": counts[.accepted] ?? 0, "rejected": rejected,
            "status_meaning": Dictionary(uniqueKeysWithValues: BSSStatus.allCases.map { ($0.key, $0.meaning(in: mode)) }),
            "steps_histogram": stepHistogram, "steps_histogram_accepted": acceptedStepHistogram,
            "perturbation_norm_accepted": ["mean": meanNorm.map { $0 as Any } ?? NSNull(),
                                           "median": medianNorm.map { $0 as Any } ?? NSNull()],
            "acceptance_table": ["rows": "base class", "columns": "target class", "tried": tried, "accepted": accepted],
            "seconds": seconds, "pairs_per_second": pairsPerSecond,
            "teacher_forward_rows": forwardRows, "teacher_backward_rows": backwardRows,
        ]
    }

    /// The human-readable summary, one line per entry.
    public var lines: [String] {
        var out: [String] = []
        let acc = counts[.accepted] ?? 0
        out.append("pairs tried:   \(pairs)")
        out.append("\(BSSStatus.accepted.meaning(in: mode)):\(pad(BSSStatus.accepted.meaning(in: mode))) \(acc) (\(percent(acc)))")
        for s in [BSSStatus.rejectedOtherClass, .rejectedStepLimit] {
            let c = counts[s] ?? 0
            out.append("\(s.meaning(in: mode)):\(pad(s.meaning(in: mode))) \(c) (\(percent(c)))")
        }
        out.append("steps (updates applied) histogram, all / accepted:")
        for (s, n) in stepHistogram.enumerated() where n > 0 {
            out.append(String(format: "  %2d: %6d / %6d", s, n, acceptedStepHistogram[s]))
        }
        if let meanNorm, let medianNorm {
            out.append(String(format: "perturbation norm ||x_bss - x_base|| (status 1: %@): mean %.5g, median %.5g",
                              BSSStatus.accepted.meaning(in: mode), meanNorm, medianNorm))
        } else {
            out.append("perturbation norm: no pairs with status 1 (\(BSSStatus.accepted.meaning(in: mode)))")
        }
        out.append("acceptance (accepted/tried) by base class (rows) and target class (columns):")
        let width = max(5, String(tried.flatMap { $0 }.max() ?? 0).count * 2 + 1)
        out.append("     " + (0..<classes).map { cell("\($0)", width) }.joined(separator: " "))
        for b in 0..<classes {
            let cells = (0..<classes).map { k in b == k || tried[b][k] == 0 ? cell("-", width) : cell("\(accepted[b][k])/\(tried[b][k])", width) }
            out.append(cell("\(b)", 4) + " " + cells.joined(separator: " "))
        }
        out.append(String(format: "throughput: %.1f pairs/s (%.2f s; %d teacher evaluations, %d input gradients)",
                          pairsPerSecond, seconds, forwardRows, backwardRows))
        return out
    }

    private func percent(_ n: Int) -> String {
        pairs > 0 ? String(format: "%.1f%%", 100 * Double(n) / Double(pairs)) : "-"
    }

    private func pad(_ label: String) -> String { String(repeating: " ", count: max(0, 31 - label.count)) }

    private func cell(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
}
