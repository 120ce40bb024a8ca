import Foundation
import ModelCore
import NumPy

/// A data set read a chunk of samples at a time, so that image folders, Tiny ImageNet and
/// folders of downsampled ImageNet batches need memory for one chunk, not the whole set
/// (docs/design.md, "Bounded memory for large data sets").
///
/// - image files (folders, Tiny ImageNet, one image): listed up front, decoded `chunkSize`
///   at a time; `channels` (the model's) fixes the channel count, so every chunk has the same
///   shape (grayscale repeated into RGB for a 3-channel model, colour converted to gray for a
///   1-channel one, `ImageColour`); without `--image-size`, every
///   image must have the first one's size;
/// - downsampled ImageNet `.npz` batches: one file in memory at a time (as uint8), converted
///   to floats `chunkSize` rows at a time;
/// - every other format: read whole (`DataLoader.read`) and handed over in one chunk.
///
/// Chunks come in order and are preprocessed as `DataLoader.load` would, so concatenating
/// them gives the samples `load` returns (for image data given the same `channels`).
public struct DataStream {
    public let file: String
    /// What was recognised, e.g. "image folder (3 classes from sub-folder names)".
    public let description: String
    /// Samples before `--skip-bad-images` leaves any out.
    public let count: Int
    public let classNames: [String]?
    /// Whether the samples come from image files (`DataSet.fromImageFiles`).
    public let fromImageFiles: Bool
    let chunkCount: Int
    let chunk: (Int) throws -> DataLoader.RawData
    let stored: DataLayout
    let preprocessing: DataLoader.Preprocessing

    /// Calls `body` with each chunk in order, as a preprocessed `DataSet`; returns the image
    /// files `--skip-bad-images` left out (a chunk may lose all its images and is then not
    /// passed on; losing every image of the set is an error).
    @discardableResult
    public func forEachChunk(_ body: (DataSet) throws -> Void) throws -> [String] {
        try scanChunks(until: { try body($0); return false })
    }

    /// As `forEachChunk(_:)`, stopping after the chunk for which `body` returns true (the
    /// chunks after it are not read; `bss generate --limit` stops its scan so).
    @discardableResult
    public func scanChunks(until body: (DataSet) throws -> Bool) throws -> [String] {
        try forEachRawChunk { raw in
            var ds = try DataLoader.make(raw, file: file, stored: stored, preprocessing: preprocessing)
            ds.skippedImages = []
            return try body(ds)
        }
    }

    /// The chunks as read, before layout conversion and preprocessing (`bss data convert`
    /// writes them as stored), checked as `forEachChunk` checks them; `body` returns true to stop.
    @discardableResult
    public func forEachRawChunk(_ body: (DataLoader.RawData) throws -> Bool) throws -> [String] {
        var shape: [Int]?
        var skipped: [String] = []
        var delivered = 0
        for i in 0..<chunkCount {
            let raw = try chunk(i)
            skipped += raw.skippedImages
            if raw.x.batch == 0 { continue }
            if !raw.xIsInteger { try NonFinite.check(raw.x, file: file, key: "x", role: "inputs", sampleAxis: true) }
            // Chunks of images must agree on what `load` decides for the whole set at once.
            if fromImageFiles, raw.x.rank == 4 {
                let s = Array(raw.x.shape.dropFirst())
                if let shape, shape[1...] != s[1...] {
                    throw ModelIOError(.mismatch, file: file,
                                       "images of \(s[2])x\(s[1]) pixels (WxH) after others of \(shape[2])x\(shape[1]); pass --image-size H,W to resize every image (bilinear, as Pillow)")
                }
                if let shape, shape[0] != s[0] {
                    throw ModelIOError(.mismatch, file: file, location: "colour",
                                       "grayscale and colour images in different chunks; read the set with a model (its channel count decides) or with bss data convert")
                }
                shape = s
            }
            delivered += raw.x.batch
            if try body(raw) { return skipped }
        }
        if delivered == 0, let first = skipped.first {
            throw ModelIOError(.malformed, file: file, "none of the \(skipped.count) images could be decoded (--skip-bad-images left out every one; the first: \(first))")
        }
        return skipped
    }
}

extension DataLoader {
    /// Samples per chunk of a `DataStream` unless the caller asks for another size: 2,048, or
    /// `BSS_DATA_CHUNK_SIZE` from the environment (tests use it to make small sets span chunks).
    public static let defaultChunkSize: Int = ProcessInfo.processInfo.environment["BSS_DATA_CHUNK_SIZE"]
        .flatMap { Int($0) }.map { max(1, $0) } ?? 2048

    /// What `path` is when it can be read in parts (a folder, one image file); nil: a file read whole.
    static func resolveSource(_ path: String, options: ReadOptions) throws -> DataFolder.Source? {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        var source: DataFolder.Source?
        if exists && isDirectory.boolValue {
            source = try DataFolder.resolve(path, options: options)
        } else if exists, ImageDecoder.extensions.contains(URL(fileURLWithPath: path).pathExtension.lowercased()) {
            _ = try InputFile.checkRegular(URL(fileURLWithPath: path), name: path)
            source = .images(ImageList(items: [.init(url: URL(fileURLWithPath: path), label: nil)], classNames: nil, file: path,
                                       description: "one image", format: .imageFolder))
        }
        return source
    }

    /// `path` as a `DataStream` (see there for which formats are read a chunk at a time).
    /// `channels`: the model's input channels for image files (nil: 3 if any image is colour).
    public static func stream(_ path: String, stored: DataLayout, preprocessing: Preprocessing = .init(),
                              options: ReadOptions = .init(), channels: Int? = nil,
                              chunkSize: Int = defaultChunkSize) throws -> DataStream {
        precondition(chunkSize > 0, "chunks hold at least one sample")
        let source = try resolveSource(path, options: options)
        func stream(count: Int, chunks: Int, description: String, names: [String]?, images: Bool,
                    _ chunk: @escaping (Int) throws -> RawData) throws -> DataStream {
            // An empty set is refused here, as the whole-set read refuses it (DataLoader).
            guard count > 0 else { throw ModelIOError(.mismatch, file: path, location: "x", "the data set is empty") }
            return DataStream(file: path, description: description, count: count, classNames: names, fromImageFiles: images,
                       chunkCount: chunks, chunk: chunk, stored: stored, preprocessing: preprocessing)
        }
        switch source {
        case .images(let list)?:
            try checkApplicable(options, format: list.format, description: list.description, file: path)
            let n = list.items.count
            return try stream(count: n, chunks: (n + chunkSize - 1) / chunkSize, description: list.description,
                          names: list.classNames, images: true) { i in
                try list.assemble((i * chunkSize)..<min(n, (i + 1) * chunkSize), options: options, channels: channels)
            }
        case .imagenet(let urls)?:
            try checkApplicable(options, format: .imagenet, description: "downsampled ImageNet batches", file: path)
            // One file's rows at a time: read each file, then hand out its rows a chunk at a time.
            var plan: [(file: Int, rows: Range<Int>)] = []
            var total = 0
            for (f, url) in urls.enumerated() {
                let rows = try ImageNetDownsampled.rowCount(url)
                total += rows
                for start in stride(from: 0, to: rows, by: chunkSize) { plan.append((f, start..<min(rows, start + chunkSize))) }
            }
            var current: (file: Int, batch: (side: Int, pixels: [UInt8], labels: [Int64]))?
            var side: Int?
            let description = (urls.count == 1 ? "ImageNet .npz batch" : "ImageNet .npz batches (\(urls.map(\.lastPathComponent).joined(separator: ", ")))")
                + ", labels 1-1000 made 0-based, read one file at a time"
            return try stream(count: total, chunks: plan.count, description: description, names: nil, images: false) { i in
                let (f, rows) = plan[i]
                if current?.file != f {
                    current = nil   // release the previous file first
                    let url = urls[f]
                    let batch = try ImageNetDownsampled.decode(try Npz.readDictionary(url), file: url.relativePath)
                    if let side, side != batch.side {
                        throw ModelIOError(.mismatch, file: url.relativePath, location: "data",
                                           "\(batch.side)x\(batch.side) images, but \(urls[0].relativePath) holds \(side)x\(side) ones")
                    }
                    side = batch.side
                    current = (f, batch)
                }
                return ImageNetDownsampled.slice(current!.batch, rows: rows, description: description)
            }
        case .arrays(let raw)?:
            try checkApplicable(options, format: raw.format, description: raw.description, file: path)
            return try stream(count: raw.x.batch, chunks: 1, description: raw.description, names: raw.classNames,
                          images: false) { _ in raw }
        case nil:
            let raw = try read(path, options: options)
            let images = raw.format == .imageFolder || raw.format == .tinyImageNet
            return try stream(count: raw.x.batch, chunks: 1, description: raw.description, names: raw.classNames, images: images) { _ in raw }
        }
    }
}
