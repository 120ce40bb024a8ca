import Foundation
@testable import HDF5
@testable import ModelCore
@testable import ModelIO
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The pieces of HDF5 isolation that run in one process: the clean copy the reader child
/// returns must read exactly as the original (every attribute form h5py and Keras write,
/// every dataset); inputs are checked and read through one descriptor. The child itself is
/// exercised through the CLI (HostileCLITests).
final class HDF5IsolationTests: XCTestCase {
    func testIsolationIsOffInTheLibrary() {
        XCTAssertFalse(HDF5Isolation.isOn)
    }

    func testCleanCopyReadsAsTheOriginal() throws {
        for name in ["hdf5/attributes.h5", "hdf5/datasets.h5", "keras/functional-cnn.h5", "keras/keras-layers.h5"] {
            let source = try HDF5File(reading: URL(fileURLWithPath: fixture(name)))
            let copy = try HDF5File(inProcessImage: try HDF5CleanCopy.image(of: source), name: name)
            let objects = try source.descendants()
            XCTAssertEqual(try copy.descendants(), objects, name)
            for path in ["/"] + objects.map(\.name) {
                XCTAssertEqual(try copy.attributeNames(at: path), try source.attributeNames(at: path), "\(name) \(path)")
                for attribute in try source.attributeNames(at: path) {
                    if let strings = try? source.stringArrayAttribute(attribute, at: path) {
                        XCTAssertEqual(try copy.stringArrayAttribute(attribute, at: path), strings, "\(name) \(path) \(attribute)")
                    } else if let ints = try? source.intArrayAttribute(attribute, at: path) {
                        XCTAssertEqual(try copy.intArrayAttribute(attribute, at: path), ints, "\(name) \(path) \(attribute)")
                    } else {
                        XCTAssertEqual(try copy.doubleArrayAttribute(attribute, at: path),
                                       try source.doubleArrayAttribute(attribute, at: path), "\(name) \(path) \(attribute)")
                    }
                }
            }
            for dataset in objects where dataset.kind == .dataset {
                guard let array = try? source.readArray(dataset.name) else {
                    // Strings, uint64 past Int64.max: a stand-in that is refused the same way.
                    XCTAssertThrowsError(try copy.readArray(dataset.name)) { e in
                        XCTAssertTrue("\(e)".contains(dataset.name), "\(e)")
                    }
                    continue
                }
                XCTAssertEqual(try copy.readArray(dataset.name), array, "\(name) \(dataset.name)")
            }
        }
    }

    func testInputFileRefusesAFIFOWithoutBlocking() throws {
        let dir = temporaryDirectory("isolation-fifo")
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("pipe.h5")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        XCTAssertThrowsError(try InputFile.open(fifo, name: "pipe.h5")) { e in
            XCTAssertTrue("\(e)".contains("pipe.h5: expected a regular file, found a named pipe"), "\(e)")
        }
        XCTAssertThrowsError(try HDF5File(reading: fifo))
    }

    func testReadAllReadsThroughTheOpenedDescriptor() throws {
        let url = URL(fileURLWithPath: fixture("keras/sequential-mlp.h5"))
        XCTAssertEqual(try InputFile.readAll(url), try Data(contentsOf: url))
        // The descriptor keeps reading the file it opened after the name is taken away.
        let dir = temporaryDirectory("isolation-rename")
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.bin"), b = dir.appendingPathComponent("b.bin")
        try Data("first".utf8).write(to: a)
        try Data("second".utf8).write(to: b)
        let opened = try InputFile.open(a)
        defer { opened.close() }
        XCTAssertEqual(rename(b.path, a.path), 0)
        XCTAssertEqual(try InputFile.readAll(fd: opened.fd, sizeHint: opened.size, label: "a"), Data("first".utf8))
    }
}
