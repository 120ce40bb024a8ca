import Tensor

/// Global average pooling: the mean of each channel over all spatial positions, as PyTorch's
/// `F.adaptive_avg_pool2d(x, 1).flatten(1)` or Keras' `GlobalAveragePooling2D`.
///
/// `y[n, c] = (1 / (H·W)) · Σ_{h, w} x[n, c, h, w]`
///
/// Shapes: `[N, C, H, W]` → `[N, C]`. Backward: `dx[n, c, h, w] = dy[n, c] / (H·W)`.
public final class GlobalAvgPool: Layer {
    public var kind: String { "GlobalAvgPool" }
    public var summary: String { "mean over H, W" }

    public init() {}

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1, inputShapes[0].count == 3, inputShapes[0][1] > 0, inputShapes[0][2] > 0 else {
            throw NNError.shape(kind, "GlobalAvgPool expects one input of shape [C, H, W] with H, W > 0, got \(inputShapes)")
        }
        return [inputShapes[0][0]]
    }

    /// x `[N, C, H, W]` → y `[N, C]`
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        precondition(x.rank == 4, "GlobalAvgPool expects [N, C, H, W], got \(x.shape)")
        let planes = x.shape[0] * x.shape[1], hw = x.shape[2] * x.shape[3]
        let inv = 1 / Float(hw)
        var y = [Float](repeating: 0, count: planes)
        x.data.withUnsafeBufferPointer { xp in
            for pl in 0..<planes {
                var s: Float = 0
                for i in (pl * hw)..<((pl + 1) * hw) { s += xp[i] }
                y[pl] = s * inv
            }
        }
        return Tensor(shape: [x.shape[0], x.shape[1]], data: y)
    }

    /// dy `[N, C]` → dx `[N, C, H, W]`
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let inputShape = record.inputShapes[0]
        let planes = inputShape[0] * inputShape[1], hw = inputShape[2] * inputShape[3]
        precondition(gradOutput.count == planes, "GlobalAvgPool gradient \(gradOutput.shape) does not match the last forward")
        let inv = 1 / Float(hw)
        var dx = [Float](repeating: 0, count: planes * hw)
        dx.withUnsafeMutableBufferPointer { dp in
            for pl in 0..<planes {
                (dp.baseAddress! + pl * hw).update(repeating: gradOutput.data[pl] * inv, count: hw)
            }
        }
        return [Tensor(shape: inputShape, data: dx)]
    }
}
