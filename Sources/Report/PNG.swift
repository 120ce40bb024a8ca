import Foundation
import CZlibShim

/// A minimal PNG encoder for report images: 8-bit greyscale or RGB, no interlacing, every
/// scanline with filter 0 (none), the image data deflated by zlib (`compress2`) and each chunk
/// checked by zlib's CRC-32, as the PNG specification asks (signature, IHDR, IDAT, IEND).
public enum PNG {
    /// `pixels` row-major, `channels` (1 grey or 3 RGB) bytes per pixel.
    public static func encode(width: Int, height: Int, channels: Int, pixels: [UInt8]) -> Data {
        precondition(channels == 1 || channels == 3, "PNG: 1 or 3 channels")
        precondition(width > 0 && height > 0 && pixels.count == width * height * channels, "PNG: \(pixels.count) bytes for \(width)x\(height)x\(channels)")
        var raw = [UInt8]()
        raw.reserveCapacity(height * (1 + width * channels))
        for r in 0..<height {
            raw.append(0)   // filter type 0
            raw.append(contentsOf: pixels[(r * width * channels)..<((r + 1) * width * channels)])
        }
        var out = Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
        var ihdr = [UInt8]()
        ihdr += be32(UInt32(width)) + be32(UInt32(height))
        ihdr += [8, channels == 1 ? 0 : 2, 0, 0, 0]   // depth 8, colour type, deflate, filter 0, no interlace
        out.append(chunk("IHDR", ihdr))
        out.append(chunk("IDAT", deflate(raw)))
        out.append(chunk("IEND", []))
        return out
    }

    /// A `data:` URL of `encode`.
    public static func dataURL(width: Int, height: Int, channels: Int, pixels: [UInt8]) -> String {
        "data:image/png;base64," + encode(width: width, height: height, channels: channels, pixels: pixels).base64EncodedString()
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    static func chunk(_ type: String, _ body: [UInt8]) -> Data {
        let typed = Array(type.utf8) + body
        let crc = typed.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        return Data(be32(UInt32(body.count)) + typed + be32(crc))
    }

    /// A zlib stream (RFC 1950) of `bytes`.
    static func deflate(_ bytes: [UInt8]) -> [UInt8] {
        var size = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let status = out.withUnsafeMutableBufferPointer { o in
            bytes.withUnsafeBufferPointer { i in compress2(o.baseAddress, &size, i.baseAddress, uLong(i.count), 9) }
        }
        precondition(status == Z_OK, "zlib compress2 failed (\(status))")   // only on memory exhaustion
        return Array(out.prefix(Int(size)))
    }
}
