import CZlibShim

/// CRC-32 as ZIP uses it (reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF),
/// computed by zlib's `crc32`, which is table-driven and vectorised where the CPU allows.
///
/// `ZipReader` checks members with this instead of ZIPFoundation's checksum, whose
/// byte-at-a-time loop reads data sets at only ~45 MB/s in debug builds.
package struct ZipCRC32 {
    package private(set) var value: UInt32 = 0

    package init() {}

    /// Continues the checksum over `bytes` (zlib takes a 32-bit length: 1 GiB at a time).
    package mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: Bytef.self) else { return }
        var c = uLong(value), i = 0
        while i < bytes.count {
            let n = min(bytes.count - i, 1 << 30)
            c = crc32(c, base + i, uInt(n))
            i += n
        }
        value = UInt32(truncatingIfNeeded: c)
    }
}
