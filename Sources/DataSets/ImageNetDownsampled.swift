import Foundation
import Tensor
import ModelCore
import NumPy

/// The downsampled ImageNet release (Chrabaszcz, Loshchilov & Hutter 2017), `.npz` variant:
/// `train_data_batch_1.npz` … `train_data_batch_10.npz` and `val_data.npz`, for 32×32 and
/// 64×64 images (the 8×8 and 16×16 variants have the same layout).
///
/// Each archive holds `data`, uint8 `[N, 3·S·S]` with every row the R, G and B planes of one
/// S×S image (row-major, so NCHW once reshaped to `[N, 3, S, S]`), `labels`, N integers
/// numbering the 1000 classes from **1**, and (training batches) `mean`, the mean image,
/// which is informational only — it is not subtracted (use `--normalize`). Labels are made
/// 0-based on reading; 0 or more than 1000 is an error, since it means the file is not what
/// its keys say. S is inferred from the row length. The archives are recognised by their keys
/// (`data` and `labels`, no `x` or `y`), so any file name works; a folder of them is read by
/// `DataFolder`.
enum ImageNetDownsampled {
    static let classes = 1000

    /// Whether an `.npz` with these keys is a release batch.
    static func matches(_ keys: Set<String>) -> Bool {
        keys.contains("data") && keys.contains("labels") && !keys.contains("x") && !keys.contains("y")
    }

    /// Reads one batch or several (in the order given) as one data set: x `[N, 3, S, S]`.
    /// `first`: the first file's arrays when the caller has read them already.
    static func read(_ files: [URL], first: [String: NumpyArray]? = nil) throws -> DataLoader.RawData {
        var side: Int?
        var pixels: [Float] = []
        var labels: [Int64] = []
        for (i, url) in files.enumerated() {
            let file = url.relativePath
            let arrays = i == 0 && first != nil ? first! : try Npz.readDictionary(url)
            let batch = try decode(arrays, file: file)
            if let side, side != batch.side {
                throw ModelIOError(.mismatch, file: file, location: "data",
                                   "\(batch.side)x\(batch.side) images, but \(files[0].relativePath) holds \(side)x\(side) ones")
            }
            side = batch.side
            pixels += batch.pixels.map(Float.init)
            labels += batch.labels
        }
        let s = side ?? 0
        return DataLoader.RawData(x: Tensor(shape: [labels.count, 3, s, s], data: pixels), xIsInteger: true, y: labels,
                                  layout: .nchw, description: describe(files, side: s), format: .imagenet)
    }

    static func describe(_ files: [URL], side s: Int) -> String {
        (files.count == 1 ? "ImageNet \(s)x\(s) .npz batch" : "ImageNet \(s)x\(s) .npz batches (\(files.map(\.lastPathComponent).joined(separator: ", ")))")
            + ", labels 1-1000 made 0-based"
    }

    /// Rows `rows` of one checked batch (`decode`) as arrays.
    static func slice(_ batch: (side: Int, pixels: [UInt8], labels: [Int64]), rows: Range<Int>, description: String) -> DataLoader.RawData {
        let row = 3 * batch.side * batch.side
        let pixels = batch.pixels[(rows.lowerBound * row)..<(rows.upperBound * row)].map(Float.init)
        return DataLoader.RawData(x: Tensor(shape: [rows.count, 3, batch.side, batch.side], data: pixels), xIsInteger: true,
                                  y: Array(batch.labels[rows]), layout: .nchw, description: description, format: .imagenet)
    }

    /// The number of images in one batch file, from its (small) `labels` member alone.
    static func rowCount(_ url: URL) throws -> Int {
        try labelArray(url).count
    }

    /// The 0-based labels of one batch file, from its (small) `labels` member alone, checked as
    /// `decode` checks them.
    static func labels(_ url: URL) throws -> [Int64] {
        let file = url.relativePath
        var labels = try labelArray(url)
        for (i, l) in labels.enumerated() where l < 1 || l > Int64(classes) {
            throw ModelIOError(.mismatch, file: file, location: "labels",
                               l == 0 ? "label 0 at row \(i): the ImageNet release numbers its classes 1-1000 (a 0-based file should be saved with keys x and y)"
                                      : "label \(l) at row \(i) is outside the release's classes 1-1000")
        }
        for i in labels.indices { labels[i] -= 1 }
        return labels
    }

    private static func labelArray(_ url: URL) throws -> [Int64] {
        let file = url.relativePath
        let archive = try ZipReader(url: url, file: file, expected: "an .npz (a zip of .npy files)")
        guard let member = archive.members.first(where: { $0.name == "labels.npy" || $0.name == "labels" }) else {
            throw ModelIOError(.notFound, file: file, "expected arrays 'data' and 'labels' (no 'labels' member)")
        }
        let head = archive.prefix(of: member, count: 1 << 16)
        try head.withUnsafeBytes { try NpyFormat.checkDeclaredSize(prefix: $0, size: member.uncompressedSize, file: file, key: "labels") }
        let labels = try NpyFormat.decode(try archive.data(of: member, location: "labels"), file: file, key: "labels")
        guard labels.shape.count == 1 || (labels.shape.count == 2 && labels.shape[1] == 1) else {
            throw ModelIOError(.mismatch, file: file, location: "labels", "expected one label per image, found shape \(labels.shape)")
        }
        return try labels.int64s(file: file, key: "labels")
    }

    /// Checks and converts one archive's arrays.
    static func decode(_ arrays: [String: NumpyArray], file: String) throws -> (side: Int, pixels: [UInt8], labels: [Int64]) {
        guard let data = arrays["data"], let labelArray = arrays["labels"] else {
            throw ModelIOError(.notFound, file: file, "expected arrays 'data' and 'labels' (found: \(arrays.keys.sorted().joined(separator: ", ")))")
        }
        guard data.dtype == .uint8, data.shape.count == 2 else {
            throw ModelIOError(.mismatch, file: file, location: "data",
                               "expected uint8 rows of 3·S·S pixels (shape (N, 3072) for 32x32), found \(data.dtype.descr) of shape \(data.shape)")
        }
        let n = data.shape[0], row = data.shape[1]
        let side = Int(Double(row / 3).squareRoot().rounded())
        guard row > 0, 3 * side * side == row else {
            throw ModelIOError(.mismatch, file: file, location: "data",
                               "rows of \(row) values are not 3·S·S pixels of a square RGB image (3072 for 32x32, 12288 for 64x64)")
        }
        guard n > 0 else { throw ModelIOError(.mismatch, file: file, location: "data", "the batch is empty") }
        guard labelArray.shape == [n] || labelArray.shape == [n, 1] else {
            throw ModelIOError(.mismatch, file: file, location: "labels", "expected \(n) labels (one per row of data), found shape \(labelArray.shape)")
        }
        var labels = try labelArray.int64s(file: file, key: "labels")
        for (i, l) in labels.enumerated() where l < 1 || l > Int64(classes) {
            throw ModelIOError(.mismatch, file: file, location: "labels",
                               l == 0 ? "label 0 at row \(i): the ImageNet release numbers its classes 1-1000 (a 0-based file should be saved with keys x and y)"
                                      : "label \(l) at row \(i) is outside the release's classes 1-1000")
        }
        for i in labels.indices { labels[i] -= 1 }
        return (side, data.bytes, labels)
    }
}
