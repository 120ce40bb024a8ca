import Foundation
import XCTest
@testable import ModelIO
@testable import DataSets
@testable import ModelCore
import Tensor
import TestSupport

/// `SampleSource` (random access for training, decoded on demand into a bounded cache) gives
/// the rows of the whole read; `DataStreamWriter` writes what `DataWriter` writes, a chunk at a
/// time; `BlockCache` evicts least recently used blocks.
final class SampleSourceTests: XCTestCase {
    let pre = DataLoader.Preprocessing(mean: [0.5], std: [2], integerScale: 1.0 / 255)

    func assertSameRows(_ path: String, options: DataLoader.ReadOptions = .init(), channels: Int?, inputShape: [Int],
                        cacheBytes: Int, lazy: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws {
        var o = options
        o.channels = channels
        let whole = try DataLoader.load(path, stored: .nchw, preprocessing: pre, options: o).conformed(to: inputShape, layout: .nchw)
        let source = try SampleSource.open(path, stored: .nchw, preprocessing: pre, options: options, channels: channels,
                                           inputShape: inputShape, layout: .nchw, cacheBytes: cacheBytes)
        XCTAssertEqual(source.isLazy, lazy, file: file, line: line)
        XCTAssertEqual(source.count, whole.count, file: file, line: line)
        XCTAssertEqual(source.y, whole.y, file: file, line: line)
        XCTAssertEqual(source.sampleShape, Array(whole.x.shape.dropFirst()), file: file, line: line)
        XCTAssertEqual(source.skippedImages, whole.skippedImages, file: file, line: line)
        // Shuffled, with repeats: twice through a permutation (evictions when the cache is small).
        let n = whole.count
        let order = (0..<n).map { ($0 * 5 + 3) % n } + (0..<n).reversed()
        for start in stride(from: 0, to: order.count, by: 3) {
            let rows = Array(order[start..<min(order.count, start + 3)])
            XCTAssertEqual(try source.gather(rows).data, whole.x.gather(rows: rows).data, "rows \(rows)", file: file, line: line)
        }
        // A subset, as train_fraction makes.
        let subset = Array(stride(from: n - 1, through: 0, by: -2))
        source.restrict(to: subset)
        XCTAssertEqual(source.count, subset.count)
        XCTAssertEqual(try source.gather(Array(0..<subset.count)).data, whole.x.gather(rows: subset).data, file: file, line: line)
        XCTAssertEqual(source.y, whole.y.map { y in subset.map { y[$0] } }, file: file, line: line)
    }

    func testRowsEqualTheWholeRead() throws {
        // A cache smaller than one image: every row decoded again; a large one: decoded once.
        for cache in [1000, 1 << 24] {
            try assertSameRows(fixture("images/folder"), channels: 3, inputShape: [3, 32, 32], cacheBytes: cache)
            try assertSameRows(fixture("images/folder"), channels: 1, inputShape: [1, 32, 32], cacheBytes: cache)   // colour -> gray
            try assertSameRows(fixture("images/tiny"), options: .init(classOrder: .wnids), channels: 3, inputShape: [3, 32, 32], cacheBytes: cache)
            try assertSameRows(fixture("images/resize/folder"), options: .init(imageSize: .init(height: 24, width: 20)),
                               channels: 3, inputShape: [1440], cacheBytes: cache)   // flattened for an MLP
            try assertSameRows(fixture("images/bad/skip"), options: .init(skipBadImages: true), channels: 3, inputShape: [3, 32, 32],
                               cacheBytes: cache)
            // ImageNet batches: one block per file (a cache below one file keeps none).
            try assertSameRows(fixture("datasets/imagenet32"), channels: 3, inputShape: [3, 32, 32], cacheBytes: cache)
        }
        try assertSameRows(fixture("datasets/cifar100/test.bin"), channels: 3, inputShape: [3, 32, 32], cacheBytes: 1000, lazy: false)
    }

    func testTheCacheIsBoundedAndDecodesOnce() throws {
        let big = try SampleSource.open(fixture("images/folder"), stored: .nchw, channels: 3, inputShape: [3, 32, 32], layout: .nchw, cacheBytes: 1 << 20)
        _ = try big.gather(Array(0..<big.count))
        XCTAssertEqual(big.cacheStatistics?.decoded, 0, "the opening scan filled the cache: nothing decoded again")
        XCTAssertEqual(big.cacheStatistics?.bytes, 7 * 3072)
        let small = try SampleSource.open(fixture("images/folder"), stored: .nchw, channels: 3, inputShape: [3, 32, 32], layout: .nchw, cacheBytes: 2 * 3072)
        _ = try small.gather(Array(0..<small.count))
        XCTAssertLessThanOrEqual(small.cacheStatistics!.bytes, 2 * 3072)
        XCTAssertEqual(small.cacheStatistics?.decoded, 5, "the scan kept the first two")
    }

    func testBlockCacheEvictsTheLeastRecentlyUsed() {
        let c = BlockCache(budget: 10)
        XCTAssertTrue(c.insert(1, [UInt8](repeating: 1, count: 4)))
        XCTAssertTrue(c.insert(2, [UInt8](repeating: 2, count: 4)))
        XCTAssertNotNil(c.lookup(1))                                   // 1 is now the most recent
        XCTAssertTrue(c.insert(3, [UInt8](repeating: 3, count: 4)))    // evicts 2
        XCTAssertNil(c.lookup(2))
        XCTAssertEqual(c.lookup(1), [1, 1, 1, 1])
        XCTAssertEqual(c.lookup(3), [3, 3, 3, 3])
        XCTAssertEqual(c.bytes, 8)
        XCTAssertFalse(c.insert(4, [UInt8](repeating: 4, count: 11)), "larger than the budget: not kept")
        XCTAssertEqual(c.bytes, 8)
    }

    // MARK: - Streaming .npz writer

    func assertStreamedEqualsWhole(_ path: String, options: DataLoader.ReadOptions = .init(), layout: DataLayout? = nil,
                                   chunkSize: Int = 2, forceZip64: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = temporaryDirectory("stream-writer")
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("whole.npz"), b = dir.appendingPathComponent("streamed.npz")
        try DataWriter.write(try DataLoader.read(path, options: options), to: a, layout: layout)
        let r = try DataStreamWriter.writeNpz(path, options: options, to: b, layout: layout, chunkSize: chunkSize, forceZip64: forceZip64)
        let whole = try Npz.readDictionary(a), streamed = try Npz.readDictionary(b)
        XCTAssertEqual(Set(whole.keys), Set(streamed.keys), file: file, line: line)
        for key in whole.keys { XCTAssertEqual(whole[key], streamed[key], key, file: file, line: line) }
        XCTAssertEqual(r.samples, whole["x"]!.shape[0], file: file, line: line)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "no temporary file left", file: file, line: line)
    }

    func testStreamedNpzEqualsTheWholeWrite() throws {
        try assertStreamedEqualsWhole(fixture("images/folder"), options: .init(), chunkSize: 7)   // colour + gray: RGB
        try assertStreamedEqualsWhole(fixture("images/tiny"), options: .init(classOrder: .sorted), layout: .nhwc)
        try assertStreamedEqualsWhole(fixture("images/bad/skip"), options: .init(skipBadImages: true))   // header rewritten
        try assertStreamedEqualsWhole(fixture("datasets/imagenet32"), chunkSize: 3)
        try assertStreamedEqualsWhole(fixture("datasets/imagenet32"), chunkSize: 3, forceZip64: true)
        try assertStreamedEqualsWhole(fixture("datasets/cifar100/test.bin"))
        try assertStreamedEqualsWhole(fixture("data-formats/xy.h5"))
    }

    func testNpyHeaderKeepsItsLengthForAnyCount() {
        let lengths = Set([1, 9, 10_000, 1_281_167, Int(Int32.max)].map { NpyFormat.header(descr: "|u1", shape: [$0, 3, 32, 32]).count })
        XCTAssertEqual(lengths.count, 1, "a header rewritten with the final count fits where the first one was")
    }
}
