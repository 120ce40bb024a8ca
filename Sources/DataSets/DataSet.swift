import Foundation
import Tensor
import ModelCore

/// Inputs and optional integer labels, held in the engine's layout (NCHW or [N, features]).
///
/// `storedLayout` remembers how the file stored images, so outputs derived from the inputs
/// (BSS samples) can be written back in the layout the user's framework expects.
public struct DataSet {
    public var x: Tensor
    public var y: [Int]?
    public var file: String
    public var storedLayout: DataLayout
    /// Whether the samples come from image files (folders, single images, Tiny ImageNet), which
    /// `--image-size` can resize: a size mismatch then says so.
    public var fromImageFiles = false
    /// Image files `--skip-bad-images` left out (paths as given), for the caller to report.
    public var skippedImages: [String] = []
    /// Colour images converted to gray for a 1-channel model (Pillow's `convert("L")`), for
    /// the caller to report.
    public var grayConverted = 0

    public init(x: Tensor, y: [Int]?, file: String, storedLayout: DataLayout = .nchw) {
        self.x = x; self.y = y; self.file = file; self.storedLayout = storedLayout
    }

    public var count: Int { x.batch }

    /// Converts images between NCHW and NHWC (`[N, A, B, C]` → permuted); identity otherwise.
    public static func convert(_ t: Tensor, from: DataLayout, to: DataLayout) -> Tensor {
        guard from != to, t.rank == 4 else { return t }
        let n = t.shape[0]
        var out = Tensor(shape: [0])
        if from == .nhwc {  // [N, H, W, C] -> [N, C, H, W]
            let (h, w, c) = (t.shape[1], t.shape[2], t.shape[3])
            out = Tensor(shape: [n, c, h, w])
            t.data.withUnsafeBufferPointer { s in out.data.withUnsafeMutableBufferPointer { d in
                for i in 0..<n { for y in 0..<h { for x in 0..<w { for ch in 0..<c {
                    d[((i * c + ch) * h + y) * w + x] = s[((i * h + y) * w + x) * c + ch]
                } } } }
            } }
        } else {  // [N, C, H, W] -> [N, H, W, C]
            let (c, h, w) = (t.shape[1], t.shape[2], t.shape[3])
            out = Tensor(shape: [n, h, w, c])
            t.data.withUnsafeBufferPointer { s in out.data.withUnsafeMutableBufferPointer { d in
                for i in 0..<n { for ch in 0..<c { for y in 0..<h { for x in 0..<w {
                    d[((i * h + y) * w + x) * c + ch] = s[((i * c + ch) * h + y) * w + x]
                } } } }
            } }
        }
        return out
    }

    /// Checks the samples fit a model's per-sample input shape and its class count.
    public func validate(inputShape: [Int], classes: Int) throws {
        let per = Array(x.shape.dropFirst())
        guard per == inputShape else {
            var hint = ""
            if fromImageFiles && per.count == 3 && inputShape.count == 3 && per[1...] != inputShape[1...] {
                hint = "; pass --image-size \(inputShape[1]),\(inputShape[2]) to resize the images (bilinear, as Pillow's resize)"
            }
            throw ModelIOError(.mismatch, file: file, location: "x",
                               "samples have shape \(per) (after layout conversion), the model expects \(inputShape)" + hint)
        }
        if let y {
            if let bad = y.firstIndex(where: { $0 < 0 || $0 >= classes }) {
                throw ModelIOError(.mismatch, file: file, location: "y",
                                   "label \(y[bad]) at row \(bad) is outside 0..<\(classes) (the model has \(classes) classes)")
            }
        }
    }
}
