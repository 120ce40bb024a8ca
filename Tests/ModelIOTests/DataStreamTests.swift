import Foundation
import XCTest
@testable import DataSets
@testable import ModelCore
@testable import ModelIO
import Tensor
import TestSupport

/// `DataStream`: data read a chunk at a time gives, concatenated, what `DataLoader.load`
/// gives, for image folders, Tiny ImageNet and folders of ImageNet batches.
final class DataStreamTests: XCTestCase {
    func assertError(_ mentions: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Any) {
        assertOneLineError(ModelIOError.self, mentions, file: file, line: line, body)
    }

    /// Every chunk of `stream`, concatenated.
    func concatenated(_ stream: DataStream) throws -> (x: [Float], shape: [Int], y: [Int]?, chunks: Int, skipped: [String]) {
        var x: [Float] = [], y: [Int]? = [], shape: [Int] = [], chunks = 0
        let skipped = try stream.forEachChunk { ds in
            x += ds.x.data
            shape = Array(ds.x.shape.dropFirst())
            if let l = ds.y, y != nil { y! += l } else { y = nil }
            chunks += 1
        }
        return (x, shape, y, chunks, skipped)
    }

    func assertSameAsLoad(_ path: String, options: DataLoader.ReadOptions = .init(), channels: Int? = nil, chunkSize: Int, chunks: Int,
                          file: StaticString = #filePath, line: UInt = #line) throws {
        let pre = DataLoader.Preprocessing(mean: [0.5], std: [2], integerScale: 1.0 / 255)
        let whole = try DataLoader.load(path, stored: .nchw, preprocessing: pre, options: options)
        let stream = try DataLoader.stream(path, stored: .nchw, preprocessing: pre, options: options, channels: channels,
                                            chunkSize: chunkSize)
        XCTAssertEqual(stream.count, whole.count, file: file, line: line)
        let parts = try concatenated(stream)
        XCTAssertEqual(parts.chunks, chunks, "chunks", file: file, line: line)
        XCTAssertEqual(parts.x, whole.x.data, file: file, line: line)
        XCTAssertEqual(parts.shape, Array(whole.x.shape.dropFirst()), file: file, line: line)
        XCTAssertEqual(parts.y, whole.y, file: file, line: line)
    }

    func testChunksEqualTheWholeSet() throws {
        // Colour and gray images mixed: a model's 3 channels make every chunk RGB, as load does.
        try assertSameAsLoad(fixture("images/folder"), channels: 3, chunkSize: 2, chunks: 4)          // 7 images
        try assertSameAsLoad(fixture("images/tiny"), options: .init(classOrder: .wnids), channels: 3, chunkSize: 4, chunks: 2)
        try assertSameAsLoad(fixture("images/resize/folder"), options: .init(imageSize: .init(height: 24, width: 20)),
                             channels: 3, chunkSize: 1, chunks: 3)
        try assertSameAsLoad(fixture("images/flat"), chunkSize: 1, chunks: 2)
        try assertSameAsLoad(fixture("datasets/imagenet32"), chunkSize: 3, chunks: try imagenetChunks(size: 3))
        try assertSameAsLoad(fixture("datasets/cifar100/test.bin"), chunkSize: 2, chunks: 1)   // read whole
        try assertSameAsLoad(fixture("images/flat/p.png"), chunkSize: 2, chunks: 1)
    }

    func imagenetChunks(size: Int) throws -> Int {
        try ["train_data_batch_2.npz", "train_data_batch_10.npz"].map {
            (try ImageNetDownsampled.rowCount(URL(fileURLWithPath: fixture("datasets/imagenet32/" + $0))) + size - 1) / size
        }.reduce(0, +)
    }

    func testModelChannelsAndSizeAcrossChunks() throws {
        // All-gray images for a 3-channel model: repeated into RGB, as PIL's convert("RGB").
        let flat = try concatenated(try DataLoader.stream(fixture("images/flat"), stored: .nchw, channels: 3, chunkSize: 1))
        XCTAssertEqual(flat.shape, [3, 32, 32])
        let gray = try DataLoader.read(fixture("images/flat"))
        XCTAssertEqual(Array(flat.x[0..<1024]), Array(gray.x.data[0..<1024]))
        XCTAssertEqual(Array(flat.x[2048..<3072]), Array(gray.x.data[0..<1024]))
        // Colour images for a 1-channel model: converted to gray, as PIL's convert("L")
        // (bytes checked in ImageFormatColourTests).
        let folder = try concatenated(try DataLoader.stream(fixture("images/folder"), stored: .nchw, channels: 1, chunkSize: 2))
        XCTAssertEqual(folder.shape, [1, 32, 32])
        // Sizes that differ between chunks: the same advice as within one.
        assertError(["--image-size"]) {
            try self.concatenated(try DataLoader.stream(fixture("images/resize/folder"), stored: .nchw, chunkSize: 1))
        }
        let skip = try concatenated(try DataLoader.stream(fixture("images/bad/skip"), stored: .nchw,
                                                          options: .init(skipBadImages: true), channels: 3, chunkSize: 2))
        XCTAssertEqual(skip.skipped.count, 3)
        XCTAssertEqual(skip.y, [0, 1])
        XCTAssertEqual(skip.chunks, 2, "the chunk of two bad images is left out")
        assertError(["grayscale and colour"]) {   // no model: chunks of gray and colour images cannot be joined
            try self.concatenated(try DataLoader.stream(fixture("images/folder"), stored: .nchw, chunkSize: 1))
        }
        assertError(["--class-order"]) { try DataLoader.stream(fixture("images/folder"), stored: .nchw, options: .init(classOrder: .sorted)) }
        assertError(["--image-size", "image files"]) {
            try DataLoader.stream(fixture("datasets/imagenet32"), stored: .nchw, options: .init(imageSize: .init(height: 8, width: 8)))
        }
    }
}
