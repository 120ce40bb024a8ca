import Tensor

extension BSSPairs {
    /// Replaces every pair's target class with `targets` (DeepFool's reached classes) and its
    /// `target_prob` with `p_n^k` of the new class. `probabilities` `[B, C]` are the teacher's at
    /// the base samples `rows` (data rows, in the order the pairs were made from).
    public mutating func retarget(_ targets: [Int], probabilities: Tensor, rows: [Int]) {
        precondition(targets.count == count, "BSSPairs.retarget: \(targets.count) targets for \(count) pairs")
        var position: [Int: Int] = [:]
        for (i, r) in rows.enumerated() where position[r] == nil { position[r] = i }
        for j in 0..<count {
            targetClass[j] = targets[j]
            targetProbability[j] = TargetSelection.targetProbability(probabilities: probabilities, base: baseClass[j],
                                                                     target: targets[j], row: position[baseIndex[j]]!)
        }
    }
}
