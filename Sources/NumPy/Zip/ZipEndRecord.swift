import Foundation
import ModelCore

/// Where a ZIP file's central directory is and how many members it declares: the
/// end-of-central-directory record (APPNOTE 4.3.16) and, when the classic record is saturated,
/// the zip64 record (4.3.14) found through its locator (4.3.15).
///
/// Finding the record also tells a zip from anything else, so a text file named `.npz` gets a
/// clear error. The records must agree: a classic field that is not saturated must equal its
/// zip64 counterpart, the directory must lie inside the file before the records, and only
/// single-disk archives are accepted.
struct ZipEndRecord {
    var entryCount: UInt64
    var directoryOffset: UInt64
    var directorySize: UInt64

    private static let endSignature: [UInt8] = [0x50, 0x4B, 0x05, 0x06]
    private static let locatorSignature: [UInt8] = [0x50, 0x4B, 0x06, 0x07]
    private static let zip64Signature: [UInt8] = [0x50, 0x4B, 0x06, 0x06]

    /// Parses the records at the end of `bytes` (the whole file); errors name `file`.
    init(_ bytes: UnsafeRawBufferPointer, file: String) throws {
        func fail(_ message: String) -> ModelIOError { ModelIOError(.malformed, file: file, message) }
        let size = bytes.count
        // The record is 22 bytes plus a comment of at most 65535 bytes, at the very end.
        var position = size - 22
        let lowest = max(0, size - 22 - 0xFFFF)
        while position >= lowest {
            if Self.matches(bytes, position, Self.endSignature),
               position + 22 + Int(ZipBytes.u16(bytes, position + 20)) == size {
                break
            }
            position -= 1
        }
        guard position >= lowest, size >= 22 else {
            let what = size >= 6 && Self.matches(bytes, 0, NpyFormat.magic) ? "a single .npy array" : "not a zip archive"
            throw ModelIOError(.malformed, file: file,
                               "expected a zip archive, found \(what): no end-of-central-directory record")
        }
        let disk = ZipBytes.u16(bytes, position + 4)
        let directoryDisk = ZipBytes.u16(bytes, position + 6)
        let onDisk = UInt64(ZipBytes.u16(bytes, position + 8))
        var count = UInt64(ZipBytes.u16(bytes, position + 10))
        var directorySize = UInt64(ZipBytes.u32(bytes, position + 12))
        var directoryOffset = UInt64(ZipBytes.u32(bytes, position + 16))
        var recordsStart = UInt64(position)

        if position >= 20, Self.matches(bytes, position - 20, Self.locatorSignature) {
            let locator = position - 20
            let zip64Offset = ZipBytes.u64(bytes, locator + 8)
            guard ZipBytes.u32(bytes, locator + 4) == 0, ZipBytes.u32(bytes, locator + 16) <= 1 else {
                throw fail("multi-disk zip archives are not supported")
            }
            guard zip64Offset <= UInt64(locator), UInt64(locator) - zip64Offset >= 56,
                  Self.matches(bytes, Int(zip64Offset), Self.zip64Signature) else {
                throw fail("inconsistent zip64 records: no zip64 end-of-central-directory record at offset \(zip64Offset)")
            }
            let record = Int(zip64Offset)
            let recordSize = ZipBytes.u64(bytes, record + 4)
            guard recordSize >= 44, recordSize <= UInt64(locator - record - 12) else {
                throw fail("inconsistent zip64 records: the zip64 end record declares \(recordSize) bytes")
            }
            guard ZipBytes.u32(bytes, record + 16) == 0, ZipBytes.u32(bytes, record + 20) == 0 else {
                throw fail("multi-disk zip archives are not supported")
            }
            let count64 = ZipBytes.u64(bytes, record + 32)
            let onDisk64 = ZipBytes.u64(bytes, record + 24)
            let size64 = ZipBytes.u64(bytes, record + 40)
            let offset64 = ZipBytes.u64(bytes, record + 48)
            // A classic field either is saturated (the real value is in the zip64 record) or
            // says the same thing; anything else means two readers would see two archives.
            func agree(_ classic: UInt64, _ saturated: UInt64, _ wide: UInt64, _ what: String) throws {
                guard classic == saturated || classic == wide else {
                    throw fail("inconsistent zip64 records: the \(what) is \(classic) in the classic end record but \(wide) in the zip64 one")
                }
            }
            try agree(count, 0xFFFF, count64, "member count")
            try agree(onDisk, 0xFFFF, onDisk64, "member count on this disk")
            try agree(directorySize, 0xFFFF_FFFF, size64, "directory size")
            try agree(directoryOffset, 0xFFFF_FFFF, offset64, "directory offset")
            guard onDisk64 == count64 else { throw fail("multi-disk zip archives are not supported") }
            count = count64
            directorySize = size64
            directoryOffset = offset64
            recordsStart = zip64Offset
        } else {
            guard disk == 0, directoryDisk == 0, onDisk == count else {
                throw fail("multi-disk zip archives are not supported")
            }
        }
        guard directoryOffset <= recordsStart, directorySize <= recordsStart - directoryOffset else {
            throw fail("damaged zip: the central directory (offset \(directoryOffset), \(directorySize) bytes) does not lie inside the file")
        }
        // Each directory entry takes at least 46 bytes: a count that cannot fit is a lie.
        guard count <= directorySize / 46 else {
            throw fail("damaged zip: \(count) members declared but the directory has room for \(directorySize / 46)")
        }
        entryCount = count
        self.directoryOffset = directoryOffset
        self.directorySize = directorySize
    }

    private static func matches(_ b: UnsafeRawBufferPointer, _ at: Int, _ signature: [UInt8]) -> Bool {
        at >= 0 && at + signature.count <= b.count && (0..<signature.count).allSatisfy { b[at + $0] == signature[$0] }
    }
}

/// Little-endian field reads; callers check bounds first.
enum ZipBytes {
    static func u16(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        UInt16(b[at]) | UInt16(b[at + 1]) << 8
    }

    static func u32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[at + $1]) << (8 * UInt32($1)) }
    }

    static func u64(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
    }
}
