import Foundation

/// The member count a ZIP file declares in its end-of-central-directory record (APPNOTE 4.3.16,
/// and the zip64 record 4.3.14 when the classic one is saturated).
///
/// `Npz.read` compares it with what ZIPFoundation lists, because ZIPFoundation's iterator ends
/// early — without an error — on a central or local header it cannot read. Finding the record
/// also tells a zip from anything else, so a text file named `.npz` gets a clear error.
enum ZipEndRecord {
    private static let endSignature: [UInt8] = [0x50, 0x4B, 0x05, 0x06]
    private static let locatorSignature: [UInt8] = [0x50, 0x4B, 0x06, 0x07]
    private static let zip64Signature: [UInt8] = [0x50, 0x4B, 0x06, 0x06]

    static func entryCount(_ url: URL) throws -> UInt64 {
        let file = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
            throw ModelIOError(.notFound, file: file, "no such file")
        }
        guard !isDirectory.boolValue else {
            throw ModelIOError(.io, file: file, "expected a file, found a directory")
        }
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw ModelIOError(.io, file: file, "cannot read: \(error.localizedDescription)")
        }
        defer { try? handle.close() }
        func read(at offset: UInt64, count: Int) throws -> [UInt8] {
            do {
                try handle.seek(toOffset: offset)
                return [UInt8](try handle.read(upToCount: count) ?? Data())
            } catch {
                throw ModelIOError(.io, file: file, "cannot read: \(error.localizedDescription)")
            }
        }
        let size: UInt64
        do { size = try handle.seekToEnd() } catch {
            throw ModelIOError(.io, file: file, "cannot read: \(error.localizedDescription)")
        }
        // The record is 22 bytes plus a comment of at most 65535 bytes, at the very end.
        let tailLength = Int(min(size, 22 + 0xFFFF))
        let tailStart = size - UInt64(tailLength)
        let tail = try read(at: tailStart, count: tailLength)
        var position = tail.count - 22
        while position >= 0 {
            if tail[position..<(position + 4)].elementsEqual(endSignature),
               position + 22 + Int(u16(tail, position + 20)) <= tail.count {
                break
            }
            position -= 1
        }
        guard position >= 0 else {
            let head = try read(at: 0, count: 6)
            let what = head.elementsEqual(NpyFormat.magic) ? "a single .npy array" : "not a zip archive"
            throw ModelIOError(.malformed, file: file,
                               "expected an .npz (a zip of .npy files), found \(what): no end-of-central-directory record")
        }
        let classicCount = UInt64(u16(tail, position + 10))
        // A zip64 locator sits immediately before the classic record when one is needed.
        guard position >= 20, tail[(position - 20)..<(position - 16)].elementsEqual(locatorSignature) else {
            return classicCount
        }
        let zip64Offset = u64(tail, position - 20 + 8)
        let record = try read(at: zip64Offset, count: 56)
        guard record.count == 56, record[0..<4].elementsEqual(zip64Signature) else {
            throw ModelIOError(.malformed, file: file,
                               "the zip64 end-of-central-directory record is missing at offset \(zip64Offset)")
        }
        return u64(record, 32)
    }

    private static func u16(_ b: [UInt8], _ at: Int) -> UInt16 {
        UInt16(b[at]) | UInt16(b[at + 1]) << 8
    }

    private static func u64(_ b: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
    }
}
