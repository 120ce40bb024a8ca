import Foundation

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

    /// Throws `.notFound`, `.io` or `.malformed` ("not an HDF5 file") for the file at `url`.
    static func check(fileAt url: URL, name: String) throws {
        // Only regular files: libhdf5 would block on a FIFO (see InputFile).
        try InputFile.checkRegular(url, name: name)
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw ModelIOError(.io, file: name, "cannot open for reading (\(error.localizedDescription))")
        }
        defer { try? handle.close() }
        do {
            let size = Int(try handle.seekToEnd())
            for offset in candidateOffsets(size: size) {
                try handle.seek(toOffset: UInt64(offset))
                if let head = try handle.read(upToCount: bytes.count), Array(head) == bytes { return }
            }
        } catch {
            throw ModelIOError(.io, file: name, "cannot read (\(error.localizedDescription))")
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
