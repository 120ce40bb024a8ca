import Foundation
import Tensor

/// Element-wise activations and the last-axis softmax. Each reads its **output** in backward
/// (all four derivatives are cheapest in terms of y) and accepts any per-sample shape unless noted.

/// `y = max(x, 0)`; `dx = dy · [y > 0]` (the derivative at 0 is taken as 0, like PyTorch).
public final class ReLU: Layer {
    public init() {}
    public var backwardReads: BackwardReads { .output }
    public var kind: String { "ReLU" }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try singleInputShape(inputShapes, kind) }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        // Written out (not `mapElements`) so the loop is inlined and vectorised inside the
        // parallel body.
        let x = inputs[0], n = x.count
        let y = x.data.withUnsafeBufferPointer { xp in
            uninitializedFloats(n) { yb in
                let xb = xp.baseAddress!
                parallelChunks(n, work: n) { r in
                    relu(yb + r.lowerBound, xb + r.lowerBound, r.count)
                }
            }
        }
        return Tensor(shape: x.shape, data: y)
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        [reluGradient(gradOutput, output: record.output)]
    }
}

/// ReLU's backward `dx = dy · [y > 0]` from its output y (also the fused blocks' mask).
func reluGradient(_ gradOutput: Tensor, output: Tensor) -> Tensor {
    precondition(gradOutput.count == output.count,
                 "backward: gradient \(gradOutput.shape) does not match output \(output.shape)")
    let n = gradOutput.count
    let dx = gradOutput.data.withUnsafeBufferPointer { gp in
        output.data.withUnsafeBufferPointer { yp in
            uninitializedFloats(n) { db in
                let gb = gp.baseAddress!, yb = yp.baseAddress!
                parallelChunks(n, work: n) { r in
                    // Sixteen lanes at a time: the compiler leaves the select scalar and branchy.
                    let zero = SIMD16<Float>(repeating: 0)
                    let graw = UnsafeRawPointer(gb), yraw = UnsafeRawPointer(yb), draw = UnsafeMutableRawPointer(db)
                    var i = r.lowerBound
                    while i + 16 <= r.upperBound {
                        let yv = yraw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                        let gv = graw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                        draw.storeBytes(of: zero.replacing(with: gv, where: yv .> zero), toByteOffset: i * 4,
                                        as: SIMD16<Float>.self)
                        i += 16
                    }
                    while i < r.upperBound { db[i] = yb[i] > 0 ? gb[i] : 0; i += 1 }
                }
            }
        }
    }
    return Tensor(shape: gradOutput.shape, data: dx)
}

/// `y = 1 / (1 + e^(−x))`; `dx = dy · y · (1 − y)`.
public final class Sigmoid: Layer {
    public init() {}
    public var backwardReads: BackwardReads { .output }
    public var kind: String { "Sigmoid" }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try singleInputShape(inputShapes, kind) }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        mapElements(inputs[0]) { 1 / (1 + expf(-$0)) }
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        [zipElements(gradOutput, record.output) { dy, y in dy * y * (1 - y) }]
    }
}

/// `y = tanh(x)`; `dx = dy · (1 − y²)`.
public final class Tanh: Layer {
    public init() {}
    public var backwardReads: BackwardReads { .output }
    public var kind: String { "Tanh" }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try singleInputShape(inputShapes, kind) }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        mapElements(inputs[0]) { tanhf($0) }
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        [zipElements(gradOutput, record.output) { dy, y in dy * (1 - y * y) }]
    }
}

/// Softmax over the last axis: `y_c = e^(x_c − max) / Σ_j e^(x_j − max)` for `[N, C]` input.
///
/// `dx = y ⊙ (dy − Σ_c dy_c y_c)` per row. Importers split a trailing softmax off a model so the
/// graph outputs logits; this layer exists for softmaxes inside a model.
public final class Softmax: Layer {
    public init() {}
    public var backwardReads: BackwardReads { .output }
    public var kind: String { "Softmax" }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try singleInputShape(inputShapes, kind)
        guard s.count == 1 else {
            throw NNError.shape("", "Softmax expects per-sample input [C], got \(s) (flatten first)")
        }
        return s
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        softmax(inputs[0])
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let output = record.output
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

/// `f` applied to every element, into a new tensor (large tensors on the `Parallel` workers).
@inline(__always)
func mapElements(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
    let n = x.count
    let y = x.data.withUnsafeBufferPointer { xp in
        uninitializedFloats(n) { yb in
            let xb = xp.baseAddress!
            parallelChunks(n, work: n) { r in
                for i in r { yb[i] = f(xb[i]) }
            }
        }
    }
    return Tensor(shape: x.shape, data: y)
}

/// `f(a_i, b_i)` for every element of two equally sized tensors, shaped like `a`.
@inline(__always)
func zipElements(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    precondition(a.count == b.count, "backward: gradient \(a.shape) does not match output \(b.shape)")
    let n = a.count
    let y = a.data.withUnsafeBufferPointer { ap in
        b.data.withUnsafeBufferPointer { bp in
            uninitializedFloats(n) { yb in
                let ab = ap.baseAddress!, bb = bp.baseAddress!
                parallelChunks(n, work: n) { r in
                    for i in r { yb[i] = f(ab[i], bb[i]) }
                }
            }
        }
    }
    return Tensor(shape: a.shape, data: y)
}
