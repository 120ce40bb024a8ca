import Foundation
import ModelIO

/// The per-pair outcome of comparing the decision boundaries of two models A and B
/// (docs/algorithm.md, "Boundary similarity"), and the similarity it gives.
///
/// For every attempted (base sample `x_n`, target class `k`) pair: whether each model's BSS
/// search was accepted, the distances `‖d_A‖`, `‖d_B‖` of its BSS from the start
/// (`d = x~ − x_n`, whole flattened sample) and `cos(d_A, d_B)`. With `P` the pairs both
/// accepted:
///
///     MagSim = mean over P of  min(‖d_A‖, ‖d_B‖) / max(‖d_A‖, ‖d_B‖)
///     AngSim = mean over P of  max(0, cos(d_A, d_B))
///
/// Both lie in [0, 1]; a model against itself scores 1 and 1. Degenerate pairs (a zero
/// perturbation, possible only for BSS data sets whose base samples were not classified
/// correctly): two zero perturbations count as identical (ratio 1, cosine 1), one zero
/// perturbation as ratio 0, cosine 0.
public struct SimilarityResult: Equatable {
    /// Number of classes of both models.
    public var classes: Int
    /// Per pair, in pair order: row of the base sample in the data, its class `b`, the target `k`.
    public var baseIndex: [Int] = []
    public var baseClass: [Int] = []
    public var targetClass: [Int] = []
    /// Whether model A's (B's) BSS search was accepted (`BSSStatus.accepted`).
    public var acceptedA: [Bool] = []
    public var acceptedB: [Bool] = []
    /// `‖d_A‖`, `‖d_B‖` (Euclidean, Double accumulation); meaningful where accepted.
    public var distanceA: [Double] = []
    public var distanceB: [Double] = []
    /// `cos(d_A, d_B)` in [−1, 1] where both were accepted, NaN elsewhere.
    public var cosine: [Double] = []

    public init(classes: Int) { self.classes = classes }

    /// Number of pairs attempted.
    public var count: Int { baseIndex.count }

    /// Whether pair `j` is in `P` (both accepted).
    @inlinable public func isCompared(_ j: Int) -> Bool { acceptedA[j] && acceptedB[j] }

    /// Appends one pair.
    public mutating func append(baseIndex: Int, baseClass: Int, targetClass: Int, acceptedA: Bool, acceptedB: Bool,
                                distanceA: Double, distanceB: Double, cosine: Double) {
        self.baseIndex.append(baseIndex); self.baseClass.append(baseClass); self.targetClass.append(targetClass)
        self.acceptedA.append(acceptedA); self.acceptedB.append(acceptedB)
        self.distanceA.append(distanceA); self.distanceB.append(distanceB)
        self.cosine.append(acceptedA && acceptedB ? cosine : .nan)
    }

    /// `min/max` of the two distances (1 when both are 0).
    public static func magnitudeRatio(_ a: Double, _ b: Double) -> Double {
        let hi = max(a, b)
        return hi > 0 ? min(a, b) / hi : 1
    }

    /// `⟨d_A, d_B⟩ / (‖d_A‖ ‖d_B‖)` clamped to [−1, 1] (rounding can step past it); 1 when both
    /// are zero, 0 when one is.
    public static func cosine(dot: Double, _ a: Double, _ b: Double) -> Double {
        if a == 0 || b == 0 { return a == b ? 1 : 0 }
        return min(1, max(-1, dot / (a * b)))
    }

    /// The summary over every pair (`baseClass == nil`) or over the pairs of one base class.
    public func summary(baseClass only: Int? = nil) -> SimilaritySummary {
        var s = SimilaritySummary()
        var mag = 0.0, ang = 0.0, sumA = 0.0, sumB = 0.0, accA = 0.0, accB = 0.0
        for j in 0..<count where only == nil || baseClass[j] == only {
            s.pairsAttempted += 1
            if acceptedA[j] { s.acceptedA += 1; accA += distanceA[j] }
            if acceptedB[j] { s.acceptedB += 1; accB += distanceB[j] }
            guard isCompared(j) else { continue }
            s.pairsCompared += 1
            mag += Self.magnitudeRatio(distanceA[j], distanceB[j])
            ang += max(0, cosine[j])
            sumA += distanceA[j]; sumB += distanceB[j]
        }
        if s.pairsCompared > 0 {
            let n = Double(s.pairsCompared)
            s.magsim = mag / n; s.angsim = ang / n
            s.meanDistanceA = sumA / n; s.meanDistanceB = sumB / n
        }
        if s.acceptedA > 0 { s.meanAcceptedDistanceA = accA / Double(s.acceptedA) }
        if s.acceptedB > 0 { s.meanAcceptedDistanceB = accB / Double(s.acceptedB) }
        return s
    }

    /// One summary per base class `0..<classes`.
    public var perClass: [SimilaritySummary] { (0..<classes).map { summary(baseClass: $0) } }
}

/// MagSim, AngSim and the counts behind them, over a set of pairs (see `SimilarityResult`).
/// Values are nil when no pair qualifies (no pair both accepted, or none accepted by a model).
public struct SimilaritySummary: Equatable {
    public var pairsAttempted = 0
    /// `|P|`: pairs both models' searches accepted.
    public var pairsCompared = 0
    public var acceptedA = 0
    public var acceptedB = 0
    public var magsim: Double?
    public var angsim: Double?
    /// Mean `‖d_A‖`, `‖d_B‖` over `P` (the distances MagSim compares).
    public var meanDistanceA: Double?
    public var meanDistanceB: Double?
    /// Mean `‖d_A‖` over the pairs A accepted, `‖d_B‖` over those B accepted.
    public var meanAcceptedDistanceA: Double?
    public var meanAcceptedDistanceB: Double?

    public init() {}
}

extension SimilarityResult {
    /// The per-pair values as JSON arrays (the optional `pairs` member of a similarity report,
    /// Schemas/similarity-report.schema.json): `base_index`, `base_class`, `target_class`,
    /// `accepted_a`, `accepted_b`, `distance_a`, `distance_b` and `cosine` (null where the pair
    /// was not accepted by both), so plots can be redrawn from the report alone.
    public var pairsJSONObject: [String: Any] {
        ["base_index": baseIndex, "base_class": baseClass, "target_class": targetClass, "accepted_a": acceptedA,
         "accepted_b": acceptedB, "distance_a": distanceA, "distance_b": distanceB,
         "cosine": cosine.map { $0.isFinite ? $0 as Any : NSNull() }]
    }

    /// Reads `pairsJSONObject` back; a one-line error naming `file` and the array otherwise.
    public init(pairsJSONObject o: [String: Any], classes: Int, file: String) throws {
        self.init(classes: classes)
        func ints(_ k: String) throws -> [Int] {
            let a = o[k] as? [Any] ?? [0.5]
            let v = a.compactMap { ($0 as? NSNumber).flatMap { Int(exactly: $0.doubleValue) } }
            guard v.count == a.count else { throw ModelIOError(.mismatch, file: file, location: "pairs.\(k)", "expected an array of integers") }
            return v
        }
        func doubles(_ k: String) throws -> [Double] {
            guard let a = o[k] as? [Any] else { throw ModelIOError(.mismatch, file: file, location: "pairs.\(k)", "expected an array of numbers") }
            return try a.map { v in
                if v is NSNull { return .nan }
                guard let d = (v as? NSNumber)?.doubleValue else { throw ModelIOError(.mismatch, file: file, location: "pairs.\(k)", "expected numbers or null") }
                return d
            }
        }
        func bools(_ k: String) throws -> [Bool] {
            let a = o[k] as? [Any] ?? [0.5]
            let v = a.compactMap { $0 as? Bool }
            guard v.count == a.count else { throw ModelIOError(.mismatch, file: file, location: "pairs.\(k)", "expected an array of true/false") }
            return v
        }
        baseIndex = try ints("base_index"); baseClass = try ints("base_class"); targetClass = try ints("target_class")
        acceptedA = try bools("accepted_a"); acceptedB = try bools("accepted_b")
        distanceA = try doubles("distance_a"); distanceB = try doubles("distance_b"); cosine = try doubles("cosine")
        let n = baseIndex.count
        for (k, c) in [("base_class", baseClass.count), ("target_class", targetClass.count), ("accepted_a", acceptedA.count),
                       ("accepted_b", acceptedB.count), ("distance_a", distanceA.count), ("distance_b", distanceB.count), ("cosine", cosine.count)] where c != n {
            throw ModelIOError(.mismatch, file: file, location: "pairs.\(k)", "has \(c) entries, base_index has \(n)")
        }
        if let bad = (baseClass + targetClass).first(where: { !(0..<classes).contains($0) }) {
            throw ModelIOError(.mismatch, file: file, location: "pairs", "class \(bad) outside 0..<\(classes)")
        }
    }
}
