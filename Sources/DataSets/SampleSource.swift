import Foundation
import ModelCore
import NumPy
import HDF5
import Tensor

/// Random access to the samples of a data set, for training (`bss distill`), which visits the
/// rows in a new shuffled order every epoch (docs/design.md, "Bounded memory for large data sets").
///
/// Two kinds:
///
/// - **whole**: formats read whole (`.npz`/`.h5` arrays, CIFAR, IDX) are a `DataSet` in memory;
///   rows are gathered from it;
/// - **lazy**: image files (folders, Tiny ImageNet) and downsampled ImageNet `.npz` batches are
///   decoded on demand into a bounded LRU cache of uint8 pixels (`cacheBytes`, at least one
///   block): one *block* is one image file, or one whole ImageNet batch file (its `data`
///   member is deflated, so rows cannot be read on their own). Opening scans every image once
///   (a chunk at a time, filling the cache while it has room), so bad images, size and colour
///   mismatches are found before training as the whole read finds them, and the set, its
///   labels and the images `--skip-bad-images` leaves out are the same.
///
/// `gather(rows)` returns `[rows.count] + sampleShape` floats, preprocessed (`Preprocessing`)
/// and conformed to the model's input shape as `DataLoader.load(…).conformed(…)` would give:
/// the values are bit-identical to gathering the same rows of the whole-read set, since
/// scaling and normalising work per element.
public final class SampleSource {
    public let file: String
    public let storedLayout: DataLayout
    /// What was recognised, as the whole read describes it.
    public let description: String
    /// Labels per row (nil: unlabelled).
    public private(set) var y: [Int]?
    /// Per-sample shape of `gather`'s output.
    public let sampleShape: [Int]
    public let fromImageFiles: Bool
    /// Image files `--skip-bad-images` left out, colour images converted to gray.
    public let skippedImages: [String]
    public let grayConverted: Int
    /// The whole set, for formats read whole (nil: decoded on demand).
    public let whole: DataSet?
    private let lazy: LazyRows?
    /// Row → underlying row, after a subset (`train_fraction`); nil: every row.
    private var subsetRows: [Int]?

    public var count: Int { subsetRows?.count ?? whole?.count ?? lazy!.rows }
    /// Whether rows are decoded on demand (`lazy` above).
    public var isLazy: Bool { lazy != nil }
    /// Bytes of decoded pixels the cache holds now, its budget, and blocks decoded so far.
    public var cacheStatistics: (bytes: Int, budget: Int, decoded: Int)? {
        lazy.map { ($0.cache.bytes, $0.cache.budget, $0.decodedBlocks) }
    }

    /// An in-memory set.
    public init(_ data: DataSet) {
        file = data.file; storedLayout = data.storedLayout; description = data.file
        y = data.y; sampleShape = Array(data.x.shape.dropFirst()); fromImageFiles = data.fromImageFiles
        skippedImages = data.skippedImages; grayConverted = data.grayConverted
        whole = data; lazy = nil
    }

    private init(file: String, stored: DataLayout, description: String, y: [Int]?, sampleShape: [Int], images: Bool,
                 skipped: [String], grayConverted: Int, lazy: LazyRows) {
        self.file = file; storedLayout = stored; self.description = description; self.y = y
        self.sampleShape = sampleShape; fromImageFiles = images; skippedImages = skipped
        self.grayConverted = grayConverted; whole = nil; self.lazy = lazy
    }

    /// Keeps rows `rows` (in that order) only.
    public func restrict(to rows: [Int]) {
        let base = subsetRows
        subsetRows = rows.map { base?[$0] ?? $0 }
        if let labels = y { y = rows.map { labels[$0] } }
    }

    /// Rows `rows` as `[rows.count] + sampleShape` (preprocessed, conformed).
    public func gather(_ rows: [Int]) throws -> Tensor {
        let underlying = subsetRows.map { s in rows.map { s[$0] } } ?? rows
        if let whole { return whole.x.gather(rows: underlying) }
        return try lazy!.gather(underlying)
    }

    /// Calls `body` with consecutive ranges of rows and their samples, `size` rows at a time.
    public func forEachChunk(size: Int, _ body: (Range<Int>, Tensor) throws -> Void) throws {
        precondition(size > 0, "chunks hold at least one row")
        if subsetRows == nil, let whole {
            try body(0..<whole.count, whole.x)   // already in memory: one chunk
            return
        }
        for start in stride(from: 0, to: count, by: size) {
            let r = start..<min(count, start + size)
            try body(r, try gather(Array(r)))
        }
    }

    /// Checks the samples fit a model as `DataSet.validate` does (shape, label range).
    public func validate(inputShape: [Int], classes: Int) throws {
        var probe = DataSet(x: try gather(count > 0 ? [0] : []), y: y, file: file, storedLayout: storedLayout)
        probe.fromImageFiles = fromImageFiles
        try probe.validate(inputShape: inputShape, classes: classes)
    }

    /// The default cache budget: a quarter of `MemoryBudget.bytes` (docs/data-formats.md).
    public static var defaultCacheBytes: Int { max(MemoryBudget.bytes / 4, 1) }

    /// Opens `path` for random access: lazily for image files and ImageNet batches, whole
    /// otherwise. `channels`: the model's input channels (image colour conversion);
    /// `inputShape`/`layout`: the model's, for `DataSet.conformed`.
    public static func open(_ path: String, stored: DataLayout, preprocessing: DataLoader.Preprocessing = .init(),
                            options: DataLoader.ReadOptions = .init(), channels: Int?, inputShape: [Int], layout: DataLayout,
                            cacheBytes: Int = defaultCacheBytes) throws -> SampleSource {
        var options = options
        options.channels = channels
        let cache = BlockCache(budget: cacheBytes)
        switch try DataLoader.resolveSource(path, options: options) {
        case .images(let list)?:
            try DataLoader.checkApplicable(options, format: list.format, description: list.description, file: path)
            let scan = try LazyRows.scanImages(list, options: options, cache: cache, file: path)
            let lazy = LazyRows(rows: scan.kept.count, cache: cache, rowShape: scan.rowShape, file: path, stored: stored,
                                preprocessing: preprocessing, inputShape: inputShape, layout: layout,
                                locate: { (scan.kept[$0], 0) },
                                load: { block in try LazyRows.decodeImage(list, item: block, options: options, rowShape: scan.rowShape) })
            let y = list.items.first?.label == nil ? nil : scan.kept.map { Int(list.items[$0].label ?? 0) }
            let shape = Array(try lazy.gather([0]).shape.dropFirst())
            return SampleSource(file: path, stored: stored, description: scan.description, y: y, sampleShape: shape, images: true,
                                skipped: scan.skipped, grayConverted: scan.grayConverted, lazy: lazy)
        case .imagenet(let urls)?:
            try DataLoader.checkApplicable(options, format: .imagenet, description: "downsampled ImageNet batches", file: path)
            var starts: [Int] = [], labels: [Int] = []
            for url in urls {
                starts.append(labels.count)
                labels += try ImageNetDownsampled.labels(url).map { Int($0) }
            }
            guard !labels.isEmpty else { throw ModelIOError(.mismatch, file: path, location: "x", "the data set is empty") }
            let first = try ImageNetDownsampled.decode(try Npz.readDictionary(urls[0]), file: urls[0].relativePath)
            let side = first.side, rowBytes = 3 * side * side
            cache.insert(0, first.pixels)
            func locate(_ row: Int) -> (Int, Int) {
                var f = 0
                while f + 1 < starts.count && starts[f + 1] <= row { f += 1 }   // a handful of files
                return (f, (row - starts[f]) * rowBytes)
            }
            let lazy = LazyRows(rows: labels.count, cache: cache, rowShape: [3, side, side], file: path, stored: stored,
                                preprocessing: preprocessing, inputShape: inputShape, layout: layout, locate: locate,
                                load: { f in
                                    let url = urls[f]
                                    let batch = try ImageNetDownsampled.decode(try Npz.readDictionary(url), file: url.relativePath)
                                    guard batch.side == side, batch.labels.count * rowBytes == batch.pixels.count,
                                          batch.labels.count == (f + 1 < starts.count ? starts[f + 1] : labels.count) - starts[f] else {
                                        throw ModelIOError(.mismatch, file: url.relativePath, location: "data",
                                                           "\(batch.side)x\(batch.side) images in \(batch.labels.count) rows, but the set was opened with \(side)x\(side) ones (did the file change?)")
                                    }
                                    return batch.pixels
                                })
            let description = ImageNetDownsampled.describe(urls, side: side) + ", decoded a file at a time into a cache of \(MemoryBudget.describe(UInt64(cache.budget)))"
            let shape = Array(try lazy.gather([0]).shape.dropFirst())
            return SampleSource(file: path, stored: stored, description: description, y: labels, sampleShape: shape, images: false,
                                skipped: [], grayConverted: 0, lazy: lazy)
        default:
            let ds = try DataLoader.load(path, stored: stored, preprocessing: preprocessing, options: options)
            return SampleSource(ds.conformed(to: inputShape, layout: layout))
        }
    }
}

/// Rows decoded on demand from blocks (`SampleSource`): `locate` maps a row to its block and
/// byte offset there, `load` decodes a block to uint8 CHW pixels (row after row).
final class LazyRows {
    let rows: Int
    let cache: BlockCache
    let rowShape: [Int]
    let file: String
    let stored: DataLayout
    let preprocessing: DataLoader.Preprocessing
    let inputShape: [Int]
    let layout: DataLayout
    let locate: (Int) -> (block: Int, offset: Int)
    let load: (Int) throws -> [UInt8]
    private(set) var decodedBlocks = 0

    init(rows: Int, cache: BlockCache, rowShape: [Int], file: String, stored: DataLayout, preprocessing: DataLoader.Preprocessing,
         inputShape: [Int], layout: DataLayout, locate: @escaping (Int) -> (block: Int, offset: Int),
         load: @escaping (Int) throws -> [UInt8]) {
        self.rows = rows; self.cache = cache; self.rowShape = rowShape; self.file = file; self.stored = stored
        self.preprocessing = preprocessing; self.inputShape = inputShape; self.layout = layout
        self.locate = locate; self.load = load
    }

    func gather(_ rows: [Int]) throws -> Tensor {
        let per = rowShape.reduce(1, *)
        var pixels = [Float](repeating: 0, count: rows.count * per)
        // Blocks this batch decoded but the cache had no room for stay here until the batch is done.
        var local: [Int: [UInt8]] = [:]
        try pixels.withUnsafeMutableBufferPointer { out in
            for (i, row) in rows.enumerated() {
                let (block, offset) = locate(row)
                var bytes = cache.lookup(block) ?? local[block]
                if bytes == nil {
                    let loaded = try load(block)
                    decodedBlocks += 1
                    if !cache.insert(block, loaded) { local[block] = loaded }
                    bytes = loaded
                }
                bytes!.withUnsafeBufferPointer { b in
                    for j in 0..<per { out[i * per + j] = Float(b[offset + j]) }
                }
            }
        }
        let raw = DataLoader.RawData(x: Tensor(shape: [rows.count] + rowShape, data: pixels), xIsInteger: true, y: nil,
                                     layout: .nchw, description: file)
        guard !rows.isEmpty else { return raw.x }
        return try DataLoader.make(raw, file: file, stored: stored, preprocessing: preprocessing)
            .conformed(to: inputShape, layout: layout).x
    }

    /// Decodes every image of `list` once, a chunk at a time, as `DataStream` does: which items
    /// are kept, their per-sample shape, the description; the cache keeps what fits.
    static func scanImages(_ list: ImageList, options: DataLoader.ReadOptions, cache: BlockCache, file: String) throws
        -> (kept: [Int], rowShape: [Int], skipped: [String], grayConverted: Int, description: String) {
        var kept: [Int] = [], skipped: [String] = [], gray = 0
        var shape: [Int]?, description = list.description
        let n = list.items.count, chunk = DataLoader.defaultChunkSize
        for start in stride(from: 0, to: n, by: chunk) {
            let range = start..<min(n, start + chunk)
            let raw = try list.assemble(range, options: options)
            skipped += raw.skippedImages
            gray += raw.grayConverted
            guard raw.x.batch > 0 else { continue }
            let s = Array(raw.x.shape.dropFirst())
            if let shape, shape != s {
                throw ModelIOError(.mismatch, file: file, shape[0] != s[0]
                    ? "grayscale and colour images in different chunks; read the set with a model (its channel count decides)"
                    : "images of \(s[2])x\(s[1]) pixels (WxH) after others of \(shape[2])x\(shape[1]); pass --image-size H,W to resize every image (bilinear, as Pillow)")
            }
            if shape == nil { description = raw.description }
            shape = s
            let bad = Set(raw.skippedImages)
            let per = s.reduce(1, *)
            var row = 0
            for item in range where !bad.contains(list.items[item].url.relativePath) {
                if cache.hasRoom(per) {
                    cache.insert(item, raw.x.data[(row * per)..<((row + 1) * per)].map { UInt8($0) })
                }
                kept.append(item)
                row += 1
            }
        }
        guard let rowShape = shape else {
            throw ModelIOError(.malformed, file: file, "none of the \(skipped.count) images could be decoded (--skip-bad-images left out every one; the first: \(skipped.first ?? "-"))")
        }
        return (kept, rowShape, skipped, gray, description)
    }

    /// Image `item` of `list` decoded again (it decoded in the scan: an error now means the file changed).
    static func decodeImage(_ list: ImageList, item: Int, options: DataLoader.ReadOptions, rowShape: [Int]) throws -> [UInt8] {
        var strict = options
        strict.skipBadImages = false
        let raw = try list.assemble(item..<(item + 1), options: strict)
        guard Array(raw.x.shape.dropFirst()) == rowShape else {
            throw ModelIOError(.mismatch, file: list.items[item].url.relativePath,
                               "decodes to shape \(Array(raw.x.shape.dropFirst())) now, \(rowShape) when the set was opened (did the file change?)")
        }
        return raw.x.data.map { UInt8($0) }
    }
}

/// A least-recently-used cache of decoded blocks (uint8 pixels) bounded by `budget` bytes;
/// a block larger than the whole budget is not kept. Blocks are numbered 0, 1, …
final class BlockCache {
    let budget: Int
    private(set) var bytes = 0
    private var blocks: [Int: [UInt8]] = [:]
    // Recency as a doubly linked list over block numbers (O(1) touch and evict).
    private var previous: [Int: Int] = [:], next: [Int: Int] = [:]
    private var newest: Int?, oldest: Int?

    init(budget: Int) { self.budget = max(budget, 0) }

    func hasRoom(_ count: Int) -> Bool { bytes + count <= budget }

    func lookup(_ block: Int) -> [UInt8]? {
        guard let b = blocks[block] else { return nil }
        unlink(block); link(block)
        return b
    }

    /// Keeps `data` for `block`, evicting the least recently used blocks; false when it does
    /// not fit even in an empty cache.
    @discardableResult
    func insert(_ block: Int, _ data: [UInt8]) -> Bool {
        guard data.count <= budget else { return false }
        if let old = blocks[block] { bytes -= old.count; unlink(block) }
        while bytes + data.count > budget, let victim = oldest {
            bytes -= blocks.removeValue(forKey: victim)!.count
            unlink(victim)
        }
        blocks[block] = data
        bytes += data.count
        link(block)
        return true
    }

    private func link(_ block: Int) {
        previous[block] = newest
        next[block] = nil
        if let n = newest { next[n] = block }
        newest = block
        if oldest == nil { oldest = block }
    }

    private func unlink(_ block: Int) {
        let p = previous.removeValue(forKey: block) ?? nil, n = next.removeValue(forKey: block) ?? nil
        if let p { next[p] = n } else { oldest = n }
        if let n { previous[n] = p } else { newest = p }
    }
}
