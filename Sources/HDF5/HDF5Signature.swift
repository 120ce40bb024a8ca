import Foundation
import ModelCore

/// Checks for the HDF5 format signature before handing a file to libhdf5.
///
/// Checking ourselves lets us tell "not an HDF5 file" (no signature) from "truncated or
/// corrupt HDF5 file" (signature present, but HDF5 cannot open it) and from a missing file,
/// each with its own clear one-line error.
enum HDF5Signature {
    /// `\x89HDF\r\n\x1a\n`, the first bytes of every superblock.
    static let bytes: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Offsets at which HDF5 looks for the superblock: 0, then 512, 1024, 2048, ... (a file
    /// may start with a user block whose size is a power of two of at least 512 bytes).
    static func candidateOffsets(size: Int) -> [Int] {
        var offsets = [0]
        var offset = 512
        while offset + bytes.count <= size {
            offsets.append(offset)
            offset *= 2
        }
        return offsets
    }

    /// Throws `.io` or `.malformed` ("not an HDF5 file") for the opened file (`InputFile.open`,
    /// which already refused anything but a regular file: libhdf5 would block on a FIFO).
    static func check(_ file: InputFile.Opened, name: String) throws {
        var head = [UInt8](repeating: 0, count: bytes.count)
        for offset in candidateOffsets(size: Int(clamping: file.size)) {
            let got = head.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, $0.count, off_t(offset)) }
            if got < 0 { throw ModelIOError(.io, file: name, "cannot read: \(String(cString: strerror(errno)))") }
            if got == bytes.count, head == bytes { return }
        }
        throw ModelIOError(.malformed, file: name, "not an HDF5 file (no HDF5 signature)")
    }

    /// Throws `.malformed` ("not an HDF5 file") unless `image` carries the signature.
    static func check(image: Data, name: String) throws {
        for offset in candidateOffsets(size: image.count) where offset + bytes.count <= image.count {
            let start = image.startIndex + offset
            if image[start..<(start + bytes.count)].elementsEqual(bytes) { return }
        }
        throw ModelIOError(.malformed, file: name, "not an HDF5 file (no HDF5 signature)")
    }
}
