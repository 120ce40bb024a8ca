import NN
import Tensor

/// Which samples BSS searches start from (docs/algorithm.md, "Base samples").
public enum BaseSelection {
    /// Distillation: rows both classify correctly; if more than `limit`, the `limit` rows with the
    /// largest sum_{c != y} (p_t(c) - p_s(c))^2 (T = 1), in that order.
    ///
    /// Shapes: logits `[B, C]`, `labels` B classes. At most `limit` qualifying rows are returned
    /// in increasing row order; past that, by decreasing score (ties: lower row first).
    public static func forDistillation(teacherLogits: Tensor, studentLogits: Tensor, labels: [Int], limit: Int) -> [Int] {
        precondition(teacherLogits.shape == studentLogits.shape && teacherLogits.rank == 2,
                     "BaseSelection: teacher \(teacherLogits.shape) and student \(studentLogits.shape) logits must be [B, C]")
        let classes = teacherLogits.shape[1]
        let teacherTop = argmax(rows: teacherLogits), studentTop = argmax(rows: studentLogits)
        precondition(labels.count == teacherTop.count, "BaseSelection: \(labels.count) labels for \(teacherTop.count) rows")
        let rows = labels.indices.filter { teacherTop[$0] == labels[$0] && studentTop[$0] == labels[$0] }
        guard rows.count > limit else { return rows }
        guard limit > 0 else { return [] }
        let pt = softmax(teacherLogits), ps = softmax(studentLogits)
        let scores: [Double] = rows.map { r in
            var s: Double = 0
            for c in 0..<classes where c != labels[r] {
                let d = Double(pt.data[r * classes + c]) - Double(ps.data[r * classes + c])
                s += d * d
            }
            return s
        }
        let order = rows.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        return order.prefix(limit).map { rows[$0] }
    }

    /// Generation from a data set: the rows whose teacher argmax equals the label, in row order
    /// (the first `limit` of them when `limit` is given).
    public static func correctlyClassified(logits: Tensor, labels: [Int], limit: Int? = nil) -> [Int] {
        let top = argmax(rows: logits)
        precondition(labels.count == top.count, "BaseSelection: \(labels.count) labels for \(top.count) rows")
        var rows: [Int] = []
        for r in labels.indices where top[r] == labels[r] {
            if let limit, rows.count >= limit { break }
            rows.append(r)
        }
        return rows
    }
}
