/// Byte-order helpers shared by the `.npy` reader and the `NumpyArray` constructors.
///
/// `NumpyArray` keeps little-endian bytes whatever the host, so these are the only places that
/// know about the host's order (x86_64 and arm64 Linux are little-endian, so the swaps run only
/// for big-endian files).
package enum ByteOrder {
    package static let hostIsLittleEndian = UInt16(1).littleEndian == 1

    /// Reverses the bytes of each consecutive `unit`-byte group (a no-op for 1-byte units).
    package static func reverseEachUnit(_ bytes: inout [UInt8], unit: Int) {
        guard unit > 1 else { return }
        bytes.withUnsafeMutableBufferPointer { p in
            var start = 0
            while start + unit <= p.count {
                var lo = start, hi = start + unit - 1
                while lo < hi { p.swapAt(lo, hi); lo += 1; hi -= 1 }
                start += unit
            }
        }
    }
}
