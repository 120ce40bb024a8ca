import Foundation
import Tensor

/// The CIFAR-10 "binary version" (https://www.cs.toronto.edu/~kriz/cifar.html):
/// `data_batch_1.bin` … `data_batch_5.bin` (training, 10,000 images each) and `test_batch.bin`.
///
/// Each record is 3,073 bytes: one label byte (0–9), then 3,072 pixel bytes — 1,024 red, 1,024
/// green, 1,024 blue, each plane row-major 32×32 — so the stored layout is NCHW uint8.
///
/// `DATA` may be one batch file, or a folder: then every `data_batch_*.bin` in it (in batch
/// number order) is the training set; the test split is asked for by naming `test_batch.bin`.
/// A folder holding `cifar-10-batches-bin/` (the unpacked archive) is looked into.
enum CIFARBinary {
    static let recordSize = 1 + pixelsPerImage
    static let pixelsPerImage = 3 * 32 * 32
    static let classes = 10

    /// The batch files `path` stands for: itself, or a folder's training batches.
    static func batchFiles(_ path: String) throws -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelIOError(.notFound, file: path, "no such data file or folder")
        }
        guard isDirectory.boolValue else { return [URL(fileURLWithPath: path)] }
        var folder = URL(fileURLWithPath: path, isDirectory: true)
        let nested = folder.appendingPathComponent("cifar-10-batches-bin", isDirectory: true)
        if FileManager.default.fileExists(atPath: nested.path) { folder = nested }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let batches = names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("data_batch_"), name.hasSuffix(".bin"),
                  let n = Int(name.dropFirst("data_batch_".count).dropLast(".bin".count)) else { return nil }
            return (n, name)
        }.sorted { $0.0 < $1.0 }
        guard !batches.isEmpty else {
            throw ModelIOError(.notFound, file: path,
                               "a data folder must hold CIFAR-10 binary batches data_batch_1.bin … data_batch_5.bin"
                               + (names.contains("test_batch.bin") ? " (for the test split give the path of test_batch.bin)" : ""))
        }
        return batches.map { folder.appendingPathComponent($0.1) }
    }

    /// Reads the batches `path` stands for: x `[N, 3, 32, 32]` (pixel values 0–255), labels.
    static func read(_ path: String) throws -> DataLoader.RawData {
        let files = try batchFiles(path)
        var contents: [(URL, Data)] = []
        var total = 0
        for url in files {
            let data = try FileBytes.read(url)
            try check(data, file: url.relativePath)
            contents.append((url, data))
            total += data.count / recordSize
        }
        var pixels = [Float](repeating: 0, count: total * pixelsPerImage)
        var labels = [Int64](repeating: 0, count: total)
        var n = 0
        pixels.withUnsafeMutableBufferPointer { out in
            for (_, data) in contents {
                data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                    let bytes = raw.bindMemory(to: UInt8.self)
                    for r in 0..<(bytes.count / recordSize) {
                        let record = r * recordSize
                        labels[n] = Int64(bytes[record])
                        let base = n * pixelsPerImage
                        for i in 0..<pixelsPerImage { out[base + i] = Float(bytes[record + 1 + i]) }
                        n += 1
                    }
                }
            }
        }
        let what = files.count == 1 ? "CIFAR-10 binary batch" : "CIFAR-10 binary batches (\(files.map(\.lastPathComponent).joined(separator: ", ")))"
        return DataLoader.RawData(x: Tensor(shape: [total, 3, 32, 32], data: pixels), xIsInteger: true,
                                  y: labels, layout: .nchw, description: what)
    }

    /// Size and label checks with a message saying what is wrong.
    static func check(_ data: Data, file: String) throws {
        guard !data.isEmpty else { throw ModelIOError(.malformed, file: file, "empty file: a CIFAR-10 batch holds 3073-byte records") }
        let whole = data.count / recordSize, rest = data.count % recordSize
        guard rest == 0 else {
            throw ModelIOError(.malformed, file: file,
                               "truncated CIFAR-10 batch: \(data.count) bytes is \(whole) whole 3073-byte records (1 label byte + 3072 pixel bytes) and \(rest) bytes more")
        }
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            for r in 0..<whole where raw[r * recordSize] >= classes {
                throw ModelIOError(.malformed, file: file, location: "record \(r)",
                                   "label byte \(raw[r * recordSize]) is not a CIFAR-10 class (0-9); CIFAR-100 binaries (2 label bytes) are not supported")
            }
        }
    }
}
