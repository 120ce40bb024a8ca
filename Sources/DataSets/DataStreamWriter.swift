import CZlibShim
import Foundation
import ModelCore
import NumPy
import HDF5
import Tensor

/// `bss data convert` to `.npz` without holding the set: the arrays are written a chunk at a
/// time from a `DataStream` (docs/design.md, "Bounded memory for large data sets").
///
/// The archive is a plain zip of stored (uncompressed) `.npy` members, as `numpy.savez` writes:
/// `x` first, its `.npy` header declaring the shape with the sample count the source lists
/// (`DataStream.count`) and its rows appended as chunks arrive; then `y` (int64, kept in memory:
/// 8 bytes a sample) and `class_names`. Images `--skip-bad-images` leaves out make the set
/// shorter than declared: the header is then rewritten in place (numpy pads it so shape[0] can
/// grow to 21 digits without moving the data) and the member's CRC-32 is recombined from the
/// header's and the rows' (`crc32_combine`), so nothing is read back. Sizes and CRCs are
/// patched into each local header once the member is complete; members and offsets past
/// 4 GiB use zip64 records. `x` is uint8 when the first chunk is integer pixels 0–255 (every
/// chunk must then be), else float32 — what `DataWriter` decides for a whole set. The file
/// is written to a temporary name and renamed when complete (`AtomicFile`).
public enum DataStreamWriter {
    public typealias Written = (samples: Int, labels: Int?, classNames: Int?, layout: DataLayout?, skipped: [String], description: String, images: Bool)

    /// Writes the data set `path` (read with `options`, `chunkSize` samples at a time) to `url`.
    /// Without a model, image colour modes are decided per chunk; a colour chunk after gray
    /// ones means the set has both, and then every image is written as RGB, as the whole read
    /// decides (one more pass).
    public static func writeNpz(_ path: String, options: DataLoader.ReadOptions, to url: URL, layout: DataLayout? = nil,
                                chunkSize: Int = DataLoader.defaultChunkSize, forceZip64: Bool = false) throws -> Written {
        do {
            return try writeNpz(try DataLoader.stream(path, stored: .nchw, options: options, chunkSize: chunkSize),
                                to: url, layout: layout, forceZip64: forceZip64)
        } catch let e as ModelIOError where e.location == "colour" {
            return try writeNpz(try DataLoader.stream(path, stored: .nchw, options: options, channels: 3, chunkSize: chunkSize),
                                to: url, layout: layout, forceZip64: forceZip64)
        }
    }

    /// Writes `stream` to `url` (`.npz`); `layout` converts images of a format with a fixed
    /// layout (as `DataWriter.write`). Returns the samples written, labels, class names, the
    /// layout written, the images left out, the first chunk's description and whether `x` holds
    /// images (`[N, A, B, C]`).
    public static func writeNpz(_ stream: DataStream, to url: URL, layout: DataLayout? = nil, forceZip64: Bool = false) throws -> Written {
        var result: Written = (0, nil, nil, nil, [], stream.description, false)
        try AtomicFile.write(to: url) { temporary in
            let zip = try ZipStreamWriter(url: temporary, file: url.path)
            var labels: [Int64]? = []
            var perSample: [Int]?, uint8 = false, written: DataLayout?
            var rowBytes = 0
            var count = 0
            result.skipped = try stream.forEachRawChunk { raw in
                var x = raw.x
                if let layout, x.rank == 4 {
                    guard let from = raw.layout else {
                        throw ModelIOError(.mismatch, file: url.path,
                                           "the source does not say how its images are laid out (\(raw.description)); it is written as stored, without a layout option")
                    }
                    x = DataSet.convert(x, from: from, to: layout)
                    written = layout
                } else if perSample == nil {
                    written = raw.layout
                }
                let fits = raw.xIsInteger && x.data.allSatisfy { $0 >= 0 && $0 <= 255 && $0 == $0.rounded() }
                if perSample == nil {
                    perSample = Array(x.shape.dropFirst())
                    uint8 = fits
                    rowBytes = perSample!.reduce(1, *) * (uint8 ? 1 : 4)
                    result.description = raw.description
                    let header = NpyFormat.header(descr: uint8 ? "|u1" : "<f4", shape: [stream.count] + perSample!)
                    try zip.begin("x.npy", header: header, expectedBodyBytes: UInt64(stream.count) * UInt64(rowBytes), forceZip64: forceZip64)
                } else if uint8 && !fits {
                    throw ModelIOError(.mismatch, file: stream.file, location: "x",
                                       "a chunk holds values that are not pixels 0-255 after chunks that were; convert this file whole")
                }
                if uint8 {
                    try x.data.map { UInt8($0) }.withUnsafeBytes { try zip.append($0) }
                } else {
                    try x.data.map { $0.bitPattern.littleEndian }.withUnsafeBytes { try zip.append($0) }
                }
                count += x.batch
                if let y = raw.y, labels != nil { labels! += y } else { labels = nil }
                return false
            }
            guard let perSample else { throw ModelIOError(.mismatch, file: stream.file, location: "x", "the data set is empty") }
            // Fewer rows than listed (--skip-bad-images): the same-length header with the real count.
            let final = count == stream.count ? nil : NpyFormat.header(descr: uint8 ? "|u1" : "<f4", shape: [count] + perSample)
            try zip.end(rewrittenHeader: final)
            if let labels {
                let array = NumpyArray(int64s: labels, shape: [labels.count])
                try zip.whole("y.npy", NpyFormat.encode(array))
                result.labels = labels.count
            }
            if let names = stream.classNames {
                try zip.whole("class_names.npy", NpyFormat.encode(NumpyArray(strings: names, shape: [names.count])))
                result.classNames = names.count
            }
            try zip.finish()
            result.samples = count
            result.layout = written
            result.images = perSample.count == 3
        }
        return result
    }
}

/// A zip archive of stored members written front to back, each member's data streamed
/// (`DataStreamWriter`). Timestamps are fixed (2000-01-01 12:00), so equal inputs give equal bytes.
final class ZipStreamWriter {
    private let handle: FileHandle
    private let file: String
    private var offset: UInt64 = 0
    private struct Member { var name: [UInt8]; var offset: UInt64; var size: UInt64; var crc: UInt32 }
    private var members: [Member] = []
    // The member being written.
    private var current: (name: [UInt8], offset: UInt64, header: [UInt8], bodyCRC: ZipCRC32, body: UInt64, zip64: Bool)?

    static let dosTime: UInt16 = 12 << 11, dosDate: UInt16 = (20 << 9) | (1 << 5) | 1
    static let max32: UInt64 = 0xFFFF_FFFF

    init(url: URL, file: String) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil), let h = FileHandle(forWritingAtPath: url.path) else {
            throw ModelIOError(.io, file: file, "cannot create the output file")
        }
        handle = h; self.file = file
    }

    deinit { try? handle.close() }

    private func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    private func write(_ bytes: UnsafeRawBufferPointer) throws {
        do { try handle.write(contentsOf: bytes) } catch {
            throw ModelIOError(.io, file: file, "write failed: \(error.localizedDescription)")
        }
        offset += UInt64(bytes.count)
    }

    private static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    /// Starts member `name` whose data begins with `header`; zip64 when the member may reach 4 GiB.
    func begin(_ name: String, header: [UInt8], expectedBodyBytes: UInt64, forceZip64: Bool = false) throws {
        precondition(current == nil, "one member at a time")
        let n = Array(name.utf8)
        let zip64 = forceZip64 || UInt64(header.count) + expectedBodyBytes >= Self.max32
        let start = offset
        var local = Self.le(UInt32(0x0403_4b50)) + Self.le(UInt16(zip64 ? 45 : 20)) + Self.le(UInt16(0)) + Self.le(UInt16(0))
        local += Self.le(Self.dosTime) + Self.le(Self.dosDate)
        local += Self.le(UInt32(0)) + (zip64 ? Self.le(UInt32.max) + Self.le(UInt32.max) : Self.le(UInt32(0)) + Self.le(UInt32(0)))
        local += Self.le(UInt16(n.count)) + Self.le(UInt16(zip64 ? 20 : 0)) + n
        if zip64 { local += Self.le(UInt16(1)) + Self.le(UInt16(16)) + Self.le(UInt64(0)) + Self.le(UInt64(0)) }
        try write(local)
        try write(header)
        current = (n, start, header, ZipCRC32(), 0, zip64)
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(current != nil, "begin a member first")
        current!.bodyCRC.update(bytes)
        current!.body += UInt64(bytes.count)
        try write(bytes)
    }

    /// Completes the member: `rewrittenHeader` (same length) replaces its header in place; the
    /// sizes and CRC go into its local header.
    func end(rewrittenHeader: [UInt8]? = nil) throws {
        guard let c = current else { preconditionFailure("no member to end") }
        let header = rewrittenHeader ?? c.header
        precondition(header.count == c.header.count, "a rewritten header keeps its length")
        var headerCRC = ZipCRC32()
        header.withUnsafeBytes { headerCRC.update($0) }
        let crc = UInt32(truncatingIfNeeded: crc32_combine(uLong(headerCRC.value), uLong(c.bodyCRC.value), off_t(c.body)))
        let size = UInt64(header.count) + c.body
        let nameEnd = c.offset + 30 + UInt64(c.name.count)
        do {
            if rewrittenHeader != nil {
                try handle.seek(toOffset: nameEnd + (c.zip64 ? 20 : 0))
                try handle.write(contentsOf: header)
            }
            try handle.seek(toOffset: c.offset + 14)
            try handle.write(contentsOf: Self.le(crc) + (c.zip64 ? Self.le(UInt32.max) + Self.le(UInt32.max)
                                                                : Self.le(UInt32(size)) + Self.le(UInt32(size))))
            if c.zip64 {
                try handle.seek(toOffset: nameEnd + 4)
                try handle.write(contentsOf: Self.le(size) + Self.le(size))
            }
            try handle.seek(toOffset: offset)
        } catch {
            throw ModelIOError(.io, file: file, "write failed: \(error.localizedDescription)")
        }
        members.append(Member(name: c.name, offset: c.offset, size: size, crc: crc))
        current = nil
    }

    /// A member whose bytes are all at hand.
    func whole(_ name: String, _ data: Data) throws {
        let bytes = [UInt8](data)
        try begin(name, header: [], expectedBodyBytes: UInt64(bytes.count))
        try bytes.withUnsafeBytes { try append($0) }
        try end()
    }

    /// The central directory and the end records (zip64 ones when an offset, size or count needs them).
    func finish() throws {
        precondition(current == nil, "end the member first")
        let directoryStart = offset
        for m in members {
            let bigSize = m.size >= Self.max32, bigOffset = m.offset >= Self.max32
            var extra: [UInt8] = []
            if bigSize { extra += Self.le(m.size) + Self.le(m.size) }
            if bigOffset { extra += Self.le(m.offset) }
            if !extra.isEmpty { extra = Self.le(UInt16(1)) + Self.le(UInt16(extra.count)) + extra }
            let zip64 = !extra.isEmpty
            var e = Self.le(UInt32(0x0201_4b50)) + Self.le(UInt16((3 << 8) | (zip64 ? 45 : 20))) + Self.le(UInt16(zip64 ? 45 : 20))
            e += Self.le(UInt16(0)) + Self.le(UInt16(0)) + Self.le(Self.dosTime) + Self.le(Self.dosDate) + Self.le(m.crc)
            e += bigSize ? Self.le(UInt32.max) + Self.le(UInt32.max) : Self.le(UInt32(m.size)) + Self.le(UInt32(m.size))
            e += Self.le(UInt16(m.name.count)) + Self.le(UInt16(extra.count)) + Self.le(UInt16(0)) + Self.le(UInt16(0))
            e += Self.le(UInt16(0)) + Self.le(UInt32(0o100644) << 16)
            e += bigOffset ? Self.le(UInt32.max) : Self.le(UInt32(m.offset))
            try write(e + m.name + extra)
        }
        let directorySize = offset - directoryStart
        let zip64 = directoryStart >= Self.max32 || directorySize >= Self.max32 || members.count >= 0xFFFF
            || members.contains { $0.size >= Self.max32 || $0.offset >= Self.max32 }
        if zip64 {
            let record = offset
            var r = Self.le(UInt32(0x0606_4b50)) + Self.le(UInt64(44)) + Self.le(UInt16((3 << 8) | 45)) + Self.le(UInt16(45))
            r += Self.le(UInt32(0)) + Self.le(UInt32(0)) + Self.le(UInt64(members.count)) + Self.le(UInt64(members.count))
            r += Self.le(directorySize) + Self.le(directoryStart)
            r += Self.le(UInt32(0x0706_4b50)) + Self.le(UInt32(0)) + Self.le(record) + Self.le(UInt32(1))
            try write(r)
        }
        let entries = UInt16(min(members.count, 0xFFFF))
        var end = Self.le(UInt32(0x0605_4b50)) + Self.le(UInt16(0)) + Self.le(UInt16(0)) + Self.le(entries) + Self.le(entries)
        end += Self.le(UInt32(min(directorySize, Self.max32))) + Self.le(UInt32(min(directoryStart, Self.max32))) + Self.le(UInt16(0))
        try write(end)
        do { try handle.synchronize(); try handle.close() } catch {
            throw ModelIOError(.io, file: file, "write failed: \(error.localizedDescription)")
        }
    }
}
