import Foundation
@testable import DataSets
@testable import HDF5
@testable import ModelCore
@testable import ModelIO
import TestSupport
import XCTest

/// HDF5 files whose data live outside them (external links, external storage, virtual
/// datasets) or need filters we cannot verify are refused when opened, before any data are
/// read; fixtures from `Fixtures/scripts/make_hostile_hdf5_fixtures.py`, where h5py shows the
/// outside bytes (the marker below) are reachable through each file.
final class HostileHDF5Tests: XCTestCase {
    static let marker = "SECRET-OUTSIDE-BYTES"
    let directory = URL(fileURLWithPath: fixture("hostile"))

    func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// Runs `body` with the fixtures folder as working directory (where HDF5 resolves
    /// external storage names), so an unguarded reader would really reach the outside bytes.
    func inFixtures<T>(_ body: () throws -> T) rethrows -> T {
        let previous = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(directory.path)
        defer { FileManager.default.changeCurrentDirectoryPath(previous) }
        return try body()
    }

    func assertRefused(_ name: String, _ mentions: [String], line: UInt = #line, _ body: () throws -> Any) {
        do {
            let value = try inFixtures(body)
            XCTFail("\(name) was accepted: \(value)", line: line)
        } catch let e as ModelIOError {
            XCTAssertEqual(e.kind, .unsupported, "\(e)", line: line)
            for m in [name] + mentions { XCTAssertTrue(e.description.contains(m), "'\(e)' lacks '\(m)'", line: line) }
            XCTAssertFalse(e.description.contains(Self.marker), "the outside bytes leaked: \(e)", line: line)
            XCTAssertFalse(e.description.contains("\n"), "not one line: \(e)", line: line)
        } catch {
            XCTFail("not a ModelIOError: \(error)", line: line)
        }
    }

    func testDataOutsideTheFileIsRefusedOnOpen() throws {
        let cases: [(String, [String])] = [
            ("external-storage.h5", ["/x", "external file 'secret.bin'", "refused"]),
            ("external-link.h5", ["/x", "external link to 'target.h5:/x'", "refused"]),
            ("nested-link.h5", ["/g/x", "external link"]),
            ("virtual.h5", ["/x", "virtual dataset", "target.h5"]),
            ("lzf.h5", ["/x", "filter 32000", "only deflate, shuffle and fletcher32"]),
        ]
        for (name, mentions) in cases {
            assertRefused(name, mentions) { try HDF5File(reading: self.url(name)) }
            // Every reader goes through the same open.
            assertRefused(name, mentions) { try StateDict.read(from: self.url(name)) }
            assertRefused(name, mentions) { try DataLoader.read(self.url(name).path) }
            assertRefused(name, mentions) { try ModelLoader.load(self.url(name).path, arch: "mlp:4-2") }
            // An HDF5 image in memory (the weights inside a .keras archive) is checked too.
            let image = try Data(contentsOf: url(name))
            assertRefused(name, mentions) { try HDF5File(image: image, name: name) }
        }
    }

    /// A few-kB file declaring an 8 GiB chunked dataset (no chunk written): refused from its
    /// declared shape against the memory budget, before reading.
    func testDeclaredShapeIsCheckedAgainstTheMemoryBudget() throws {
        MemoryBudget.bytes = 1 << 30
        defer { MemoryBudget.bytes = MemoryBudget.defaultBytes }
        let f = try HDF5File(reading: url("sparse.h5"))
        XCTAssertThrowsError(try f.readFloats("x")) { error in
            let e = error as? ModelIOError
            XCTAssertEqual(e?.kind, .unsupported)
            XCTAssertTrue(e?.description.contains("sparse.h5: x: shape [2147483648] needs 17.2 GB, more than the memory budget of 1.1 GB") ?? false, "\(error)")
        }
    }

    func testSoftLinksInsideTheFileAreRead() throws {
        let f = try HDF5File(reading: url("soft-link.h5"))
        XCTAssertEqual(try f.readFloats("y").values, [0, 1, 2])
    }
}
