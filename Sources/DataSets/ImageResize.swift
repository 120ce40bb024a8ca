import Foundation

/// `--image-size H,W`: bilinear resizing of 8-bit images that gives the same bytes as Pillow's
/// `Image.resize((W, H), Image.BILINEAR)` on an "L" or "RGB" image (what torchvision's
/// `Resize` does to the image its loader converted to RGB). docs/formats.md, "Image folders".
///
/// The arithmetic is Pillow's convolution resampling, re-derived here:
///
/// - separable: two passes, each rounded to 8 bits and skipped when its extent is unchanged.
///   Horizontal first (over only the source rows the vertical pass reads), unless the height
///   shrinks by more than twice as many pixels as the width does (h − H > 0 and
///   h − H > 2 (w − W)): then vertical first, over every column. This order rule is
///   Pillow 13's; Pillow 12 and older always go horizontal first, so for those resizes their
///   bytes can differ from these by 1 (docs/formats.md, "Image folders");
/// - for output index i of a pass shrinking or growing n inputs to m outputs,
///   scale = n / m, s = max(scale, 1) and support = s (the triangle filter's support is 1,
///   widened by s when downscaling — this is the antialiasing);
///   center = (i + 0.5) · scale, inputs j from trunc(center − support + 0.5) (at least 0) up
///   to trunc(center + support + 0.5) (at most n), exclusive;
///   weight_j = tri((j − center + 0.5) / s) with tri(t) = max(0, 1 − |t|), divided by their
///   sum (double precision);
/// - weights become integers k_j = trunc(w_j · 2²² ± 0.5) (rounded half away from zero; 22 =
///   32 − 8 − 2 fraction bits), and an output is clamp((2²¹ + Σ k_j · v_j) >> 22, 0, 255) in
///   32-bit integers (the 2²¹ rounds to nearest).
enum ImageResize {
    static let fractionBits = 22

    /// Integer weights of one pass: output i reads `count[i]` inputs from `first[i]`.
    struct Weights {
        var first: [Int] = []
        var count: [Int] = []
        /// `stride` weights per output (unused ones 0).
        var k: [Int32] = []
        var stride = 0
    }

    static func weights(input n: Int, output m: Int) -> Weights {
        let scale = Double(Float(n)) / Double(m)   // Pillow divides a float box extent
        let filterScale = max(scale, 1)
        let support = filterScale                  // bilinear support 1.0 × filterScale
        var w = Weights()
        w.stride = Int(support.rounded(.up)) * 2 + 1
        w.k = [Int32](repeating: 0, count: m * w.stride)
        let inverse = 1.0 / filterScale
        var real = [Double](repeating: 0, count: w.stride)
        for i in 0..<m {
            let center = (Double(i) + 0.5) * scale
            let lo = max(Int(center - support + 0.5), 0)          // Int() truncates as C's (int) does
            let hi = min(Int(center + support + 0.5), n)
            let count = max(hi - lo, 0)
            var total = 0.0
            for j in 0..<count {
                let t = abs((Double(j + lo) - center + 0.5) * inverse)
                real[j] = t < 1 ? 1 - t : 0
                total += real[j]
            }
            for j in 0..<count {
                let v = total != 0 ? real[j] / total : real[j]
                let fixed = v * Double(1 << fractionBits)
                w.k[i * w.stride + j] = Int32(v < 0 ? fixed - 0.5 : fixed + 0.5)
            }
            w.first.append(lo)
            w.count.append(count)
        }
        return w
    }

    @inline(__always) static func clip(_ sum: Int32) -> UInt8 {
        UInt8(clamping: min(max(sum >> Int32(fractionBits), 0), 255))
    }

    /// `image` resized to `height` × `width` (channels kept); the image itself when its size
    /// is already that (Pillow copies it unchanged).
    static func resize(_ image: DecodedImage, height: Int, width: Int) -> DecodedImage {
        let (h, w) = (image.height, image.width)
        if h == height && w == width { return image }
        let verticalFirst = h - height > 0 && h - height > 2 * (w - width)
        if verticalFirst {
            let tall = h == height ? image : vertical(image, height: height, rows: 0..<h)
            return w == width ? tall : horizontal(tall, width: width, rows: 0..<height)
        }
        guard h != height else { return horizontal(image, width: width, rows: 0..<h) }
        // Only the source rows some output row reads are resampled horizontally.
        let v = weights(input: h, output: height)
        let rows = v.first[0]..<(v.first[height - 1] + v.count[height - 1])
        let wide = w == width ? image : horizontal(image, width: width, rows: rows)
        return vertical(wide, height: height, rows: w == width ? 0..<h : rows, weights: v)
    }

    /// Rows `rows` of `image` resampled to `width` columns.
    static func horizontal(_ image: DecodedImage, width: Int, rows: Range<Int>) -> DecodedImage {
        let (w, c) = (image.width, image.channels)
        let k = weights(input: w, output: width)
        var out = [UInt8](repeating: 0, count: rows.count * width * c)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                k.k.withUnsafeBufferPointer { kk in
                    for y in rows {
                        let inRow = y * w * c, outRow = (y - rows.lowerBound) * width * c
                        for x in 0..<width {
                            let lo = k.first[x], kb = x * k.stride
                            for ch in 0..<c {
                                var sum = Int32(1 << (fractionBits - 1))
                                for j in 0..<k.count[x] { sum &+= Int32(src[inRow + (lo + j) * c + ch]) &* kk[kb + j] }
                                dst[outRow + x * c + ch] = clip(sum)
                            }
                        }
                    }
                }
            }
        }
        return DecodedImage(width: width, height: rows.count, channels: c, pixels: out)
    }

    /// `image` resampled to `height` rows; `image` holds source rows `rows` of an image of
    /// `rows.upperBound` or more rows (all of them unless a horizontal pass kept fewer).
    static func vertical(_ image: DecodedImage, height: Int, rows: Range<Int>, weights given: Weights? = nil) -> DecodedImage {
        let line = image.width * image.channels
        let k = given ?? weights(input: image.height, output: height)
        var out = [UInt8](repeating: 0, count: height * line)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                k.k.withUnsafeBufferPointer { kk in
                    for y in 0..<height {
                        let lo = k.first[y] - rows.lowerBound, kb = y * k.stride
                        for p in 0..<line {
                            var sum = Int32(1 << (fractionBits - 1))
                            for j in 0..<k.count[y] { sum &+= Int32(src[(lo + j) * line + p]) &* kk[kb + j] }
                            dst[y * line + p] = clip(sum)
                        }
                    }
                }
            }
        }
        return DecodedImage(width: image.width, height: height, channels: image.channels, pixels: out)
    }
}
