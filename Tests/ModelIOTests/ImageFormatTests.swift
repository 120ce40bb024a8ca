import Foundation
import XCTest
@testable import DataSets
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
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
        let sorted = DataLoader.ReadOptions(classOrder: .sorted)
        let train = try DataLoader.read(images("tiny"), options: sorted)
        XCTAssertEqual(train.format, .tinyImageNet)
        XCTAssertEqual(train.classOrder, .sorted)
        try assertSame(train, "tiny_train_x", "tiny_train_y")
        XCTAssertEqual(train.classNames, ["goldfish, Carassius auratus", "Chihuahua", "reel"])
        let direct = try DataLoader.read(images("tiny/tiny-imagenet-200"), options: sorted)
        XCTAssertEqual(direct.x.data, train.x.data)
        let val = try DataLoader.read(images("tiny/tiny-imagenet-200/val"), options: sorted)
        try assertSame(val, "tiny_val_x", "tiny_val_y")
        XCTAssertEqual(val.classNames, train.classNames)
    }

    func testTinyImageNetClassOrderIsAnExplicitChoice() throws {
        // wnids.txt of the fixture is not sorted (as the archive's is not): no silent choice.
        assertError(["wnids.txt", "--class-order wnids", "--class-order sorted", "ImageFolder"]) {
            try DataLoader.read(self.images("tiny"))
        }
        let wnids = DataLoader.ReadOptions(classOrder: .wnids)
        let train = try DataLoader.read(images("tiny"), options: wnids)
        XCTAssertEqual(train.classOrder, .wnids)
        try assertSame(train, "tiny_train_x", "tiny_train_y_wnids")
        XCTAssertEqual(train.classNames, ["Chihuahua", "goldfish, Carassius auratus", "reel"], "names follow wnids.txt")
        let val = try DataLoader.read(images("tiny/tiny-imagenet-200/val"), options: wnids)
        try assertSame(val, "tiny_val_x", "tiny_val_y_wnids")
        assertError(["--class-order", "Tiny ImageNet only"]) {
            try DataLoader.read(self.images("folder"), options: wnids)
        }
        // A sorted wnids.txt needs no choice: both orders agree.
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = dir.appendingPathComponent("tiny-imagenet-200")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: images("tiny/tiny-imagenet-200")), to: root)
        try "n01443537\nn02085620\nn04067472\n".write(to: root.appendingPathComponent("wnids.txt"), atomically: true, encoding: .utf8)
        let plain = try DataLoader.read(root.path)
        XCTAssertEqual(plain.y, try array("tiny_train_y").int64s())
    }

    func testTinyImageNetTestSplitIsUnlabelled() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = dir.appendingPathComponent("tiny-imagenet-200")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: images("tiny/tiny-imagenet-200")), to: root)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("test"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: root.appendingPathComponent("val/images"), to: root.appendingPathComponent("test/images"))
        let test = try DataLoader.read(root.appendingPathComponent("test").path, options: .init(classOrder: .sorted))
        XCTAssertNil(test.y, "not one class called 'images'")
        XCTAssertEqual(test.x.data, try array("tiny_val_x").floats(), "val_0 … val_3 in name order")
        XCTAssertEqual(try DataLoader.read(root.appendingPathComponent("train").path).classNames,
                       ["n01443537", "n02085620", "n04067472"], "train/ alone is a plain class-per-folder tree")
    }

    func testMalformedImages() {
        assertError(["mixed-size/a/1.png", "32x24", "--image-size"]) { try DataLoader.read(self.images("bad/mixed-size")) }
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

    // MARK: - Resizing, hostile files, skipping

    static let resized: [String: NumpyArray] = {
        (try? Npz.readDictionary(URL(fileURLWithPath: fixture("images/expected-resize.npz")))) ?? [:]
    }()

    func testResizeMatchesPillowBilinearByteForByte() throws {
        XCTAssertFalse(Self.resized.isEmpty, "Fixtures/images/expected-resize.npz")
        var compared = 0
        for name in ["rgb.png", "gray.png", "photo.jpg"] {
            let image = try ImageDecoder.decode(URL(fileURLWithPath: images("resize/" + name)))
            let stem = String(name.split(separator: ".")[0])
            for (key, expected) in Self.resized where key.hasPrefix(stem + "_") {
                let (h, w) = (expected.shape[0], expected.shape[1])
                let out = ImageResize.resize(image, height: h, width: w)
                XCTAssertEqual([out.height, out.width, out.channels], expected.shape, key)
                XCTAssertEqual(out.pixels, expected.bytes, "\(key): Pillow's resize((\(w), \(h)), BILINEAR)")
                compared += 1
            }
        }
        XCTAssertEqual(compared, 18, "3 sources x 6 sizes (down, up, mixed, same, tiny)")
    }

    func testImageSizeResizesFoldersOfMixedSizes() throws {
        let raw = try DataLoader.read(images("resize/folder"), options: .init(imageSize: .init(height: 24, width: 20)))
        let ex = try XCTUnwrap(Self.resized["folder_x"])
        XCTAssertEqual(raw.x.shape, ex.shape)
        XCTAssertEqual(raw.x.data, try ex.floats())
        XCTAssertEqual(raw.y, try XCTUnwrap(Self.resized["folder_y"]).int64s())
        XCTAssertTrue(raw.description.contains("resized to 24x20"), raw.description)
        assertError(["--image-size", "image files", "CIFAR"]) {
            try DataLoader.read(fixture("datasets/cifar100/test.bin"), options: .init(imageSize: .init(height: 8, width: 8)))
        }
        assertError(["--image-size", "expected HEIGHT,WIDTH"]) { try DataLoader.ReadOptions.imageSize("32x32") }
        XCTAssertEqual(try DataLoader.ReadOptions.imageSize("24, 20"), .init(height: 24, width: 20))
        XCTAssertEqual(try DataLoader.ReadOptions.imageSize("7"), .init(height: 7, width: 7))
    }

    func testModelSizeMismatchSaysToPassImageSize() throws {
        let ds = try DataLoader.load(images("folder"), stored: .nchw)
        XCTAssertTrue(ds.fromImageFiles)
        assertError(["[3, 32, 32]", "[3, 64, 64]", "--image-size 64,64"]) {
            try ds.validate(inputShape: [3, 64, 64], classes: 3)
        }
    }

    func testHostileImagesGetOneErrorEach() {
        let cases: [(String, [String])] = [
            ("empty.png", ["empty.png", "0 bytes"]),
            ("html.jpg", ["html.jpg", "not a JPEG or PNG"]),
            ("lying.png", ["lying.png", "PNG"]),
            ("bomb.png", ["bomb.png", "100000x100000", "decompression bomb"]),
            ("bomb.jpg", ["bomb.jpg", "30000x30000", "decompression bomb"]),
        ]
        for (name, mentions) in cases {
            assertError(mentions) { try DataLoader.read(self.images("bad/hostile/" + name)) }
            assertError(mentions) { try DataLoader.read(self.images("bad/hostile/" + name), options: .init(skipBadImages: true)) }
        }
    }

    func testSkipBadImagesLeavesThemOutWithACount() throws {
        assertError(["skip/a/1.png", "0 bytes"]) { try DataLoader.read(self.images("bad/skip")) }
        let raw = try DataLoader.read(images("bad/skip"), options: .init(skipBadImages: true))
        try assertSame(raw, "skip_x", "skip_y")
        XCTAssertEqual(raw.skippedImages.map { URL(fileURLWithPath: $0).lastPathComponent }, ["1.png", "3.jpg", "4.jpg"])
        XCTAssertTrue(raw.description.contains("3 bad images skipped"), raw.description)
        let ds = try DataLoader.load(images("bad/skip"), stored: .nchw, options: .init(skipBadImages: true))
        XCTAssertEqual(ds.skippedImages.count, 3)
        assertError(["--skip-bad-images", "image files"]) {
            try DataLoader.read(fixture("datasets/cifar100/test.bin"), options: .init(skipBadImages: true))
        }
    }
}
