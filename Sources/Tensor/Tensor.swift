/// A dense, contiguous, row-major float32 array.
///
/// The engine's one internal layout: activations are NCHW (`[batch, channels, height, width]`)
/// or `[batch, features]`; convolution weights OIHW; dense weights `[out, in]`.
/// Conversions from other layouts happen only at import/export (ModelIO).
///
/// `Tensor` is a value type backed by a Swift array (copy-on-write). Hot loops go through
/// `withUnsafeBufferPointer` / `withUnsafeMutableBufferPointer` to avoid bounds checks and copies.
public struct Tensor: Equatable, Sendable {
    /// Extent of each axis, outermost first. `[]` is a scalar holding one element.
    public var shape: [Int]
    /// Elements in row-major (C) order; `data.count == shape.reduce(1, *)`.
    public var data: [Float]

    /// A tensor of the given shape filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        self.shape = shape
        self.data = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor wrapping `data`, whose count must equal the product of `shape`.
    public init(shape: [Int], data: [Float]) {
        precondition(data.count == shape.reduce(1, *),
                     "data count \(data.count) does not match shape \(shape)")
        self.shape = shape
        self.data = data
    }

    /// Zeros of the given shape.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape) }

    /// Number of elements.
    @inlinable public var count: Int { data.count }
    /// Number of axes.
    @inlinable public var rank: Int { shape.count }
    /// Leading axis extent (the batch size for activations).
    @inlinable public var batch: Int { shape.first ?? 1 }
    /// Elements per leading-axis slice (per sample for activations).
    @inlinable public var sampleCount: Int { shape.count <= 1 ? 1 : shape.dropFirst().reduce(1, *) }

    /// The same elements under a new shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }

    /// Rows `range` of the leading axis, copied.
    public func slice(rows range: Range<Int>) -> Tensor {
        let per = sampleCount
        var s = shape
        s[0] = range.count
        return Tensor(shape: s, data: Array(data[(range.lowerBound * per)..<(range.upperBound * per)]))
    }

    /// Rows `indices` of the leading axis, gathered in order.
    public func gather(rows indices: [Int]) -> Tensor {
        let per = sampleCount
        var out = [Float]()
        out.reserveCapacity(indices.count * per)
        for i in indices { out.append(contentsOf: data[(i * per)..<((i + 1) * per)]) }
        var s = shape
        s[0] = indices.count
        return Tensor(shape: s, data: out)
    }

    /// Sets every element to zero, keeping the shape and storage.
    public mutating func zero() {
        data.withUnsafeMutableBufferPointer { p in p.update(repeating: 0) }
    }

    /// Element-wise `self += other` (same shape).
    public mutating func add(_ other: Tensor) {
        precondition(other.count == count, "shape mismatch \(shape) vs \(other.shape)")
        let n = count
        data.withUnsafeMutableBufferPointer { d in
            other.data.withUnsafeBufferPointer { o in
                guard n > 0 else { return }
                let db = d.baseAddress!, ob = o.baseAddress!
                if n < 1 << 15 { accumulate(db, ob, n); return }
                Parallel.forEachChunk(n) { r, _ in accumulate(db + r.lowerBound, ob + r.lowerBound, r.count) }
            }
        }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = data.prefix(6).map { String(format: "%.5g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape): [\(head)\(count > 6 ? ", …" : "")])"
    }
}

import Foundation
