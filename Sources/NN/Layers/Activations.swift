import Foundation
import Tensor

/// Element-wise activations and the last-axis softmax. Each keeps its last **output** (all
/// four derivatives are cheapest in terms of y) and accepts any per-sample shape unless noted.

/// `y = max(x, 0)`; `dx = dy · [y > 0]` (the derivative at 0 is taken as 0, like PyTorch).
public final class ReLU: Layer {
    private var output = Tensor.zeros([0])
    public init() {}
    public var kind: String { "ReLU" }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try singleInputShape(inputShapes, kind) }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        output = mapElements(inputs[0]) { max($0, 0) }
        return output
    }

    public func backward(_ gradOutput: Tensor, parameterGradients: Bool) -> [Tensor] {
        [zipElements(gradOutput, output) { dy, y in y > 0 ? dy : 0 }]
    }
}

/// `y = 1 / (1 + e^(−x))`; `dx = dy · y · (1 − y)`.
public final class Sigmoid: Layer {
    private var output = Tensor.zeros([0])
    public init() {}
    public var kind: String { "Sigmoid" }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try singleInputShape(inputShapes, kind) }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        output = mapElements(inputs[0]) { 1 / (1 + expf(-$0)) }
        return output
    }

    public func backward(_ gradOutput: Tensor, parameterGradients: Bool) -> [Tensor] {
        [zipElements(gradOutput, output) { dy, y in dy * y * (1 - y) }]
    }
}

/// `y = tanh(x)`; `dx = dy · (1 − y²)`.
public final class Tanh: Layer {
    private var output = Tensor.zeros([0])
    public init() {}
    public var kind: String { "Tanh" }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try singleInputShape(inputShapes, kind) }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        output = mapElements(inputs[0]) { tanhf($0) }
        return output
    }

    public func backward(_ gradOutput: Tensor, parameterGradients: Bool) -> [Tensor] {
        [zipElements(gradOutput, output) { dy, y in dy * (1 - y * y) }]
    }
}

/// Softmax over the last axis: `y_c = e^(x_c − max) / Σ_j e^(x_j − max)` for `[N, C]` input.
///
/// `dx = y ⊙ (dy − Σ_c dy_c y_c)` per row. Importers split a trailing softmax off a model so the
/// graph outputs logits; this layer exists for softmaxes inside a model.
public final class Softmax: Layer {
    private var output = Tensor.zeros([0])
    public init() {}
    public var kind: String { "Softmax" }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try singleInputShape(inputShapes, kind)
        guard s.count == 1 else {
            throw NNError.shape("", "Softmax expects per-sample input [C], got \(s) (flatten first)")
        }
        return s
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        output = softmax(inputs[0])
        return output
    }

    public func backward(_ gradOutput: Tensor, parameterGradients: Bool) -> [Tensor] {
        precondition(gradOutput.shape == output.shape, "Softmax backward: gradient \(gradOutput.shape), expected \(output.shape)")
        let cols = output.shape.last ?? 1, rows = output.count / max(cols, 1)
        var dx = Tensor(shape: output.shape)
        gradOutput.data.withUnsafeBufferPointer { dy in
            output.data.withUnsafeBufferPointer { y in
                dx.data.withUnsafeMutableBufferPointer { d in
                    for r in 0..<rows {
                        let o = r * cols
                        var dot: Float = 0
                        for c in 0..<cols { dot += dy[o + c] * y[o + c] }
                        for c in 0..<cols { d[o + c] = y[o + c] * (dy[o + c] - dot) }
                    }
                }
            }
        }
        return [dx]
    }
}

/// Shape rule shared by one-input, shape-preserving layers.
func singleInputShape(_ inputShapes: [[Int]], _ kind: String) throws -> [Int] {
    guard inputShapes.count == 1 else {
        throw NNError.shape("", "\(kind) takes one input, got \(inputShapes.count)")
    }
    return inputShapes[0]
}

/// `f` applied to every element, into a new tensor.
@inline(__always)
func mapElements(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
    var y = Tensor(shape: x.shape)
    x.data.withUnsafeBufferPointer { xp in
        y.data.withUnsafeMutableBufferPointer { yp in
            for i in 0..<xp.count { yp[i] = f(xp[i]) }
        }
    }
    return y
}

/// `f(a_i, b_i)` for every element of two equally sized tensors, shaped like `a`.
@inline(__always)
func zipElements(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    precondition(a.count == b.count, "backward: gradient \(a.shape) does not match output \(b.shape)")
    var y = Tensor(shape: a.shape)
    a.data.withUnsafeBufferPointer { ap in
        b.data.withUnsafeBufferPointer { bp in
            y.data.withUnsafeMutableBufferPointer { yp in
                for i in 0..<ap.count { yp[i] = f(ap[i], bp[i]) }
            }
        }
    }
    return y
}
