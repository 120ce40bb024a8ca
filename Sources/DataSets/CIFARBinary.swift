import Foundation
import Tensor
import ModelCore

/// The CIFAR-10 and CIFAR-100 "binary versions" (https://www.cs.toronto.edu/~kriz/cifar.html).
///
/// CIFAR-10: `data_batch_1.bin` … `data_batch_5.bin` (training, 10,000 images each) and
/// `test_batch.bin`; each record is 3,073 bytes: one label byte (0–9), then 3,072 pixel bytes.
/// CIFAR-100: `train.bin` (50,000 images) and `test.bin` (10,000); each record is 3,074 bytes:
/// a coarse label byte (0–19), a fine label byte (0–99), then 3,072 pixel bytes.
///
/// Pixels are 1,024 red, 1,024 green, 1,024 blue bytes, each plane row-major 32×32, so the
/// stored layout is NCHW uint8. Class names come from the text file the archives ship next to
/// the batches (`batches.meta.txt`; `fine_label_names.txt` / `coarse_label_names.txt`), one
/// name a line, when it is there. Which variant a file is: `CIFARBinary.variant` (file name
/// and record size); folders: `DataFolder`.
enum CIFARBinary {
    static let pixelsPerImage = 3 * 32 * 32

    enum Variant: Equatable {
        case cifar10, cifar100

        var recordSize: Int { labelBytes + CIFARBinary.pixelsPerImage }
        var labelBytes: Int { self == .cifar10 ? 1 : 2 }
        var name: String { self == .cifar10 ? "CIFAR-10" : "CIFAR-100" }
        /// Class counts of each label byte, in record order (CIFAR-100: coarse, then fine).
        var labelClasses: [Int] { self == .cifar10 ? [10] : [20, 100] }
    }

    /// Reads batches of one variant: x `[N, 3, 32, 32]` (pixel values 0–255), labels, names.
    static func read(_ files: [URL], variant: Variant, label: DataLoader.CIFARLabel) throws -> DataLoader.RawData {
        var contents: [Data] = []
        var total = 0
        for url in files {
            let data = try FileBytes.read(url)
            try check(data, file: url.relativePath, variant: variant)
            contents.append(data)
            total += data.count / variant.recordSize
        }
        let recordSize = variant.recordSize
        // CIFAR-100 keeps the coarse label in byte 0 and the fine one in byte 1.
        let labelByte = variant == .cifar100 && label == .fine ? 1 : 0
        var pixels = [Float](repeating: 0, count: total * pixelsPerImage)
        var labels = [Int64](repeating: 0, count: total)
        var n = 0
        pixels.withUnsafeMutableBufferPointer { out in
            for data in contents {
                data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                    let bytes = raw.bindMemory(to: UInt8.self)
                    for r in 0..<(bytes.count / recordSize) {
                        let record = r * recordSize
                        labels[n] = Int64(bytes[record + labelByte])
                        let base = n * pixelsPerImage, first = record + variant.labelBytes
                        for i in 0..<pixelsPerImage { out[base + i] = Float(bytes[first + i]) }
                        n += 1
                    }
                }
            }
        }
        let classes = variant.labelClasses[variant == .cifar100 ? labelByte : 0]
        let namesFile = variant == .cifar10 ? "batches.meta.txt" : "\(label.rawValue)_label_names.txt"
        let names = try classNames(near: files[0], file: namesFile, classes: classes)
        var what = files.count == 1 ? "\(variant.name) binary batch" : "\(variant.name) binary batches (\(files.map(\.lastPathComponent).joined(separator: ", ")))"
        if variant == .cifar100 { what += ", \(label.rawValue) labels" }
        return DataLoader.RawData(x: Tensor(shape: [total, 3, 32, 32], data: pixels), xIsInteger: true,
                                  y: labels, layout: .nchw, description: what, classNames: names,
                                  format: variant == .cifar10 ? .cifar10 : .cifar100)
    }

    /// Size and label checks with a message saying what is wrong.
    static func check(_ data: Data, file: String, variant: Variant) throws {
        let size = variant.recordSize, name = variant.name
        let shape = variant == .cifar10 ? "1 label byte + 3072 pixel bytes" : "coarse and fine label bytes + 3072 pixel bytes"
        guard !data.isEmpty else { throw ModelIOError(.malformed, file: file, "empty file: a \(name) batch holds \(size)-byte records") }
        let whole = data.count / size, rest = data.count % size
        guard rest == 0 else {
            throw ModelIOError(.malformed, file: file,
                               "truncated \(name) batch: \(data.count) bytes is \(whole) whole \(size)-byte records (\(shape)) and \(rest) bytes more")
        }
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            for r in 0..<whole {
                for (b, classes) in variant.labelClasses.enumerated() where raw[r * size + b] >= classes {
                    let which = variant == .cifar10 ? "label byte" : (b == 0 ? "coarse label byte" : "fine label byte")
                    throw ModelIOError(.malformed, file: file, location: "record \(r)",
                                       "\(which) \(raw[r * size + b]) is not a \(name) class (0-\(classes - 1))")
                }
            }
        }
    }

    /// The class names in `file` next to `batch`, one a line (blank lines skipped), or nil when
    /// there is no such file. A file with the wrong number of names is an error.
    static func classNames(near batch: URL, file: String, classes: Int) throws -> [String]? {
        let url = batch.deletingLastPathComponent().appendingPathComponent(file)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let text = String(decoding: try FileBytes.read(url), as: UTF8.self)
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard names.count == classes else {
            throw ModelIOError(.mismatch, file: url.relativePath, "expected \(classes) class names, one a line; found \(names.count)")
        }
        return names
    }
}
