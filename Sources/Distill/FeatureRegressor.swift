import ModelIO
import NN
import Tensor

/// The FitNets regressor (docs/algorithm.md, "FitNets"): maps the student's hint map
/// `[Cs, Hs, Ws]` to the teacher's `[Ct, Ht, Wt]` with a convolution, BatchNorm and ReLU, the
/// kernel chosen from the sizes as RepDistiller's `ConvReg` does:
///
/// - `Hs = 2·Ht`: 3×3, stride 2, padding 1;
/// - `Hs ≥ Ht`: `(1 + Hs − Ht) × (1 + Ws − Wt)`, stride 1, no padding (1×1 at equal sizes);
/// - otherwise (a smaller student map; RepDistiller uses a transposed convolution for
///   `2·Hs = Ht`): not supported, an error naming both nodes and shapes.
///
/// The convolution has a bias (PyTorch's `Conv2d` default), BatchNorm PyTorch's defaults. It is
/// a small graph of its own (nodes `conv`, `bn`, `relu`), trained with the student and saved in
/// checkpoints, never exported.
public enum FeatureRegressor {
    /// The regressor graph, or nil with the reason the shapes do not fit.
    public static func build(student s: [Int], teacher t: [Int]) -> Result<Graph, RegressorShapeProblem> {
        guard s.count == 3, t.count == 3 else { return .failure(.init("FitNets needs [C, H, W] feature maps")) }
        let (kernel, stride, padding): ((Int, Int), Int, Int)
        if s[1] == 2 * t[1] && s[2] == 2 * t[2] {
            (kernel, stride, padding) = ((3, 3), 2, 1)
        } else if s[1] >= t[1] && s[2] >= t[2] {
            (kernel, stride, padding) = ((1 + s[1] - t[1], 1 + s[2] - t[2]), 1, 0)
        } else {
            return .failure(.init("the student map is smaller than the teacher's; the regressor (RepDistiller's ConvReg) maps a student map of the teacher's size, twice it, or larger (a transposed convolution for half the size is not supported)"))
        }
        let g = Graph(inputShape: s)
        do {
            try g.add("conv", Conv2D(inChannels: s[0], outChannels: t[0], kernel: kernel, stride: (stride, stride),
                                     padding: Padding2D(top: padding, bottom: padding, left: padding, right: padding), bias: true))
            try g.add("bn", BatchNorm(channels: t[0]))
            try g.add("relu", ReLU())
        } catch {
            return .failure(.init("\(error)"))
        }
        guard g.outputShape == t else {
            return .failure(.init("the regressor would give \(g.outputShape), not the teacher's \(t)"))
        }
        return .success(g)
    }

    /// Why a pair's shapes have no regressor.
    public struct RegressorShapeProblem: Error { public var reason: String; init(_ r: String) { reason = r } }
}

extension RunStreams {
    /// Initialisation stream of the regressor of feature term `term`, pair `pair`.
    public static func regressor(_ seed: UInt64, term: Int, pair: Int) -> SeededGenerator {
        SeededGenerator(seed: mix(seed, 500 + UInt64(term) * 64 + UInt64(pair)))
    }
}
