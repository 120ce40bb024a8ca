import Foundation
import XCTest
@testable import ModelIO
import Tensor
import TestSupport

/// JPEG/PNG image folders, single images and Tiny ImageNet against what Pillow decodes from
/// the same files (`Fixtures/images/expected-images.npz`, made by `make_image_fixtures.py`),
/// and one malformed file per failure.
final class ImageFormatTests: XCTestCase {
    static let expected: [String: NumpyArray] = {
        (try? Npz.readDictionary(URL(fileURLWithPath: fixture("images/expected-images.npz")))) ?? [:]
    }()

    func images(_ name: String) -> String { fixture("images/" + name) }
    func array(_ key: String) throws -> NumpyArray { try XCTUnwrap(Self.expected[key], key) }

    func assertError(_ mentions: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Any) {
        assertOneLineError(ModelIOError.self, mentions, file: file, line: line, body)
    }

    func assertSame(_ raw: DataLoader.RawData, _ x: String, _ y: String?, file: StaticString = #filePath, line: UInt = #line) throws {
        let ex = try array(x)
        XCTAssertEqual(raw.x.shape, ex.shape, x, file: file, line: line)
        XCTAssertEqual(raw.x.data, try ex.floats(), "\(x): pixels as Pillow decodes them", file: file, line: line)
        XCTAssertEqual(raw.y, try y.map { try array($0).int64s() }, y ?? "no labels", file: file, line: line)
        XCTAssertEqual(raw.layout, .nchw, file: file, line: line)
    }

    func testClassFolderTreeMatchesPillow() throws {
        // RGB and palette PNG, RGB and grayscale JPEG, gray PNG, opaque RGBA one folder down.
        let raw = try DataLoader.read(images("folder"))
        XCTAssertEqual(raw.format, .imageFolder)
        try assertSame(raw, "folder_x", "folder_y")
        XCTAssertEqual(raw.classNames, ["cat", "dog", "zebra"])
        XCTAssertTrue(raw.description.contains("grayscale images repeated into RGB"), raw.description)
    }

    func testFlatFolderAndSingleImagesAreUnlabelled() throws {
        let flat = try DataLoader.read(images("flat"))
        try assertSame(flat, "flat_x", nil)
        XCTAssertEqual(flat.x.shape[1], 1, "all grayscale: one channel")
        let one = try DataLoader.read(images("flat/q.png"))
        XCTAssertEqual(one.x.shape, [1, 1, 32, 32])
        XCTAssertEqual(one.x.data, Array(flat.x.data[(32 * 32)...]))
        let jpeg = try DataLoader.read(images("folder/dog/a.jpg"))
        XCTAssertEqual(jpeg.x.shape, [1, 3, 32, 32])
        XCTAssertNil(jpeg.y)
    }

    func testTinyImageNetSplitsUseSortedWnids() throws {
        let train = try DataLoader.read(images("tiny"))
        XCTAssertEqual(train.format, .tinyImageNet)
        try assertSame(train, "tiny_train_x", "tiny_train_y")
        XCTAssertEqual(train.classNames, ["goldfish, Carassius auratus", "Chihuahua", "reel"])
        let direct = try DataLoader.read(images("tiny/tiny-imagenet-200"))
        XCTAssertEqual(direct.x.data, train.x.data)
        let val = try DataLoader.read(images("tiny/tiny-imagenet-200/val"))
        try assertSame(val, "tiny_val_x", "tiny_val_y")
        XCTAssertEqual(val.classNames, train.classNames)
    }

    func testTinyImageNetTestSplitIsUnlabelled() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = dir.appendingPathComponent("tiny-imagenet-200")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: images("tiny/tiny-imagenet-200")), to: root)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("test"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: root.appendingPathComponent("val/images"), to: root.appendingPathComponent("test/images"))
        let test = try DataLoader.read(root.appendingPathComponent("test").path)
        XCTAssertNil(test.y, "not one class called 'images'")
        XCTAssertEqual(test.x.data, try array("tiny_val_x").floats(), "val_0 … val_3 in name order")
        XCTAssertEqual(try DataLoader.read(root.appendingPathComponent("train").path).classNames,
                       ["n01443537", "n02085620", "n04067472"], "train/ alone is a plain class-per-folder tree")
    }

    func testMalformedImages() {
        assertError(["mixed-size/a/1.png", "32x24", "same size"]) { try DataLoader.read(self.images("bad/mixed-size")) }
        assertError(["transparent.png", "transparent pixels"]) { try DataLoader.read(self.images("bad/transparent.png")) }
        assertError(["sixteen.png", "16-bit"]) { try DataLoader.read(self.images("bad/sixteen.png")) }
        assertError(["truncated.jpg", "JPEG", "Premature end"]) { try DataLoader.read(self.images("bad/truncated.jpg")) }
        assertError(["truncated.png", "PNG", "truncated"]) { try DataLoader.read(self.images("bad/truncated.png")) }
        assertError(["x.gif", "'.gif' images are not read"]) { try DataLoader.read(self.images("bad/gif")) }
        assertError(["empty-class/b", "holds no PNG or JPEG"]) { try DataLoader.read(self.images("bad/empty-class")) }
    }

    func testAFileNamedPNGThatIsNotOne() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fake = dir.appendingPathComponent("fake.png")
        try Data("hello".utf8).write(to: fake)
        assertError(["fake.png", "not a JPEG or PNG"]) { try DataLoader.read(fake.path) }
    }
}
