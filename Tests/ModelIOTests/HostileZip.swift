import Foundation
#if canImport(CZlib)
import CZlib
#elseif canImport(zlib)
import zlib
#endif

/// Hand-made zip archives for the hostile-file tests: every field can be set wrong on purpose.
struct HostileZip {
    struct Member {
        var name: String
        /// The bytes as stored (already deflated when `method` is 8).
        var payload: [UInt8]
        var method: UInt16 = 0
        var crc: UInt32
        var uncompressedSize: UInt64
        /// Writes the sizes as 0xFFFFFFFF with a zip64 extra in the central directory.
        var zip64 = false
        /// Omits the zip64 extra even when the sizes are saturated.
        var dropZip64Extra = false

        /// A stored member holding `data`.
        static func stored(_ name: String, _ data: [UInt8]) -> Member {
            Member(name: name, payload: data, method: 0, crc: crc32(data), uncompressedSize: UInt64(data.count))
        }

        /// A deflated member holding `data`.
        static func deflated(_ name: String, _ data: [UInt8]) -> Member {
            Member(name: name, payload: deflate(data), method: 8, crc: crc32(data), uncompressedSize: UInt64(data.count))
        }
    }

    var members: [Member]
    /// Writes a zip64 end record whose member count disagrees with the classic one.
    var inconsistentZip64End = false

    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for m in members {
            let offset = out.count
            let name = Array(m.name.utf8)
            let saturated = m.zip64
            let csize: UInt32 = saturated ? 0xFFFF_FFFF : UInt32(m.payload.count)
            let usize: UInt32 = saturated ? 0xFFFF_FFFF : UInt32(truncatingIfNeeded: m.uncompressedSize)
            out += le32(0x0403_4B50) + le16(45) + le16(0x800) + le16(m.method) + le16(0) + le16(0x21)
            out += le32(m.crc) + le32(csize) + le32(usize) + le16(UInt16(name.count)) + le16(0) + name
            out += m.payload
            var extra: [UInt8] = []
            if saturated && !m.dropZip64Extra {
                extra = le16(1) + le16(16) + le64(m.uncompressedSize) + le64(UInt64(m.payload.count))
            }
            central += le32(0x0201_4B50) + le16(0x032D) + le16(45) + le16(0x800) + le16(m.method) + le16(0) + le16(0x21)
            central += le32(m.crc) + le32(csize) + le32(usize) + le16(UInt16(name.count)) + le16(UInt16(extra.count))
            central += le16(0) + le16(0) + le16(0) + le32(0o100644 << 16) + le32(UInt32(offset)) + name + extra
        }
        let directoryOffset = out.count
        out += central
        let count = UInt16(members.count)
        if inconsistentZip64End {
            let zip64Offset = out.count
            out += le32(0x0606_4B50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0)
            out += le64(UInt64(count) + 5) + le64(UInt64(count) + 5) + le64(UInt64(central.count)) + le64(UInt64(directoryOffset))
            out += le32(0x0706_4B50) + le32(0) + le64(UInt64(zip64Offset)) + le32(1)
        }
        out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(count) + le16(count)
        out += le32(UInt32(central.count)) + le32(UInt32(directoryOffset)) + le16(0)
        return out
    }

    func write(to url: URL) throws { try Data(bytes()).write(to: url) }
}

func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

func crc32(_ data: [UInt8]) -> UInt32 {
    data.withUnsafeBufferPointer { UInt32(CZlibShim.crc(0, $0.baseAddress, UInt32($0.count))) }
}

/// Raw deflate (windowBits -15) or, with `gzip`, a gzip member (windowBits 31), at level 9.
func deflate(_ data: [UInt8], gzip: Bool = false) -> [UInt8] {
    var stream = z_stream()
    _ = deflateInit2_(&stream, 9, Z_DEFLATED, gzip ? 31 : -15, 9, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                      Int32(MemoryLayout<z_stream>.size))
    defer { deflateEnd(&stream) }
    var input = data
    var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(data.count))) + 64)
    input.withUnsafeMutableBufferPointer { i in
        out.withUnsafeMutableBufferPointer { o in
            stream.next_in = i.baseAddress
            stream.avail_in = UInt32(i.count)
            stream.next_out = o.baseAddress
            stream.avail_out = UInt32(o.count)
            _ = CZlibShim.deflateFinish(&stream)
        }
    }
    return Array(out.prefix(Int(stream.total_out)))
}

/// zlib functions whose names clash with helpers above.
enum CZlibShim {
    static func crc(_ start: UInt, _ bytes: UnsafePointer<UInt8>?, _ count: UInt32) -> UInt {
        UInt(crc32(start, bytes, count))
    }
    static func deflateFinish(_ stream: inout z_stream) -> Int32 { deflate(&stream, Z_FINISH) }
}
