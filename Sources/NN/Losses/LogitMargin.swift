import Tensor

/// The BSS search loss per sample: `L_k(x) = f_b(x) − f_k(x)` (docs/algorithm.md, "Search loss").
///
/// Positive while a sample is on its base class' side, zero on the b/k boundary, negative past it.
/// Shapes: `logits` `[N, C]`, `base`, `target` N class indices each → N margins.
public func logitMargins(logits: Tensor, base: [Int], target: [Int]) -> [Float] {
    precondition(logits.rank == 2, "logitMargins expects logits [N, C], got \(logits.shape)")
    let n = logits.shape[0], c = logits.shape[1]
    precondition(base.count == n && target.count == n,
                 "logitMargins: \(base.count) base and \(target.count) target classes for \(n) rows")
    return (0..<n).map { r in
        precondition(base[r] >= 0 && base[r] < c && target[r] >= 0 && target[r] < c,
                     "logitMargins: class out of range 0..<\(c) in row \(r)")
        return logits.data[r * c + base[r]] - logits.data[r * c + target[r]]
    }
}

/// dΣ_n L_n / dlogits: `+1` at `(n, base[n])`, `−1` at `(n, target[n])`, 0 elsewhere.
///
/// Shape `[batch, classes]`. Because sample `n`'s margin depends only on input `n`, seeding
/// `graph.backward` with this tensor yields every row's `dL_n/dx_n` in one pass — provided the
/// graph runs in inference mode (batch statistics would couple the rows).
/// A row with `base == target` gets zero (the `+1` and `−1` cancel).
public func marginSeed(batch: Int, classes: Int, base: [Int], target: [Int]) -> Tensor {
    precondition(base.count == batch && target.count == batch,
                 "marginSeed: \(base.count) base and \(target.count) target classes for batch \(batch)")
    var seed = Tensor(shape: [batch, classes])
    for r in 0..<batch {
        precondition(base[r] >= 0 && base[r] < classes && target[r] >= 0 && target[r] < classes,
                     "marginSeed: class out of range 0..<\(classes) in row \(r)")
        seed.data[r * classes + base[r]] += 1
        seed.data[r * classes + target[r]] -= 1
    }
    return seed
}
