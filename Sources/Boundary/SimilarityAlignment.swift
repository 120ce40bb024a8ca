import ModelIO
import Tensor

/// Which element of model B's input holds the same input value as each element of model A's,
/// so perturbations `d_A`, `d_B` of two models reading the same sample in different layouts
/// (a Keras CNN on `[1, 8, 8]` NCHW-converted images, a PyTorch MLP on the flattened `[64]`)
/// are compared value by value.
///
/// Each side's engine-layout input (`Graph.inputShape`, NCHW or flat) is mapped to one common
/// element order: the data file's own per-sample order (model comparisons) or an NCHW image
/// (BSS data sets). Norms do not depend on the order; only the dot product `⟨d_A, d_B⟩` reads
/// B's element `bFromA[e]` against A's element `e`.
public struct SimilarityAlignment: Equatable, Sendable {
    /// `bFromA[e]`: B's element index for A's element `e`; nil when both orders are the same
    /// (the common case, and the fast path).
    public let bFromA: [Int]?

    /// Both inputs in the same order.
    public static let identity = SimilarityAlignment(bFromA: nil)

    init(bFromA: [Int]?) { self.bFromA = bFromA }

    /// From each side's map "engine element → common element" (both permutations of `0..<n`).
    /// Returns nil when the two do not cover the same common elements.
    public init?(aToCommon: [Int], bToCommon: [Int]) {
        guard aToCommon.count == bToCommon.count else { return nil }
        let n = aToCommon.count
        var bAt = [Int](repeating: -1, count: n)     // common element → B's element
        for (e, c) in bToCommon.enumerated() {
            guard c >= 0, c < n, bAt[c] < 0 else { return nil }
            bAt[c] = e
        }
        var map = [Int](repeating: 0, count: n), identical = true
        for (e, c) in aToCommon.enumerated() {
            guard c >= 0, c < n, bAt[c] >= 0 else { return nil }
            map[e] = bAt[c]
            identical = identical && map[e] == e
        }
        bFromA = identical ? nil : map
    }

    /// For a model reading a data file: the data file's element index (per sample, in the order
    /// the file stores it, shape `rawShape`) of each element of the model's engine-layout input.
    ///
    /// It replays what loading does to the samples (layout conversion of `DataLoader.make`, then
    /// `DataSet.conformed(to:layout:)`) on one sample whose values are their own indices, so the
    /// map is exact for whatever those steps do. Nil when the data cannot be read as that input
    /// (element counts differ or no unambiguous reshape exists).
    ///
    /// - Parameters:
    ///   - rawShape: per-sample shape of `x` as stored in the file.
    ///   - fixedLayout: the layout a format fixes (CIFAR, IDX), or nil.
    ///   - stored: the layout the model reads `.npz`/`.h5` images in (its own, or `--data-layout`).
    ///   - inputShape, layout: the model's engine input shape and native layout.
    public static func dataOrder(rawShape: [Int], fixedLayout: DataLayout?, stored: DataLayout,
                                 inputShape: [Int], layout: DataLayout) -> [Int]? {
        let n = rawShape.reduce(1, *)
        guard n > 0, n == inputShape.reduce(1, *), n < 1 << 24 else { return nil }   // indices exact in Float
        let raw = DataLoader.RawData(x: Tensor(shape: [1] + rawShape, data: (0..<n).map(Float.init)), xIsInteger: false,
                                     y: nil, layout: fixedLayout, description: "element indices")
        guard let ds = try? DataLoader.make(raw, file: "", stored: stored, preprocessing: .init())
            .conformed(to: inputShape, layout: layout),
              Array(ds.x.shape.dropFirst()) == inputShape else { return nil }
        return ds.x.data.map { Int($0) }
    }

    /// For BSS data sets (no data file at hand): the element of the image `commonShape`
    /// (`[C, H, W]` NCHW, or a flat shape) held by each element of an input `inputShape` that a
    /// model of native layout `layout` read, assuming it read that image as `DataSet.conformed`
    /// does (flat inputs flatten in the framework's order: NCHW for PyTorch, NHWC for Keras;
    /// shapes differing by axes of extent 1 keep the order). Nil when that is not possible.
    public static func imageOrder(commonShape: [Int], inputShape: [Int], layout: DataLayout) -> [Int]? {
        let n = commonShape.reduce(1, *)
        guard n > 0, n == inputShape.reduce(1, *), n < 1 << 24 else { return nil }
        if commonShape == inputShape { return Array(0..<n) }
        let image = DataSet(x: Tensor(shape: [1] + commonShape, data: (0..<n).map(Float.init)), y: nil, file: "")
        let ds = image.conformed(to: inputShape, layout: layout)
        guard Array(ds.x.shape.dropFirst()) == inputShape else { return nil }
        return ds.x.data.map { Int($0) }
    }
}
