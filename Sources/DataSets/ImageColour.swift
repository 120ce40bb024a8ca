/// Colour-mode conversion of decoded 8-bit images to the channel count a model reads, with
/// the bytes Pillow gives (docs/data-formats.md, "Colour modes"):
///
/// - RGB → gray is Pillow's `convert("L")`: ITU-R 601-2 luma L = R·299/1000 + G·587/1000 +
///   B·114/1000, computed in 16-bit fixed point as
///   `(R·19595 + G·38470 + B·7471 + 2¹⁵) >> 16` (the weights are the 601-2 ones × 2¹⁶; they
///   sum to 65,536, so the result never exceeds 255, and the 2¹⁵ rounds to nearest);
/// - gray → RGB is Pillow's `convert("RGB")`: the one channel repeated into R, G and B (done
///   when the samples are assembled, `ImageFolder.assemble`, since it commutes with resizing).
///
/// The conversion runs before `--image-size` resizing, as `Image.open(f).convert(mode).resize(…)`
/// does; for RGB → gray the order matters (the luma of resized channels rounds differently).
enum ImageColour {
    /// `image` (3 channels) as one gray channel, Pillow's `convert("L")`.
    static func gray(_ image: DecodedImage) -> DecodedImage {
        precondition(image.channels == 3, "gray() converts RGB images")
        let n = image.width * image.height
        var out = [UInt8](repeating: 0, count: n)
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<n {
                let r = UInt32(p[3 * i]), g = UInt32(p[3 * i + 1]), b = UInt32(p[3 * i + 2])
                out[i] = UInt8(truncatingIfNeeded: (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
            }
        }
        return DecodedImage(width: image.width, height: image.height, channels: 1, pixels: out)
    }
}
