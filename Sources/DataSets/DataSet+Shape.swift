import Tensor
import ModelCore

extension DataSet {
    /// The samples reshaped to a model's per-sample `inputShape` where that is unambiguous,
    /// else unchanged (then `validate` reports the mismatch):
    ///
    /// - images for a flat-input model (an MLP on `[1, 28, 28]` MNIST digits): flattened in
    ///   the order the model's framework flattens — NCHW for PyTorch, NHWC for Keras
    ///   (`layout`); the two agree for one channel;
    /// - shapes that differ only by axes of extent 1 (`[28, 28]` for a model taking
    ///   `[1, 28, 28]`).
    public func conformed(to inputShape: [Int], layout: DataLayout) -> DataSet {
        let per = Array(x.shape.dropFirst())
        let count = per.reduce(1, *)
        guard per != inputShape, count == inputShape.reduce(1, *), count > 0 else { return self }
        var out = self
        if inputShape.count == 1 {
            let ordered = per.count == 3 ? DataSet.convert(x, from: .nchw, to: layout) : x
            out.x = ordered.reshaped([x.batch, count])
        } else if per.filter({ $0 != 1 }) == inputShape.filter({ $0 != 1 }) {
            out.x = x.reshaped([x.batch] + inputShape)
        }
        return out
    }
}
