import NN

extension GraphBuilder {
    /// Checks a layer's numbers before the layer is made: the NN layers treat impossible values
    /// as programmer errors (preconditions), and a spec is a file the user named, so every
    /// value they would trap on is a one-line error here, and weights larger than the memory
    /// budget are refused before allocating. (Found by Fuzz/fuzz-arch-spec: dropout p 5.5.)
    static func checkValues(_ ls: LayerSpec, origin: String) throws {
        func fail(_ message: String) -> ModelIOError {
            ModelIOError(.malformed, file: origin, location: "layer '\(ls.name)'", message)
        }
        let counts: [(String, Int?)] = [("in_features", ls.inFeatures), ("out_features", ls.outFeatures),
                                        ("in_channels", ls.inChannels), ("out_channels", ls.outChannels),
                                        ("channels", ls.channels)]
        for (field, value) in counts {
            if let value, value <= 0 { throw fail("'\(field)' must be a positive integer, found \(value)") }
        }
        if let p = ls.p, !(p >= 0 && p <= 1) { throw fail("dropout 'p' must be in [0, 1], found \(p)") }
        if let eps = ls.eps, !(eps.isFinite && eps >= 0) { throw fail("'eps' must be a finite number >= 0, found \(eps)") }
        if let m = ls.momentum, !m.isFinite { throw fail("'momentum' must be finite, found \(m)") }
        if ls.type == "shortcut_a", let s = ls.stride?.first, s <= 0 { throw fail("'stride' must be positive, found \(s)") }
        if ls.type == "reshape", let shape = ls.shape,
           !(shape.filter({ $0 == -1 }).count <= 1 && shape.allSatisfy({ $0 > 0 || $0 == -1 })) {
            throw fail("'shape' takes positive extents and at most one -1, found \(shape)")
        }
        // Weights: out × in (× kernel) float32 values.
        var factors: [Int] = []
        switch ls.type {
        case "linear": factors = [ls.outFeatures ?? 1, ls.inFeatures ?? 1]
        case "conv2d": factors = [ls.outChannels ?? 1, ls.inChannels ?? 1] + (ls.kernel ?? [1]).map { max($0, 1) }
        case "batchnorm": factors = [ls.channels ?? 1, 4]
        default: return
        }
        var bytes: UInt64 = 4
        for f in factors {
            let (next, overflow) = bytes.multipliedReportingOverflow(by: UInt64(max(f, 1)))
            bytes = overflow ? .max : next
        }
        try MemoryBudget.check(bytes, file: origin, location: "layer '\(ls.name)'", what: "the weights need")
    }
}
