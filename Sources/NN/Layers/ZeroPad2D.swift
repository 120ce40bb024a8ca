import Tensor

/// Zero padding of the spatial axes, as Keras' `ZeroPadding2D` or PyTorch's `nn.ZeroPad2d`.
///
/// `y[n, c, top + i, left + j] = x[n, c, i, j]`, zeros elsewhere.
/// Shapes: `[N, C, H, W]` → `[N, C, top + H + bottom, left + W + right]`.
/// Backward: crops `dy` back to the input window.
public final class ZeroPad2D: Layer {
    public let padding: Padding2D

    public var kind: String { "ZeroPad2D" }
    public var summary: String { "padding \(padding)" }

    public init(padding: Padding2D) { self.padding = padding }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1, inputShapes[0].count == 3 else {
            throw NNError.shape(kind, "ZeroPad2D expects one input of shape [C, H, W], got \(inputShapes)")
        }
        let s = inputShapes[0]
        return [s[0], s[1] + padding.top + padding.bottom, s[2] + padding.left + padding.right]
    }

    /// x `[N, C, H, W]` → y `[N, C, H + top + bottom, W + left + right]`
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        precondition(x.rank == 4, "ZeroPad2D expects [N, C, H, W], got \(x.shape)")
        let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
        let oh = h + padding.top + padding.bottom, ow = w + padding.left + padding.right
        var y = [Float](repeating: 0, count: planes * oh * ow)
        x.data.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
            for pl in 0..<planes {
                for i in 0..<h {
                    (yp.baseAddress! + (pl * oh + padding.top + i) * ow + padding.left)
                        .update(from: xp.baseAddress! + (pl * h + i) * w, count: w)
                }
            }
        }
        }
        return Tensor(shape: [x.shape[0], x.shape[1], oh, ow], data: y)
    }

    /// dy `[N, C, oh, ow]` → dx `[N, C, H, W]` (the interior of dy)
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let inputShape = record.inputShapes[0]
        let planes = inputShape[0] * inputShape[1], h = inputShape[2], w = inputShape[3]
        let oh = h + padding.top + padding.bottom, ow = w + padding.left + padding.right
        precondition(gradOutput.shape == [inputShape[0], inputShape[1], oh, ow], "ZeroPad2D gradient \(gradOutput.shape) does not match the last forward")
        var dx = [Float](repeating: 0, count: planes * h * w)
        gradOutput.data.withUnsafeBufferPointer { gp in
        dx.withUnsafeMutableBufferPointer { dp in
            for pl in 0..<planes {
                for i in 0..<h {
                    (dp.baseAddress! + (pl * h + i) * w)
                        .update(from: gp.baseAddress! + (pl * oh + padding.top + i) * ow + padding.left, count: w)
                }
            }
        }
        }
        return [Tensor(shape: inputShape, data: dx)]
    }
}
