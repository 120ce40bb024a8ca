import Foundation
import ModelIO
import Tensor

extension BoundarySimilarity {
    /// The comparison of two BSS data sets, with what the caller should tell the user.
    public struct DatasetComparison {
        public var result: SimilarityResult
        /// The search parameters both files record (nil when they differ).
        public var parameters: BSSParameters?
        /// Non-fatal differences (e.g. different search parameters), one line each.
        public var warnings: [String] = []
    }

    /// MagSim and AngSim from two BSS data sets written by `bss generate` (or any tool writing
    /// the same format) for models A and B, built from the same base samples and targets.
    ///
    /// Pairs are matched by `(base_index, target_class)`. When both files hold every pair, they
    /// must hold the same pairs; a file written with `accepted_only` may hold a subset of the
    /// other's pairs (the missing ones were not accepted), as long as it says it tried as many
    /// pairs as the other file holds. The base samples are not needed: with the stored
    /// `perturbation_norm` values `‖d_A‖`, `‖d_B‖` and `x~_A − x~_B = d_A − d_B`,
    ///
    ///     ⟨d_A, d_B⟩ = (‖d_A‖² + ‖d_B‖² − ‖x~_A − x~_B‖²) / 2.
    ///
    /// `x_bss` is compared in one common NCHW order (`SimilarityAlignment.imageOrder`), so a
    /// Keras teacher's NHWC samples line up with a PyTorch teacher's. Every way the two files do
    /// not line up (class counts, source data, input shapes, pairs, base classes) is a one-line
    /// `ModelIOError` naming the file and what differs.
    public static func compare(_ a: BSSDataset, _ b: BSSDataset, fileA: String, fileB: String) throws -> DatasetComparison {
        let classes = a.teacherLogits.shape[1]
        guard b.teacherLogits.shape[1] == classes else {
            throw ModelIOError(.mismatch, file: fileB, location: "teacher_logits",
                               "\(b.teacherLogits.shape[1]) classes, but \(fileA) has \(classes): the models must have the same classes")
        }
        try checkSameSource(a, b, fileA: fileA, fileB: fileB)
        let alignment = try datasetAlignment(a, b, fileA: fileA, fileB: fileB)
        let (order, rowA, rowB) = try matchPairs(a, b, fileA: fileA, fileB: fileB)

        var comparison = DatasetComparison(result: SimilarityResult(classes: classes))
        let parametersA = a.meta.algorithm.parameters, parametersB = b.meta.algorithm.parameters
        if parametersA == parametersB {
            comparison.parameters = parametersA
        } else {
            comparison.warnings.append("the two data sets were searched with different parameters (\(describe(a.meta.algorithm)) vs \(describe(b.meta.algorithm))): the similarity mixes two algorithms")
        }
        let per = a.x.sampleCount
        for (j, key) in order.enumerated() {
            let ia = rowA[j], ib = rowB[j]
            let okA = ia.map { a.status[$0] == .accepted } ?? false, okB = ib.map { b.status[$0] == .accepted } ?? false
            let la = try ia.map { try norm(a, row: $0, file: fileA) } ?? .nan
            let lb = try ib.map { try norm(b, row: $0, file: fileB) } ?? .nan
            var cosine = Double.nan
            if okA && okB, let ia, let ib {
                let gap = squaredDistance(a.x, row: ia, b.x, row: ib, per: per, alignment: alignment)
                cosine = SimilarityResult.cosine(dot: (la * la + lb * lb - gap) / 2, la, lb)
            }
            comparison.result.append(baseIndex: key.base, baseClass: ia.map { a.baseClass[$0] } ?? b.baseClass[ib!],
                                     targetClass: key.target, acceptedA: okA, acceptedB: okB,
                                     distanceA: la, distanceB: lb, cosine: cosine)
        }
        return comparison
    }

    /// Same source data (by content hash) read with the same scale.
    private static func checkSameSource(_ a: BSSDataset, _ b: BSSDataset, fileA: String, fileB: String) throws {
        let da = a.meta.data, db = b.meta.data
        guard da.sha256 == db.sha256 else {
            throw ModelIOError(.mismatch, file: fileB, location: "meta.data",
                               "built from \(db.file) (sha256 \(db.sha256.prefix(12))…), but \(fileA) from \(da.file) (sha256 \(da.sha256.prefix(12))…): base samples must come from the same data")
        }
        guard da.scale == db.scale else {
            throw ModelIOError(.mismatch, file: fileB, location: "meta.data.scale",
                               "inputs scaled by \(db.scale.map { "\($0)" } ?? "nothing"), but in \(fileA) by \(da.scale.map { "\($0)" } ?? "nothing"): the perturbations are in different input spaces")
        }
    }

    /// The element correspondence of the two files' samples (engine layout, after `read`).
    private static func datasetAlignment(_ a: BSSDataset, _ b: BSSDataset, fileA: String, fileB: String) throws -> SimilarityAlignment {
        let sa = Array(a.x.shape.dropFirst()), sb = Array(b.x.shape.dropFirst())
        if sa == sb { return .identity }
        let common = sb.count == 3 && sa.count != 3 ? sb : sa
        guard let oa = SimilarityAlignment.imageOrder(commonShape: common, inputShape: sa, layout: a.storedLayout),
              let ob = SimilarityAlignment.imageOrder(commonShape: common, inputShape: sb, layout: b.storedLayout),
              let alignment = SimilarityAlignment(aToCommon: oa, bToCommon: ob) else {
            throw ModelIOError(.mismatch, file: fileB, location: "x_bss",
                               "samples of shape \(sb) (\(b.meta.inputLayout) teacher) cannot be compared with \(fileA)'s \(sa) (\(a.meta.inputLayout) teacher): the models read different inputs")
        }
        return alignment
    }

    /// The attempted pairs in order, with their rows in A and in B (nil: not in that file,
    /// i.e. not accepted by a file holding accepted pairs only).
    private static func matchPairs(_ a: BSSDataset, _ b: BSSDataset, fileA: String, fileB: String) throws
        -> (keys: [PairKey], rowA: [Int?], rowB: [Int?]) {
        let indexA = try index(a, file: fileA), indexB = try index(b, file: fileB)
        let onlyA = a.meta.selection.acceptedOnly, onlyB = b.meta.selection.acceptedOnly
        if onlyA && onlyB {
            throw ModelIOError(.mismatch, file: fileB, location: "meta.selection.accepted_only",
                               "both \(fileA) and \(fileB) hold accepted pairs only, so the pairs attempted cannot be lined up; write at least one of them with every pair")
        }
        // The file holding every pair attempted fixes the order; the other must fit into it.
        let (full, fullFile, part, partFile, partIndex) = onlyA ? (b, fileB, a, fileA, indexA) : (a, fileA, b, fileB, indexB)
        let fullIndex = onlyA ? indexB : indexA
        if let missing = part.keys.first(where: { fullIndex[$0] == nil }) {
            throw ModelIOError(.mismatch, file: partFile, location: "base_index",
                               "pair (base_index \(missing.base), target_class \(missing.target)) is not in \(fullFile): the data sets were not built from the same base samples and targets")
        }
        if onlyA || onlyB {
            guard part.meta.counts.pairsTried == full.count else {
                throw ModelIOError(.mismatch, file: partFile, location: "meta.counts.pairs_tried",
                                   "\(part.meta.counts.pairsTried) pairs tried, but \(fullFile) holds \(full.count): the data sets were not built from the same pairs")
            }
        } else if let missing = full.keys.first(where: { partIndex[$0] == nil }) {
            throw ModelIOError(.mismatch, file: partFile, location: "base_index",
                               "has no pair (base_index \(missing.base), target_class \(missing.target)) of \(fullFile) (\(part.count) vs \(full.count) pairs): the data sets were not built from the same base samples and targets")
        }
        let keys = full.keys
        let rowA = keys.map { indexA[$0] }, rowB = keys.map { indexB[$0] }
        for (j, key) in keys.enumerated() {
            if let ia = rowA[j], let ib = rowB[j], a.baseClass[ia] != b.baseClass[ib] {
                throw ModelIOError(.mismatch, file: fileB, location: "base_class",
                                   "row \(ib): base sample \(key.base) has class \(b.baseClass[ib]), in \(fileA) \(a.baseClass[ia])")
            }
        }
        return (keys, rowA, rowB)
    }

    struct PairKey: Hashable { var base: Int, target: Int }

    /// Row of each pair; a repeated pair is an error.
    private static func index(_ d: BSSDataset, file: String) throws -> [PairKey: Int] {
        var out: [PairKey: Int] = [:]
        out.reserveCapacity(d.count)
        for (row, key) in d.keys.enumerated() {
            if let first = out.updateValue(row, forKey: key) {
                throw ModelIOError(.mismatch, file: file, location: "base_index",
                                   "rows \(first) and \(row) hold the same pair (base_index \(key.base), target_class \(key.target))")
            }
        }
        return out
    }

    /// The stored `‖x_bss − x_base‖` of a row, checked.
    private static func norm(_ d: BSSDataset, row: Int, file: String) throws -> Double {
        let v = d.perturbationNorm[row]
        guard v.isFinite, v >= 0 else {
            throw ModelIOError(.mismatch, file: file, location: "perturbation_norm", "row \(row): \(v) is not a distance")
        }
        return Double(v)
    }

    /// `‖x_a[row] − x_b[row]‖²` with B's elements read through `alignment`.
    private static func squaredDistance(_ xa: Tensor, row ra: Int, _ xb: Tensor, row rb: Int, per: Int,
                                        alignment: SimilarityAlignment) -> Double {
        xa.data.withUnsafeBufferPointer { pa in
            xb.data.withUnsafeBufferPointer { pb in
                let u = pa.baseAddress! + ra * per, v = pb.baseAddress! + rb * per
                var s = 0.0
                if let map = alignment.bFromA {
                    for e in 0..<per { let d = Double(u[e]) - Double(v[map[e]]); s += d * d }
                } else {
                    for e in 0..<per { let d = Double(u[e]) - Double(v[e]); s += d * d }
                }
                return s
            }
        }
    }

    private static func describe(_ p: BSSMetadata.Algorithm) -> String {
        "\(p.mode), eta \(p.eta), eps \(p.eps), \(p.maxSteps) steps, \(p.stepNorm), clip \(p.clip.map { "\($0)" } ?? "none")"
    }
}

extension BSSDataset {
    /// `(base_index, target_class)` of every row.
    fileprivate var keys: [BoundarySimilarity.PairKey] {
        zip(baseIndex, targetClass).map { BoundarySimilarity.PairKey(base: $0, target: $1) }
    }
}
