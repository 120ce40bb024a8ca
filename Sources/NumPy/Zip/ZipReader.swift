import Foundation
import ModelCore

/// A strict, bounded reader for the zip archives ModelIO reads (`.npz`, `.keras`).
///
/// Why not ZIPFoundation's reader: its inflate loop never ends on a damaged deflate stream
/// (one flipped byte hangs at 100% CPU), it inflates whatever a member holds whatever its
/// declared size, its iterator stops silently at a header it cannot parse, and it lists
/// duplicate names. ZIPFoundation is still used for writing.
///
/// Refused before any member is inflated: encrypted, multi-disk and non-stored/deflated
/// members; inconsistent zip64 records; duplicate names; names that are absolute or contain
/// `..`, `\` or NUL; members whose data overlap or leave the file; a declared size
/// a deflate stream of that length cannot produce (more than 1032:1) or beyond the
/// `MemoryBudget` (per member and in total). Extraction (`ZipInflate`) stops at the declared
/// size, refuses a stream that is longer or shorter, and checks the CRC-32.
package struct ZipReader {
    package struct Member {
        package var name: String
        var method: UInt16
        var crc32: UInt32
        var compressedSize: UInt64
        package var uncompressedSize: UInt64
        /// Where the member's local header starts.
        var headerOffset: Int
        /// Where the member's data start (after its local header).
        var dataOffset: Int
        var isDirectory: Bool { name.hasSuffix("/") }
    }

    let file: String
    /// The whole archive (memory-mapped when the system allows).
    let bytes: Data
    package let members: [Member]

    /// Opens and validates the archive at `url`; `expected` describes what the file should be
    /// ("an .npz (a zip of .npy files)") in the error for non-zip input.
    package init(url: URL, file: String, expected: String) throws {
        self.file = file
        bytes = try FileBytes.read(url, name: file)
        members = try bytes.withUnsafeBytes { raw in
            let end: ZipEndRecord
            do { end = try ZipEndRecord(raw, file: file) } catch var e as ModelIOError {
                e.message = e.message.replacingOccurrences(of: "expected a zip archive", with: "expected \(expected)")
                throw e
            }
            return try Self.parseDirectory(raw, end: end, file: file)
        }
    }

    /// The member's uncompressed bytes, CRC-checked; errors name the member.
    package func data(of member: Member, location: String? = nil) throws -> Data {
        let location = location ?? member.name
        let start = member.dataOffset
        let stop = start + Int(member.compressedSize)
        let out: Data
        if member.method == 0 {
            // A slice shares the (mapped) archive's bytes: no copy of a stored data set.
            out = bytes[(bytes.startIndex + start)..<(bytes.startIndex + stop)]
        } else {
            out = try bytes.withUnsafeBytes { raw in
                try ZipInflate.inflate(UnsafeRawBufferPointer(rebasing: raw[start..<stop]),
                                       size: Int(member.uncompressedSize), file: file, location: location)
            }
        }
        var crc = ZipCRC32()
        out.withUnsafeBytes { crc.update($0) }
        guard crc.value == member.crc32 else {
            throw ModelIOError(.malformed, file: file, location: location,
                               "bad CRC-32: the archive records \(Self.hex32(member.crc32)), the data gives \(Self.hex32(crc.value)) (the file is corrupted)")
        }
        return out
    }

    /// Up to `count` bytes from the start of the member, without checks (see `data(of:)`).
    package func prefix(of member: Member, count: Int) -> [UInt8] {
        let start = member.dataOffset
        let stop = start + Int(member.compressedSize)
        return bytes.withUnsafeBytes { raw in
            let input = UnsafeRawBufferPointer(rebasing: raw[start..<stop])
            return member.method == 0 ? Array(input.prefix(count)) : ZipInflate.prefix(input, count: count)
        }
    }

    // MARK: Central directory

    private static func parseDirectory(_ raw: UnsafeRawBufferPointer, end: ZipEndRecord, file: String) throws -> [Member] {
        func fail(_ location: String?, _ message: String) -> ModelIOError {
            ModelIOError(.malformed, file: file, location: location, message)
        }
        var members: [Member] = []
        var names = Set<String>()
        var at = Int(end.directoryOffset)
        let directoryEnd = at + Int(end.directorySize)
        var totalSize: UInt64 = 0
        for index in 0..<end.entryCount {
            guard at + 46 <= directoryEnd, ZipBytes.u32(raw, at) == 0x0201_4B50 else {
                throw fail(nil, "damaged zip: central directory entry \(index + 1) of \(end.entryCount) is missing or corrupt")
            }
            let flags = ZipBytes.u16(raw, at + 8)
            let method = ZipBytes.u16(raw, at + 10)
            let crc = ZipBytes.u32(raw, at + 16)
            var compressed = UInt64(ZipBytes.u32(raw, at + 20))
            var uncompressed = UInt64(ZipBytes.u32(raw, at + 24))
            let nameLength = Int(ZipBytes.u16(raw, at + 28))
            let extraLength = Int(ZipBytes.u16(raw, at + 30))
            let commentLength = Int(ZipBytes.u16(raw, at + 32))
            var disk = UInt32(ZipBytes.u16(raw, at + 34))
            var localOffset = UInt64(ZipBytes.u32(raw, at + 42))
            let next = at + 46 + nameLength + extraLength + commentLength
            guard next <= directoryEnd else {
                throw fail(nil, "damaged zip: central directory entry \(index + 1) runs past the directory")
            }
            let nameBytes = UnsafeRawBufferPointer(rebasing: raw[(at + 46)..<(at + 46 + nameLength)])
            let name = try memberName(nameBytes, utf8Flag: flags & 0x800 != 0, file: file)
            guard names.insert(name).inserted else {
                throw fail(name, "the member name occurs more than once in the archive (there is no right one to pick)")
            }
            // zip64 extra (APPNOTE 4.5.3): holds exactly the fields saturated in the entry, in order.
            let extra = UnsafeRawBufferPointer(rebasing: raw[(at + 46 + nameLength)..<(at + 46 + nameLength + extraLength)])
            if let zip64 = try zip64Field(extra, file: file, name: name) {
                var cursor = 0
                func take(_ width: Int) throws -> UInt64 {
                    guard cursor + width <= zip64.count else {
                        throw fail(name, "inconsistent zip64 records: the zip64 extra field is too short for the saturated sizes")
                    }
                    defer { cursor += width }
                    return width == 8 ? ZipBytes.u64(zip64, cursor) : UInt64(ZipBytes.u32(zip64, cursor))
                }
                if uncompressed == 0xFFFF_FFFF { uncompressed = try take(8) }
                if compressed == 0xFFFF_FFFF { compressed = try take(8) }
                if localOffset == 0xFFFF_FFFF { localOffset = try take(8) }
                if disk == 0xFFFF { disk = UInt32(try take(4)) }
            } else if uncompressed == 0xFFFF_FFFF || compressed == 0xFFFF_FFFF || localOffset == 0xFFFF_FFFF {
                throw fail(name, "inconsistent zip64 records: a saturated size or offset without a zip64 extra field")
            }
            guard disk == 0 else { throw fail(name, "multi-disk zip archives are not supported") }
            guard flags & 0x41 == 0 else {
                throw ModelIOError(.unsupported, file: file, location: name, "encrypted zip members are not supported")
            }
            guard method == 0 || method == 8 else {
                throw ModelIOError(.unsupported, file: file, location: name,
                                   "zip compression method \(method) is not supported (expected stored or deflate)")
            }
            if method == 0, compressed != uncompressed {
                throw fail(name, "a stored member declares \(compressed) bytes stored but \(uncompressed) uncompressed")
            }
            // Deflate cannot expand more than 1032:1 (a 258-byte match per ~2 bits); a larger
            // declared size is a lie, whatever the budget.
            if method == 8, uncompressed / 1032 > compressed + 1 {
                throw fail(name, "declares \(uncompressed) uncompressed bytes from \(compressed) compressed, more than deflate can produce")
            }
            try MemoryBudget.check(uncompressed, file: file, location: name, what: "the member declares")
            totalSize += uncompressed
            try MemoryBudget.check(totalSize, file: file, location: name, what: "the members up to this one declare")
            let dataOffset = try localHeader(raw, at: localOffset, name: nameBytes, crc: crc, compressed: compressed,
                                             uncompressed: uncompressed, limit: Int(end.directoryOffset), file: file, member: name)
            members.append(Member(name: name, method: method, crc32: crc, compressedSize: compressed,
                                  uncompressedSize: uncompressed, headerOffset: Int(localOffset), dataOffset: dataOffset))
            at = next
        }
        // Python's zipfile reads entries until the directory's bytes run out, whatever the
        // count says: both must agree, or numpy and we would see different archives.
        guard at == directoryEnd else {
            throw fail(nil, "damaged zip: the central directory holds \(directoryEnd - at) bytes after the \(end.entryCount) entries the end record declares")
        }
        // Members may not share bytes: overlapping members are how "zip bombs" multiply one
        // deflate stream into many outputs.
        let byOffset = members.sorted { $0.headerOffset < $1.headerOffset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.dataOffset + Int(a.compressedSize) > b.headerOffset {
            throw fail(b.name, "damaged zip: the member's data overlap those of '\(a.name)'")
        }
        return members
    }

    /// Checks the local header at `offset` against the central entry; returns where the data start.
    private static func localHeader(_ raw: UnsafeRawBufferPointer, at offset: UInt64, name: UnsafeRawBufferPointer,
                                    crc: UInt32, compressed: UInt64, uncompressed: UInt64, limit: Int,
                                    file: String, member: String) throws -> Int {
        func fail(_ message: String) -> ModelIOError { ModelIOError(.malformed, file: file, location: member, message) }
        guard offset <= UInt64(limit), Int(offset) + 30 <= limit, ZipBytes.u32(raw, Int(offset)) == 0x0403_4B50 else {
            throw fail("damaged zip: no local header at offset \(offset)")
        }
        let at = Int(offset)
        let flags = ZipBytes.u16(raw, at + 6)
        let nameLength = Int(ZipBytes.u16(raw, at + 26))
        let extraLength = Int(ZipBytes.u16(raw, at + 28))
        let dataOffset = at + 30 + nameLength + extraLength
        guard dataOffset <= limit, UInt64(limit - dataOffset) >= compressed else {
            throw fail("damaged zip: the member's \(compressed) bytes of data run past the end of the archive")
        }
        guard raw[(at + 30)..<(at + 30 + nameLength)].elementsEqual(name) else {
            throw fail("damaged zip: the local header names a different member than the central directory")
        }
        // Without a data descriptor (flag bit 3) the local CRC must agree; sizes are checked
        // when not deferred to a zip64 extra.
        if flags & 0x08 == 0 {
            let localCRC = ZipBytes.u32(raw, at + 14)
            let localCompressed = UInt64(ZipBytes.u32(raw, at + 18))
            let localUncompressed = UInt64(ZipBytes.u32(raw, at + 22))
            guard localCRC == crc,
                  localCompressed == 0xFFFF_FFFF || localCompressed == compressed,
                  localUncompressed == 0xFFFF_FFFF || localUncompressed == uncompressed else {
                throw fail("damaged zip: the local header and the central directory disagree on the member's CRC or sizes")
            }
        }
        return dataOffset
    }

    /// The data of the zip64 extended-information field (id 1) in `extra`, if any.
    private static func zip64Field(_ extra: UnsafeRawBufferPointer, file: String, name: String) throws -> UnsafeRawBufferPointer? {
        var at = 0
        while at + 4 <= extra.count {
            let id = ZipBytes.u16(extra, at)
            let size = Int(ZipBytes.u16(extra, at + 2))
            guard at + 4 + size <= extra.count else { break }   // a malformed trailing field: ignored as zip tools do
            if id == 1 { return UnsafeRawBufferPointer(rebasing: extra[(at + 4)..<(at + 4 + size)]) }
            at += 4 + size
        }
        return nil
    }

    /// The member's name: UTF-8 (flag bit 11) or code page 437 (ASCII only: anything else is refused),
    /// relative, without `..` components, backslashes or NUL.
    private static func memberName(_ bytes: UnsafeRawBufferPointer, utf8Flag: Bool, file: String) throws -> String {
        let name: String
        if let s = String(validating: bytes, as: UTF8.self), utf8Flag || bytes.allSatisfy({ $0 < 0x80 }) {
            name = s
        } else {
            throw ModelIOError(.unsupported, file: file, "a member name is neither UTF-8 nor ASCII")
        }
        // A trailing "/" marks a directory entry; the other components must be plain names.
        var components = name.split(separator: "/", omittingEmptySubsequences: false)
        if name.hasSuffix("/") { components.removeLast() }
        guard !name.isEmpty, !name.hasPrefix("/"), !name.contains("\\"), !name.contains("\0"),
              components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            throw ModelIOError(.malformed, file: file, location: name,
                               "a path-like member name (absolute, empty, or with '..', '.', '\\' components) is refused")
        }
        return name
    }

    private static func hex32(_ v: UInt32) -> String { String(format: "0x%08x", v) }
}
