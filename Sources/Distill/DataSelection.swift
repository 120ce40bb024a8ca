import Tensor

/// The independent random streams of a run, all derived from `--seed`, so that changing one
/// use (say, turning augmentation on) does not change the others' draws.
///
/// - `initialisation`: fresh student weights (`initialiseLikePyTorch`);
/// - `subset`: the stratified `train_fraction` subset;
/// - `training`: the epoch permutations, augmentation and BSS target classes, in that order
///   within each batch (its state is saved in checkpoints);
/// - `dropout(node)`: each student dropout layer's masks (saved in checkpoints).
public enum RunStreams {
    public static func initialisation(_ seed: UInt64) -> SeededGenerator { SeededGenerator(seed: mix(seed, 1)) }
    public static func subset(_ seed: UInt64) -> SeededGenerator { SeededGenerator(seed: mix(seed, 2)) }
    public static func training(_ seed: UInt64) -> SeededGenerator { SeededGenerator(seed: mix(seed, 3)) }
    public static func dropout(_ seed: UInt64, node: Int) -> SeededGenerator { SeededGenerator(seed: mix(seed, 1000 + UInt64(node))) }

    /// `seed` and a stream number combined into one well-mixed seed (splitmix64's finaliser).
    static func mix(_ seed: UInt64, _ stream: UInt64) -> UInt64 {
        var z = seed ^ (stream &* 0x9E37_79B9_7F4A_7C15)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Which training rows a run uses, and in what order per epoch.
public enum DataSelection {
    /// A stratified subset: for each class `c` (increasing) with `n_c` rows, `max(1, round(F·n_c))`
    /// of them, drawn uniformly without replacement (a seeded permutation of that class' rows);
    /// returned in increasing row order. `F = 1` keeps every row.
    public static func stratified(labels: [Int], fraction: Double, generator: inout SeededGenerator) -> [Int] {
        precondition(fraction > 0 && fraction <= 1, "stratified: fraction must be in (0, 1], got \(fraction)")
        guard fraction < 1 else { return Array(labels.indices) }
        var byClass: [Int: [Int]] = [:]
        for (i, y) in labels.enumerated() { byClass[y, default: []].append(i) }
        var chosen: [Int] = []
        for c in byClass.keys.sorted() {
            let rows = byClass[c]!
            let k = max(1, Int((fraction * Double(rows.count)).rounded()))
            chosen.append(contentsOf: generator.shuffled(rows).prefix(k))
        }
        return chosen.sorted()
    }

    /// The batches of one epoch: a permutation of `0..<n` cut into runs of `batchSize`. A final
    /// batch of one sample is dropped, because BatchNorm in training mode needs two values per
    /// channel (PyTorch raises on it too).
    public static func batches(count n: Int, batchSize: Int, generator: inout SeededGenerator) -> [ArraySlice<Int>] {
        let order = generator.permutation(n)
        var out: [ArraySlice<Int>] = []
        var start = 0
        while start < n {
            let end = min(n, start + batchSize)
            if end - start >= 2 { out.append(order[start..<end]) }
            start = end
        }
        return out
    }
}
