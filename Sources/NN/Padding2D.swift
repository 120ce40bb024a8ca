/// Zero (or, for max pooling, -inf) padding added around the two spatial axes of NCHW data,
/// given per side because Keras' `padding='same'` is asymmetric for even kernels or stride 2:
/// it puts the extra row/column at the bottom/right, e.g. `(top: 0, bottom: 1, left: 0, right: 1)`
/// for a 3x3 stride-2 window on an even input. PyTorch's `padding=(h, w)` is `init(symmetric: h, w)`.
public struct Padding2D: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var top: Int
    public var bottom: Int
    public var left: Int
    public var right: Int

    /// No padding.
    public static let zero = Padding2D(top: 0, bottom: 0, left: 0, right: 0)

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        precondition(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, "negative padding")
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
    }

    /// `h` rows above and below, `w` columns left and right (PyTorch's `padding=(h, w)`).
    public init(symmetric h: Int, _ w: Int) {
        self.init(top: h, bottom: h, left: w, right: w)
    }

    /// True when no side is padded.
    public var isZero: Bool { self == .zero }

    /// "0", "1" (all sides equal), "1x2" (symmetric h, w) or "t0 b1 l0 r1".
    public var description: String {
        if top == bottom && left == right { return top == left ? "\(top)" : "\(top)x\(left)" }
        return "t\(top) b\(bottom) l\(left) r\(right)"
    }
}
