import Foundation
import XCTest
@testable import DataSets
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
import Tensor
import TestSupport

/// CIFAR-100 binaries and the downsampled ImageNet `.npz` release against what numpy reads
/// from the same files (`Fixtures/datasets/expected.npz`, made by `make_dataset_fixtures.py`),
/// CIFAR-10/100 disambiguation, pickles, the x/y writer, and one malformed file per failure.
final class DatasetFormatTests: XCTestCase {
    static let expected: [String: NumpyArray] = {
        (try? Npz.readDictionary(URL(fileURLWithPath: fixture("datasets/expected.npz")))) ?? [:]
    }()

    func data(_ name: String) -> String { fixture("datasets/" + name) }
    func floats(_ key: String) throws -> [Float] { try XCTUnwrap(Self.expected[key], key).floats() }
    func labels(_ key: String) throws -> [Int64] { try XCTUnwrap(Self.expected[key], key).int64s() }

    func assertError(_ mentions: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Any) {
        assertOneLineError(ModelIOError.self, mentions, file: file, line: line, body)
    }

    // MARK: - CIFAR-100

    func testCIFAR100FineAndCoarseLabels() throws {
        for split in ["train", "test"] {
            let fine = try DataLoader.read(data("cifar100/\(split).bin"))
            XCTAssertEqual(fine.format, .cifar100)
            XCTAssertEqual(fine.x.shape, [split == "train" ? 20 : 6, 3, 32, 32])
            XCTAssertEqual(fine.x.data, try floats("cifar100_\(split)_x"))
            XCTAssertEqual(fine.y, try labels("cifar100_\(split)_fine"))
            XCTAssertEqual(fine.layout, .nchw)
            XCTAssertEqual(fine.classNames?.count, 100)
            XCTAssertEqual(fine.classNames?[99], "fine-99")
            let coarse = try DataLoader.read(data("cifar100/\(split).bin"), options: .init(cifarLabel: .coarse))
            XCTAssertEqual(coarse.x.data, fine.x.data)
            XCTAssertEqual(coarse.y, try labels("cifar100_\(split)_coarse"))
            XCTAssertEqual(coarse.classNames?.count, 20)
            XCTAssertEqual(coarse.classNames?[19], "coarse-19")
        }
    }

    func testCIFAR100FolderIsTheTrainingSetNestedOrNot() throws {
        let direct = try DataLoader.read(data("cifar100"))
        XCTAssertEqual(direct.y, try labels("cifar100_train_fine"))
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let nested = dir.appendingPathComponent("cifar-100-binary")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: data("cifar100")), to: nested)
        let viaParent = try DataLoader.read(dir.path, options: .init(cifarLabel: .coarse))
        XCTAssertEqual(viaParent.y, try labels("cifar100_train_coarse"))
        XCTAssertEqual(viaParent.classNames?.first, "coarse-00")
        // Only the test split: the error says which file to name.
        try FileManager.default.removeItem(at: nested.appendingPathComponent("train.bin"))
        assertError(["test.bin"]) { try DataLoader.read(dir.path) }
    }

    func testCIFAR10AndCIFAR100AreToldApart() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func copy(_ from: String, _ name: String) throws -> String {
            let to = dir.appendingPathComponent(name)
            try FileManager.default.copyItem(at: URL(fileURLWithPath: from), to: to)
            return to.path
        }
        // Unknown names: the record size decides.
        XCTAssertEqual(try DataLoader.read(try copy(data("cifar100/train.bin"), "mine.bin")).format, .cifar100)
        XCTAssertEqual(try DataLoader.read(try copy(fixture("data-formats/cifar/test_batch.bin"), "other.bin")).format, .cifar10)
        // Names and sizes that disagree.
        let named10 = try copy(data("cifar100/test.bin"), "data_batch_1.bin")
        assertError(["data_batch_1.bin", "3074-byte CIFAR-100", "train.bin or test.bin"]) { try DataLoader.read(named10) }
        assertError(["named-cifar100/train.bin", "3073-byte CIFAR-10", "data_batch_N.bin"]) {
            try DataLoader.read(self.data("bad/named-cifar100/train.bin"))
        }
        // 3073 · 3074 bytes fit both record sizes: ambiguous unless --label says CIFAR-100.
        let both = dir.appendingPathComponent("both.bin")
        try Data(count: 3073 * 3074).write(to: both)
        assertError(["both.bin", "ambiguous", "data_batch_N.bin", "--label"]) { try DataLoader.read(both.path) }
        let asCIFAR100 = try DataLoader.read(both.path, options: .init(cifarLabel: .fine))
        XCTAssertEqual(asCIFAR100.x.batch, 3073)
        // --label for anything but CIFAR-100 is an error, not ignored.
        assertError(["--label coarse", "CIFAR-100"]) {
            try DataLoader.read(fixture("data-formats/cifar/test_batch.bin"), options: .init(cifarLabel: .coarse))
        }
        assertError(["--label fine"]) { try DataLoader.read(self.data("imagenet32"), options: .init(cifarLabel: .fine)) }
    }

    func testMalformedCIFAR100() {
        assertError(["truncated/train.bin", "truncated CIFAR-100 batch", "50 bytes"]) { try DataLoader.read(self.data("bad/truncated/train.bin")) }
        assertError(["fine-range/test.bin", "record 1", "fine label byte 100", "0-99"]) { try DataLoader.read(self.data("bad/fine-range/test.bin")) }
        assertError(["coarse-range/test.bin", "record 0", "coarse label byte 20", "0-19"]) {
            try DataLoader.read(self.data("bad/coarse-range/test.bin"), options: .init(cifarLabel: .fine))
        }
    }

    // MARK: - Downsampled ImageNet

    func testImageNetFolderReadsBatchesInNumberOrder() throws {
        let raw = try DataLoader.read(data("imagenet32"))
        XCTAssertEqual(raw.format, .imagenet)
        XCTAssertEqual(raw.x.shape, [20, 3, 32, 32])
        XCTAssertEqual(raw.x.data, try floats("imagenet32_train_x"), "batch 2 before batch 10")
        XCTAssertEqual(raw.y, try labels("imagenet32_train_y"))
        XCTAssertEqual(raw.y?.prefix(2), [0, 999], "1-based labels 1 and 1000 become 0 and 999")
        XCTAssertTrue(raw.description.contains("train_data_batch_2.npz, train_data_batch_10.npz"), raw.description)
        let val = try DataLoader.read(data("imagenet32/val_data.npz"))
        XCTAssertEqual(val.x.data, try floats("imagenet32_val_x"))
        XCTAssertEqual(val.y, try labels("imagenet32_val_y"))
    }

    func testImageNetSideIsInferredFromTheRowLength() throws {
        let raw = try DataLoader.read(data("imagenet8/val_data.npz"))
        XCTAssertEqual(raw.x.shape, [4, 3, 8, 8])
        XCTAssertEqual(raw.x.data, try floats("imagenet8_val_x"))
        XCTAssertEqual(raw.y, try labels("imagenet8_val_y"))
        // Loaded for a model, the layout is the format's whatever the caller's default.
        let ds = try DataLoader.load(data("imagenet8/val_data.npz"), stored: .nhwc)
        XCTAssertEqual(ds.x.data, try floats("imagenet8_val_x"))
    }

    func testMalformedImageNetAndPickles() {
        assertError(["imagenet-label0.npz", "labels", "label 0 at row 2", "1-1000"]) { try DataLoader.read(self.data("bad/imagenet-label0.npz")) }
        assertError(["imagenet-label1001.npz", "label 1001 at row 1"]) { try DataLoader.read(self.data("bad/imagenet-label1001.npz")) }
        assertError(["imagenet-rows.npz", "data", "3000 values"]) { try DataLoader.read(self.data("bad/imagenet-rows.npz")) }
        assertError(["train_data_batch_1", "pickle (protocol 2)", "Imagenet32_train_npz.zip"]) {
            try DataLoader.read(self.data("bad/train_data_batch_1"))
        }
        // A folder with nothing but a pickled batch says so too.
        assertError(["train_data_batch_1", "pickle"]) { try DataLoader.read(self.data("bad")) }
    }

    // MARK: - Writing x/y arrays

    func testConvertedArraysReadBackWithClassNames() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try DataLoader.read(data("cifar100/test.bin"), options: .init(cifarLabel: .coarse))
        for name in ["c.npz", "c.h5"] {
            let out = dir.appendingPathComponent(name)
            XCTAssertEqual(try DataWriter.write(source, to: out), .nchw)
            let back = try DataLoader.read(out.path)
            XCTAssertEqual(back.x.shape, source.x.shape, name)
            XCTAssertEqual(back.x.data, source.x.data, name)
            XCTAssertTrue(back.xIsInteger, "uint8 pixels stay integers: \(name)")
            XCTAssertEqual(back.y, source.y, name)
            XCTAssertEqual(back.classNames, source.classNames, name)
        }
        XCTAssertEqual(try Npz.readDictionary(dir.appendingPathComponent("c.npz"))["x"]?.dtype, .uint8)
        // NHWC on request; the same samples once read as NHWC.
        let nhwc = dir.appendingPathComponent("nhwc.npz")
        XCTAssertEqual(try DataWriter.write(source, to: nhwc, layout: .nhwc), .nhwc)
        XCTAssertEqual(try DataLoader.load(nhwc.path, stored: .nhwc).x.data, source.x.data)
        // Arrays whose layout the format does not fix cannot be re-laid out.
        let arrays = try DataLoader.read(dir.appendingPathComponent("c.npz").path)
        assertError(["as stored"]) { try DataWriter.write(arrays, to: dir.appendingPathComponent("d.npz"), layout: .nhwc) as Any }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("d.npz").path))
    }
}
