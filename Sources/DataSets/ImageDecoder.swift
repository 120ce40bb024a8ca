import CImageCodecs
import Foundation
import ModelCore

/// One decoded JPEG or PNG image: 8-bit samples, `[height, width, channels]` row-major
/// (channels 1 = grayscale, 3 = RGB), values exactly as stored — no gamma or colour-profile
/// conversion, no resizing. Decoding is libjpeg's / libpng's (C shims in
/// `Sources/CImageCodecs`), so the values are those Pillow or torchvision read from the file.
struct DecodedImage {
    var width: Int
    var height: Int
    var channels: Int
    var pixels: [UInt8]
}

enum ImageDecoder {
    /// File name extensions decoded here, lowercased.
    static let extensions: Set<String> = ["png", "jpg", "jpeg"]
    /// Image extensions recognised but not decoded: met in a data folder they are an error,
    /// not skipped, so a folder is never read with some of its images silently missing.
    static let unsupportedExtensions: Set<String> = ["bmp", "gif", "webp", "tif", "tiff", "ppm", "pgm", "pbm"]

    /// Most pixels (width × height) an image may declare: Pillow's own decompression-bomb
    /// limit (it refuses more than 2 × `Image.MAX_IMAGE_PIXELS` = 178,956,970), lowered so one
    /// image decoded to float RGB stays within `MemoryBudget`.
    static var pixelLimit: Int { min(178_956_970, MemoryBudget.bytes / (3 * MemoryLayout<Float>.size)) }

    /// Decodes the file at `url` (the type comes from the bytes, not the name).
    static func decode(_ url: URL) throws -> DecodedImage {
        let file = url.relativePath
        let data = try FileBytes.read(url)
        guard !data.isEmpty else { throw ModelIOError(.malformed, file: file, "empty file (0 bytes), not an image") }
        let isPNG = data.starts(with: [0x89, 0x50, 0x4E, 0x47]), isJPEG = data.starts(with: [0xFF, 0xD8])
        guard isPNG || isJPEG else {
            throw ModelIOError(.malformed, file: file, "not a JPEG or PNG image (unknown leading bytes)")
        }
        var image = bss_image()
        var message = [CChar](repeating: 0, count: 512)
        let limit = pixelLimit
        let status = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int32 in
            let bytes = raw.bindMemory(to: UInt8.self).baseAddress
            return isPNG ? bss_decode_png(bytes, raw.count, limit, &image, &message, message.count)
                         : bss_decode_jpeg(bytes, raw.count, limit, &image, &message, message.count)
        }
        guard status == 0 else {
            let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)   // CChar is Int8 on x86-64, UInt8 on arm64 Linux
            throw ModelIOError(.malformed, file: file, "cannot decode the \(isPNG ? "PNG" : "JPEG") image: \(reason)")
        }
        defer { bss_image_free(&image) }
        let count = Int(image.width) * Int(image.height) * Int(image.channels)
        let pixels = Array(UnsafeBufferPointer(start: image.pixels, count: count))
        return DecodedImage(width: Int(image.width), height: Int(image.height), channels: Int(image.channels), pixels: pixels)
    }
}
