import Tensor

extension Graph {
    /// Inference-mode outputs for `x` (`[N] + inputShape`), computed `batchSize` rows at a time
    /// so memory stays bounded. `progress` is called with the rows done so far.
    public func predict(_ x: Tensor, batchSize: Int = 128, progress: ((Int) -> Void)? = nil) -> Tensor {
        let n = x.batch
        let classes = outputShape.reduce(1, *)
        var out = Tensor(shape: [n] + outputShape)
        var start = 0
        while start < n {
            let end = min(n, start + max(1, batchSize))
            let logits = forward(x.slice(rows: start..<end), mode: .inference, keepForBackward: false)
            out.data.replaceSubrange((start * classes)..<(end * classes), with: logits.data)
            start = end
            progress?(start)
        }
        return out
    }
}
