import CHDF5
import Foundation
import XCTest
@testable import DataSets
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
import Tensor
import TestSupport

/// Every `--data` format against arrays numpy computed from the same values
/// (`Fixtures/data-formats/expected.npz`, made by `make_data_format_fixtures.py`), the
/// preprocessing options, and one malformed file per failure mode.
final class DataFormatTests: XCTestCase {
    static let expected: [String: NumpyArray] = {
        (try? Npz.readDictionary(URL(fileURLWithPath: fixture("data-formats/expected.npz")))) ?? [:]
    }()

    func data(_ name: String) -> String { fixture("data-formats/" + name) }
    func expectedFloats(_ key: String) throws -> [Float] { try XCTUnwrap(Self.expected[key]).floats() }
    func expectedLabels(_ key: String) throws -> [Int] { try XCTUnwrap(Self.expected[key]).int64s().map { Int($0) } }

    func assertError(_ mentions: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Any) {
        assertOneLineError(ModelIOError.self, mentions, file: file, line: line, body)
    }

    // MARK: - CIFAR-10 binaries

    func testCIFARFolderIsTheTrainingBatchesInOrder() throws {
        let ds = try DataLoader.load(data("cifar"), stored: .nchw)
        XCTAssertEqual(ds.x.shape, [5, 3, 32, 32])
        XCTAssertEqual(ds.x.data, try expectedFloats("cifar_train_x"), "pixels as stored (uint8 values, NCHW)")
        XCTAssertEqual(ds.y, try expectedLabels("cifar_train_y"))
    }

    func testCIFARTestBatchByPath() throws {
        let ds = try DataLoader.load(data("cifar/test_batch.bin"), stored: .nchw)
        XCTAssertEqual(ds.x.shape, [2, 3, 32, 32])
        XCTAssertEqual(ds.x.data, try expectedFloats("cifar_test_x"))
        XCTAssertEqual(ds.y, try expectedLabels("cifar_test_y"))
    }

    /// CIFAR fixes its own layout (NCHW); a Keras model's NHWC default must not transpose it,
    /// but outputs are still meant for NHWC.
    func testCIFARLayoutIsFixedByTheFormat() throws {
        let ds = try DataLoader.load(data("cifar/test_batch.bin"), stored: .nhwc)
        XCTAssertEqual(ds.x.data, try expectedFloats("cifar_test_x"))
        XCTAssertEqual(ds.storedLayout, .nhwc)
    }

    func testCIFARPresetNormalisesLikeThePaper() throws {
        let p = try DataLoader.Preprocessing.normalization("cifar10")
        let ds = try DataLoader.load(data("cifar/test_batch.bin"), stored: .nchw, preprocessing: p)
        let raw = try expectedFloats("cifar_test_x")
        let mean: [Double] = [0.4914, 0.4822, 0.4465], std: [Double] = [0.2023, 0.1994, 0.2010]
        let reference = raw.enumerated().map { i, v in
            let c = (i / 1024) % 3
            return Float((Double(v) / 255 - mean[c]) / std[c])
        }
        assertAllClose(ds.x.data, reference, atol: 2e-6, rtol: 1e-6, "cifar10 preset")
    }

    func testMalformedCIFAR() {
        assertError(["truncated_batch.bin", "truncated CIFAR batch", "100 bytes"]) {
            try DataLoader.load(self.data("cifar-bad/truncated_batch.bin"), stored: .nchw)
        }
        assertError(["bad_label_batch.bin", "record 1", "label byte 12"]) {
            try DataLoader.load(self.data("cifar-bad/bad_label_batch.bin"), stored: .nchw)
        }
        assertError(["empty_batch.bin", "empty file"]) {
            try DataLoader.load(self.data("cifar-bad/empty_batch.bin"), stored: .nchw)
        }
        assertError(["data_batch_1.bin"]) { try DataLoader.load(self.data("cifar-bad"), stored: .nchw) }
    }

    // MARK: - IDX

    func testGzippedIDXWithLabelsFoundNextToIt() throws {
        let ds = try DataLoader.load(data("mnist/train-images-idx3-ubyte.gz"), stored: .nhwc)
        XCTAssertEqual(ds.x.shape, [5, 1, 28, 28])
        XCTAssertEqual(ds.x.data, try expectedFloats("mnist_train_x"))
        XCTAssertEqual(ds.y, try expectedLabels("mnist_train_y"))
    }

    func testPlainIDX() throws {
        let p = DataLoader.Preprocessing(scale: try DataLoader.Preprocessing.scaleFactor("1/255"))
        let ds = try DataLoader.load(data("mnist/t10k-images-idx3-ubyte"), stored: .nchw, preprocessing: p)
        XCTAssertEqual(ds.x.shape, [3, 1, 28, 28])
        XCTAssertEqual(ds.x.data, try expectedFloats("mnist_test_x").map { $0 * (1 / 255 as Float) })
        XCTAssertEqual(ds.y, try expectedLabels("mnist_test_y"))
    }

    func testMalformedIDX() {
        assertError(["badmagic-images-idx3-ubyte", "bad IDX magic number 12 34 08 03"]) {
            try DataLoader.load(self.data("idx-bad/badmagic-images-idx3-ubyte"), stored: .nchw)
        }
        assertError(["truncated IDX file", "needs 3136 data bytes, found 2744"]) {
            try DataLoader.load(self.data("idx-bad/truncated-images-idx3-ubyte"), stored: .nchw)
        }
        assertError(["count-labels-idx1-ubyte", "3 labels for the 4 images"]) {
            try DataLoader.load(self.data("idx-bad/count-images-idx3-ubyte"), stored: .nchw)
        }
        assertError(["no labels file", "nolabels-labels-idx1-ubyte"]) {
            try DataLoader.load(self.data("idx-bad/nolabels-images-idx3-ubyte"), stored: .nchw)
        }
        assertError(["corrupt-images-idx3-ubyte.gz", "truncated gzip data"]) {
            try DataLoader.load(self.data("idx-bad/corrupt-images-idx3-ubyte.gz"), stored: .nchw)
        }
        assertError(["labels file", "train-images-idx3-ubyte.gz"]) {
            try DataLoader.load(self.data("mnist/train-labels-idx1-ubyte.gz"), stored: .nchw)
        }
    }

    // MARK: - HDF5 and npz

    /// A file h5py wrote with libver="latest" (HDF5 2.0's chunk layout, which libhdf5 1.10.8
    /// cannot open): one line naming the file, the dataset, the cause and the re-save, not
    /// "no dataset 'x'" (Fixtures/scripts/make_hdf5_libver_fixture.py).
    func testNewerHDF5FileFormatIsNamedWithTheFix() throws {
        let latest = fixture("hdf5/libver-latest.h5"), earliest = fixture("hdf5/libver-earliest.h5")
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        H5get_libversion(&major, &minor, &release)
        let ds = try DataLoader.load(earliest, stored: .nchw)
        XCTAssertEqual(ds.x.data, [0, 1, 2, 3, 4, 5])
        // Newer libraries read the file; then there is nothing to report.
        guard (major, minor) < (1, 12) else { return }
        // In process here; through the isolated reader in CLITests.DataCommandTests.
        assertError(["libver-latest.h5", "x", "newer HDF5 file format", "libver=\"latest\"", "libver=\"earliest\"", "v108"]) {
            try DataLoader.load(latest, stored: .nchw)
        }
    }

    func testHDF5DataSets() throws {
        let x = try expectedFloats("xy_x"), y = try expectedLabels("xy_y")
        let ds = try DataLoader.load(data("xy.h5"), stored: .nchw)
        XCTAssertEqual(ds.x.shape, [4, 3, 4, 4])
        XCTAssertEqual(ds.x.data, x)
        XCTAssertEqual(ds.y, y)
        // The NHWC float copy, read for a Keras model, comes back as the same NCHW values / 255;
        // the cifar10 preset leaves float data unscaled.
        let nhwc = try DataLoader.load(data("xy-nhwc.h5"), stored: .nhwc)
        XCTAssertEqual(nhwc.x.shape, [4, 3, 4, 4])
        XCTAssertEqual(nhwc.x.data, x.map { $0 / 255 })
        let normalised = try DataLoader.load(data("xy-nhwc.h5"), stored: .nhwc,
                                             preprocessing: try .normalization("0.5,0.5,0.5:0.25,0.25,0.25"))
        XCTAssertEqual(normalised.x.data, x.map { ($0 / 255 - 0.5) / 0.25 })
        let preset = try DataLoader.load(data("xy-nhwc.h5"), stored: .nhwc, preprocessing: try .normalization("cifar10"))
        XCTAssertEqual(preset.x.data[0], (x[0] / 255 - 0.4914) / 0.2023)
        XCTAssertEqual(try DataLoader.load(data("xy-float-labels.h5"), stored: .nchw).y, y)
    }

    func testMalformedArrays() {
        assertError(["bad-xy-length.h5", "y", "3 labels for 4 samples"]) { try DataLoader.load(self.data("bad-xy-length.h5"), stored: .nchw) }
        assertError(["bad-no-x.h5", "no dataset 'x'", "images, y"]) { try DataLoader.load(self.data("bad-no-x.h5"), stored: .nchw) }
        assertError(["bad-xy-length.npz", "5 labels for 4 samples"]) { try DataLoader.load(self.data("bad-xy-length.npz"), stored: .nchw) }
        assertError(["bad-empty.npz", "empty"]) { try DataLoader.load(self.data("bad-empty.npz"), stored: .nchw) }
        assertError(["bad-rank.npz", "at least 2 axes", "[6]"]) { try DataLoader.load(self.data("bad-rank.npz"), stored: .nchw) }
        assertError(["bad-labels-range.npz", "label 10 at row 2", "0..<10"]) {
            let ds = try DataLoader.load(self.data("bad-labels-range.npz"), stored: .nchw)
            try ds.validate(inputShape: [3, 4, 4], classes: 10)
            return ds
        }
        assertError(["unknown data file type"]) { try DataLoader.load(fixture("torch/cifar-resnet8.json"), stored: .nchw) }
        assertError(["no such data file"]) { try DataLoader.load(self.data("missing.npz"), stored: .nchw) }
        assertError(["normalisation has 2 channels, the data has 3"]) {
            try DataLoader.load(self.data("xy.h5"), stored: .nchw, preprocessing: try .normalization("0,0:1,1"))
        }
    }

    // MARK: - Options

    func testNormalisationAndScaleParsing() throws {
        let p = try DataLoader.Preprocessing.normalization("cifar10")
        XCTAssertEqual(p.mean, [0.4914, 0.4822, 0.4465])
        XCTAssertEqual(p.std, [0.2023, 0.1994, 0.2010])
        XCTAssertEqual(p.integerScale, 1 / 255)
        XCTAssertNil(p.scale)
        XCTAssertEqual(try DataLoader.Preprocessing.normalization("CIFAR-10").mean?.count, 3)
        XCTAssertEqual(try DataLoader.Preprocessing.normalization("0.1:0.2"), .init(mean: [0.1], std: [0.2]))
        XCTAssertEqual(try DataLoader.Preprocessing.scaleFactor("1/255"), 1 / 255)
        XCTAssertEqual(try DataLoader.Preprocessing.scaleFactor("0.5"), 0.5)
        for bad in ["imagenet", "1,2:3", "1:0", "a:b", "1:2:3"] {
            assertError(["--normalize"]) { try DataLoader.Preprocessing.normalization(bad) }
        }
        for bad in ["x", "1/0", "1/2/3", ""] {
            assertError(["--scale"]) { try DataLoader.Preprocessing.scaleFactor(bad) }
        }
    }

    /// Images for flat-input models are flattened in the model framework's order.
    func testConformingImagesToFlatModels() throws {
        let mnist = try DataLoader.load(data("mnist/t10k-images-idx3-ubyte"), stored: .nchw)
        let flat = mnist.conformed(to: [784], layout: .nchw)
        XCTAssertEqual(flat.x.shape, [3, 784])
        XCTAssertEqual(flat.x.data, mnist.x.data)
        XCTAssertEqual(mnist.conformed(to: [28, 28], layout: .nchw).x.shape, [3, 28, 28])
        XCTAssertEqual(mnist.conformed(to: [10], layout: .nchw).x.shape, [3, 1, 28, 28], "no fit: unchanged")
        // 2 channels of 1x2: NCHW order a0 a1 b0 b1; Keras (NHWC) flattens a0 b0 a1 b1.
        let ds = DataSet(x: Tensor(shape: [1, 2, 1, 2], data: [1, 2, 3, 4]), y: nil, file: "t")
        XCTAssertEqual(ds.conformed(to: [4], layout: .nchw).x.data, [1, 2, 3, 4])
        XCTAssertEqual(ds.conformed(to: [4], layout: .nhwc).x.data, [1, 3, 2, 4])
    }

    // MARK: - gzip

    func testGzipMembersAndDamage() throws {
        let one = try Data(contentsOf: URL(fileURLWithPath: data("mnist/train-labels-idx1-ubyte.gz")))
        let single = try Gzip.decompress(one, file: "one")
        XCTAssertEqual(Array(single.prefix(4)), [0, 0, 8, 1])
        XCTAssertEqual(try Gzip.decompress(one + one, file: "two"), single + single, "concatenated members, as gunzip")
        assertError(["trailing garbage"]) { try Gzip.decompress(one + Data([1, 2, 3]), file: "g") }
        var flipped = one
        flipped[flipped.count - 6] ^= 0xFF   // inside the CRC-32 trailer
        assertError(["corrupt gzip data"]) { try Gzip.decompress(flipped, file: "g") }
        assertError(["not a gzip file"]) { try Gzip.decompress(Data([1, 2, 3]), file: "g") }
    }
}
