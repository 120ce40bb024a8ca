import Foundation
import Tensor
import ModelCore

/// IDX files, the format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
/// `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
/// `t10k-labels-idx1-ubyte`, each optionally gzipped (`.gz`).
///
/// Layout: magic `00 00 TT DD` (TT the element type: 08 uint8, 09 int8, 0B int16, 0C int32,
/// 0D float32, 0E float64; DD the number of dimensions), then DD big-endian uint32 extents,
/// then the elements, big-endian, row-major. Images `[N, H, W]` become `[N, 1, H, W]` (one
/// channel, so NCHW and NHWC hold the same bytes); `[N, F]` stays flat.
///
/// `DATA` names the images file; the labels file is found next to it by name
/// (`…-images-idx3-ubyte` → `…-labels-idx1-ubyte`, with or without `.gz`).
enum IDXFile {
    /// Whether `path` names an IDX file (by its name: `…idx<D>-ubyte[.gz]`).
    static func matches(_ path: String) -> Bool {
        var name = URL(fileURLWithPath: path).lastPathComponent.lowercased()
        if name.hasSuffix(".gz") { name = String(name.dropLast(3)) }
        return name.range(of: #"idx[0-9]-ubyte$"#, options: .regularExpression) != nil || name.hasSuffix(".idx")
    }

    /// A parsed IDX array: extents and values (as Float for images, Int64 for labels).
    struct Parsed {
        var shape: [Int]
        var type: UInt8
        var bytes: [UInt8]
        var dataOffset: Int
        var isInteger: Bool { type != 0x0D && type != 0x0E }
    }

    /// Reads the images file at `path` and its labels file.
    static func read(_ path: String) throws -> DataLoader.RawData {
        let name = URL(fileURLWithPath: path).lastPathComponent
        if name.contains("labels-idx1") {
            throw ModelIOError(.mismatch, file: path,
                               "this is a labels file; give the images file (\(name.replacingOccurrences(of: "labels-idx1", with: "images-idx3")))")
        }
        let images = try parse(path)
        guard images.shape.count >= 2 else {
            throw ModelIOError(.mismatch, file: path,
                               "expected images with at least 2 dimensions (N, ...), found shape \(images.shape)")
        }
        guard images.shape[0] > 0 else { throw ModelIOError(.mismatch, file: path, "the data set is empty (0 images)") }
        let x = values(images)
        let shape = images.shape.count == 3 ? [images.shape[0], 1, images.shape[1], images.shape[2]] : images.shape
        var labels: [Int64]?
        var labelsName = ""
        if let labelsPath = labelsFile(for: path) {
            let l = try parse(labelsPath)
            guard l.shape.count == 1, l.isInteger else {
                throw ModelIOError(.mismatch, file: labelsPath, "expected 1-D integer labels, found shape \(l.shape)")
            }
            guard l.shape[0] == images.shape[0] else {
                throw ModelIOError(.mismatch, file: labelsPath,
                                   "\(l.shape[0]) labels for the \(images.shape[0]) images in \(path)")
            }
            labels = integers(l)
            labelsName = " + " + URL(fileURLWithPath: labelsPath).lastPathComponent
        } else if name.contains("images-idx3") {
            let expected = path.replacingOccurrences(of: "images-idx3", with: "labels-idx1")
            throw ModelIOError(.notFound, file: path, "no labels file next to the images: expected \(expected) (or with/without .gz)")
        }
        return DataLoader.RawData(x: Tensor(shape: shape, data: x), xIsInteger: images.isInteger, y: labels,
                                  layout: shape.count == 4 ? .nchw : nil, description: "IDX images \(name)\(labelsName)", format: .idx)
    }

    /// The labels file belonging to images file `path`, if its name says (and it exists).
    static func labelsFile(for path: String) -> String? {
        let url = URL(fileURLWithPath: path)
        let name = url.lastPathComponent
        guard name.contains("images-idx3") else { return nil }
        var base = name.replacingOccurrences(of: "images-idx3", with: "labels-idx1")
        if base.hasSuffix(".gz") { base = String(base.dropLast(3)) }
        let folder = url.deletingLastPathComponent()
        let candidates = name.hasSuffix(".gz") ? [base + ".gz", base] : [base, base + ".gz"]
        for c in candidates {
            let p = folder.appendingPathComponent(c)
            if FileManager.default.fileExists(atPath: p.path) { return p.relativePath }
        }
        return nil
    }

    /// Element sizes by IDX type code.
    static let elementSize: [UInt8: Int] = [0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8]

    /// Reads and checks one IDX file (gunzipping `.gz` / gzip-magic files).
    static func parse(_ path: String) throws -> Parsed {
        let raw = try FileBytes.read(URL(fileURLWithPath: path))
        if !Gzip.isGzip(raw) { try MemoryBudget.check(UInt64(raw.count), file: path, what: "the file holds") }
        let bytes = Gzip.isGzip(raw) ? try Gzip.decompress(raw, file: path, declaredSize: declaredSize) : [UInt8](raw)
        guard bytes.count >= 4 else {
            throw ModelIOError(.malformed, file: path, "truncated IDX file: \(bytes.count) bytes, no 4-byte magic number")
        }
        let magic = bytes[0..<4].map { String(format: "%02x", $0) }.joined(separator: " ")
        guard bytes[0] == 0, bytes[1] == 0, let size = elementSize[bytes[2]], bytes[3] >= 1 else {
            throw ModelIOError(.malformed, file: path,
                               "bad IDX magic number \(magic): expected 00 00 <type 08/09/0b/0c/0d/0e> <dimensions ≥ 1> (00 00 08 03 for images, 00 00 08 01 for labels)")
        }
        let rank = Int(bytes[3])
        let header = 4 + 4 * rank
        guard bytes.count >= header else {
            throw ModelIOError(.malformed, file: path, "truncated IDX header: \(rank) dimensions need \(header) bytes, the file has \(bytes.count)")
        }
        var shape: [Int] = []
        for d in 0..<rank {
            let o = 4 + 4 * d
            shape.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        var expected = size
        for e in shape {
            let (p, overflow) = expected.multipliedReportingOverflow(by: e)
            guard !overflow else { throw ModelIOError(.malformed, file: path, "IDX extents \(shape) are too large") }
            expected = p
        }
        let found = bytes.count - header
        guard found == expected else {
            throw ModelIOError(.malformed, file: path, found < expected
                ? "truncated IDX file: shape \(shape) needs \(expected) data bytes, found \(found)"
                : "IDX file has \(found - expected) bytes after the \(expected) data bytes of shape \(shape)")
        }
        return Parsed(shape: shape, type: bytes[2], bytes: bytes, dataOffset: header)
    }

    /// The total size (header and data) an IDX header at the start of `prefix` declares; nil
    /// while the header is incomplete or not an IDX header (`parse` then explains what is wrong).
    static func declaredSize(_ prefix: [UInt8]) -> Int? {
        guard prefix.count >= 4, prefix[0] == 0, prefix[1] == 0, let size = elementSize[prefix[2]], prefix[3] >= 1 else {
            return nil
        }
        let header = 4 + 4 * Int(prefix[3])
        guard prefix.count >= header else { return nil }
        var total = size
        for d in 0..<Int(prefix[3]) {
            let o = 4 + 4 * d
            let e = Int(prefix[o]) << 24 | Int(prefix[o + 1]) << 16 | Int(prefix[o + 2]) << 8 | Int(prefix[o + 3])
            let (p, overflow) = total.multipliedReportingOverflow(by: e)
            guard !overflow else { return Int.max }
            total = p
        }
        let (sum, overflow) = total.addingReportingOverflow(header)
        return overflow ? Int.max : sum
    }

    /// The elements as Float (big-endian decoded).
    static func values(_ a: Parsed) -> [Float] {
        let count = a.shape.reduce(1, *)
        return a.bytes.withUnsafeBytes { raw -> [Float] in
            let o = a.dataOffset
            switch a.type {
            case 0x08: return (0..<count).map { Float(raw[o + $0]) }
            case 0x09: return (0..<count).map { Float(Int8(bitPattern: raw[o + $0])) }
            case 0x0B: return (0..<count).map { Float(Int16(bigEndian: raw.loadUnaligned(fromByteOffset: o + 2 * $0, as: Int16.self))) }
            case 0x0C: return (0..<count).map { Float(Int32(bigEndian: raw.loadUnaligned(fromByteOffset: o + 4 * $0, as: Int32.self))) }
            case 0x0D: return (0..<count).map { Float(bitPattern: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: o + 4 * $0, as: UInt32.self))) }
            default: return (0..<count).map { Float(Double(bitPattern: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: o + 8 * $0, as: UInt64.self)))) }
            }
        }
    }

    /// The elements of an integer IDX array as Int64.
    static func integers(_ a: Parsed) -> [Int64] {
        let count = a.shape.reduce(1, *)
        return a.bytes.withUnsafeBytes { raw -> [Int64] in
            let o = a.dataOffset
            switch a.type {
            case 0x08: return (0..<count).map { Int64(raw[o + $0]) }
            case 0x09: return (0..<count).map { Int64(Int8(bitPattern: raw[o + $0])) }
            case 0x0B: return (0..<count).map { Int64(Int16(bigEndian: raw.loadUnaligned(fromByteOffset: o + 2 * $0, as: Int16.self))) }
            default: return (0..<count).map { Int64(Int32(bigEndian: raw.loadUnaligned(fromByteOffset: o + 4 * $0, as: Int32.self))) }
            }
        }
    }
}
