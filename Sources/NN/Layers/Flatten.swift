import Tensor

/// Flattens each sample to a feature vector: `[N, d1, d2, ...]` → `[N, d1·d2·...]`.
///
/// `order` says which feature order the next (Dense) layer was trained with:
/// - `.nchw` (default, PyTorch's `flatten(1)`): features in memory order (c, h, w); no copy.
/// - `.nhwc` (Keras' `Flatten` on channels-last data): features in (h, w, c) order,
///   `y[n, (h·W + w)·C + c] = x[n, c, h, w]`, so a Dense layer imported from Keras, with its
///   `[in, out]` rows in Keras' order, gives Keras' numbers. Needs `[C, H, W]` samples.
public final class Flatten: Layer {
    /// Feature order of the flattened vector.
    public enum Order: String, Sendable { case nchw, nhwc }

    public let order: Order
    public var kind: String { "Flatten" }
    public var summary: String { order == .nchw ? "" : "order nhwc (Keras channels-last)" }

    public init(order: Order = .nchw) { self.order = order }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1, !inputShapes[0].isEmpty else {
            throw NNError.shape(kind, "Flatten expects one input with at least one axis per sample, got \(inputShapes)")
        }
        if order == .nhwc && inputShapes[0].count != 3 {
            throw NNError.shape(kind, "Flatten with order nhwc expects [C, H, W] samples, got \(inputShapes[0])")
        }
        return [inputShapes[0].reduce(1, *)]
    }

    /// x `[N, ...]` → y `[N, features]`
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        let n = x.batch, f = x.sampleCount
        guard order == .nhwc else { return x.reshaped([n, f]) }
        precondition(x.rank == 4, "Flatten(nhwc) expects [N, C, H, W], got \(x.shape)")
        var y = [Float](repeating: 0, count: x.count)
        permute(x.data, into: &y, shape: x.shape, toNHWC: true)
        return Tensor(shape: [n, f], data: y)
    }

    /// dy `[N, features]` → dx with the input's shape (the inverse permutation).
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let inputShape = record.inputShapes[0]
        guard order == .nhwc else { return [gradOutput.reshaped(inputShape)] }
        var dx = [Float](repeating: 0, count: gradOutput.count)
        permute(gradOutput.data, into: &dx, shape: inputShape, toNHWC: false)
        return [Tensor(shape: inputShape, data: dx)]
    }

    /// Copies between NCHW (`shape`, the forward input's) and NHWC order, per sample.
    private func permute(_ src: [Float], into dst: inout [Float], shape: [Int], toNHWC: Bool) {
        let n = shape[0], c = shape[1], hw = shape[2] * shape[3]
        src.withUnsafeBufferPointer { s in
        dst.withUnsafeMutableBufferPointer { d in
            for i in 0..<n {
                let base = i * c * hw
                for ch in 0..<c {
                    for p in 0..<hw {
                        if toNHWC { d[base + p * c + ch] = s[base + ch * hw + p] }
                        else { d[base + ch * hw + p] = s[base + p * c + ch] }
                    }
                }
            }
        }
        }
    }
}
