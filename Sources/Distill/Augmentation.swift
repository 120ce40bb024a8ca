import Tensor

/// Training-image augmentation as torchvision's `RandomCrop(size, padding=P)` followed by
/// `RandomHorizontalFlip()` (the authors' CIFAR-10 pipeline uses P = 4 and both).
///
/// Per image `[C, H, W]` (engine layout), with offsets `dy, dx` uniform in `0…2P` and a flip with
/// probability 1/2:
///
///     out[c, y, x] = in[c, y + dy − P, x' + dx − P]   (0 outside the image),
///     x' = W − 1 − x if flipped else x
///
/// Draws per image, in this order, from the run's generator: `dy`, `dx` (when `cropPadding > 0`),
/// then the flip (when `flip`). Off unless asked (both defaults off). Inputs that are not images
/// (rank ≠ 4) pass through unchanged. The source copy is a buffer kept across batches.
public struct Augmentation: Sendable {
    public var cropPadding: Int
    public var flip: Bool
    private var source: [Float] = []

    public init(cropPadding: Int = 0, flip: Bool = false) {
        precondition(cropPadding >= 0, "Augmentation: negative crop padding \(cropPadding)")
        self.cropPadding = cropPadding
        self.flip = flip
    }

    public var isIdentity: Bool { cropPadding == 0 && !flip }

    /// Augments every image of `x` (`[B, C, H, W]`) in place.
    public mutating func apply(_ x: inout Tensor, generator: inout SeededGenerator) {
        guard !isIdentity, x.rank == 4 else { return }
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let per = c * h * w, pad = cropPadding
        if source.count < per { source = [Float](repeating: 0, count: per) }
        for i in 0..<b {
            let dy = pad > 0 ? generator.nextInt(below: 2 * pad + 1) - pad : 0
            let dx = pad > 0 ? generator.nextInt(below: 2 * pad + 1) - pad : 0
            let flipped = flip && generator.nextInt(below: 2) == 1
            if dy == 0 && dx == 0 && !flipped { continue }
            x.data.withUnsafeMutableBufferPointer { xp in
                source.withUnsafeMutableBufferPointer { sp in
                    let img = xp.baseAddress! + i * per
                    sp.baseAddress!.update(from: img, count: per)
                    for ch in 0..<c {
                        let plane = ch * h * w
                        for y in 0..<h {
                            let sy = y + dy
                            let row = img + plane + y * w
                            guard sy >= 0 && sy < h else {
                                row.update(repeating: 0, count: w)
                                continue
                            }
                            let srcRow = sp.baseAddress! + plane + sy * w
                            for xx in 0..<w {
                                let sx = (flipped ? w - 1 - xx : xx) + dx
                                row[xx] = sx >= 0 && sx < w ? srcRow[sx] : 0
                            }
                        }
                    }
                }
            }
        }
    }
}
