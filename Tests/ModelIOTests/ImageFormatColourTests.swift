import Foundation
import XCTest
@testable import DataSets
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
import Tensor
import TestSupport

/// Colour-mode conversion of image files to a model's channel count against Pillow's
/// `convert("L")` / `convert("RGB")` (and `convert("L").resize(…)`) on the same files:
/// `Fixtures/images/expected-convert.npz`, made by `make_image_convert_fixtures.py`.
final class ImageFormatColourTests: XCTestCase {
    static let expected: [String: NumpyArray] = {
        (try? Npz.readDictionary(URL(fileURLWithPath: fixture("images/expected-convert.npz")))) ?? [:]
    }()

    func images(_ name: String) -> String { fixture("images/" + name) }
    func array(_ key: String) throws -> NumpyArray { try XCTUnwrap(Self.expected[key], "expected-convert.npz: \(key)") }

    func testColourToGrayMatchesPillowConvertL() throws {
        // RGB, palette and opaque RGBA PNGs, RGB and gray JPEGs; 5 of the 7 are colour.
        let raw = try DataLoader.read(images("folder"), options: .init(channels: 1))
        let ex = try array("folder_L_x")
        XCTAssertEqual(raw.x.shape, ex.shape)
        XCTAssertEqual(raw.x.data, try ex.floats(), "Pillow's Image.open(f).convert(\"L\")")
        XCTAssertEqual(raw.y, try array("folder_L_y").int64s())
        XCTAssertEqual(raw.grayConverted, 5)
        XCTAssertTrue(raw.description.contains("5 colour images converted to gray"), raw.description)
        let one = try DataLoader.read(images("folder/dog/a.jpg"), options: .init(channels: 1))
        XCTAssertEqual(one.x.shape, [1, 1, 32, 32])
        XCTAssertEqual(one.grayConverted, 1)
    }

    func testOtherChannelCountsAreRefused() throws {
        // A 2- or 4-channel model: which image planes it wants is not ours to guess.
        for c in [2, 4] {
            XCTAssertThrowsError(try DataLoader.read(images("folder"), options: .init(channels: c))) { e in
                XCTAssertTrue("\(e)".contains("\(c)-channel inputs"), "\(e)")
            }
        }
    }

    func testGrayToRGBMatchesPillowConvertRGB() throws {
        let raw = try DataLoader.read(images("flat"), options: .init(channels: 3))
        let ex = try array("flat_RGB_x")
        XCTAssertEqual(raw.x.shape, ex.shape)
        XCTAssertEqual(raw.x.data, try ex.floats(), "Pillow's Image.open(f).convert(\"RGB\")")
        XCTAssertEqual(raw.grayConverted, 0)
        XCTAssertTrue(raw.description.contains("grayscale images repeated into RGB"), raw.description)
    }

    func testConversionRunsBeforeResizing() throws {
        // convert("L").resize(...) and resize(...).convert("L") differ in 302 of these bytes.
        let photo = try ImageDecoder.decode(URL(fileURLWithPath: images("resize/photo.jpg")))
        let out = ImageResize.resize(ImageColour.gray(photo), height: 30, width: 40)
        let ex = try array("photo_L_30x40")
        XCTAssertEqual([out.height, out.width], ex.shape)
        XCTAssertEqual(out.pixels, ex.bytes, "Pillow's convert(\"L\").resize((40, 30), BILINEAR)")
        let raw = try DataLoader.read(images("resize/folder"), options: .init(imageSize: .init(height: 24, width: 20), channels: 1))
        XCTAssertEqual(raw.x.shape, try array("resize_L_x").shape)
        XCTAssertEqual(raw.x.data, try array("resize_L_x").floats())
        XCTAssertEqual(raw.y, try array("resize_L_y").int64s())
    }

    func testStreamedChunksConvertAsTheWholeRead() throws {
        let stream = try DataLoader.stream(images("folder"), stored: .nchw, channels: 1, chunkSize: 3)
        var x: [Float] = []
        var converted = 0
        try stream.forEachChunk { ds in
            x += ds.x.data
            converted += ds.grayConverted
        }
        XCTAssertEqual(x, try array("folder_L_x").floats())
        XCTAssertEqual(converted, 5)
    }
}
