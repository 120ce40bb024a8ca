import Foundation
import ModelIO
import Tensor
import TestSupport
import XCTest

/// `--max-memory` parsing, NaN/infinite weights and inputs refused at load time (naming the key
/// and position) unless allowed, and HDF5 files written without timestamps (the same content
/// gives the same bytes).
final class InputSafetyTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("input-safety") }
    override func tearDown() {
        NonFinite.allowed = false
        try? FileManager.default.removeItem(at: dir)
    }

    func testMaxMemorySyntax() throws {
        XCTAssertEqual(try MemoryBudget.parse("8G"), 8 << 30)
        XCTAssertEqual(try MemoryBudget.parse("512M"), 512 << 20)
        XCTAssertEqual(try MemoryBudget.parse("512mb"), 512 << 20)
        XCTAssertEqual(try MemoryBudget.parse("1.5GiB"), 3 << 29)
        XCTAssertEqual(try MemoryBudget.parse("64k"), 64 << 10)
        XCTAssertEqual(try MemoryBudget.parse("1000000"), 1_000_000)
        XCTAssertEqual(try MemoryBudget.parse("25%", physicalMemory: 16 << 30), 4 << 30)
        for bad in ["", "G", "8X", "-1G", "0", "0%", "1e99G", "8 G B", "..5M"] {
            XCTAssertThrowsError(try MemoryBudget.parse(bad), bad) { e in
                XCTAssertTrue("\(e)".hasPrefix("--max-memory: '\(bad)'"), "\(e)")
            }
        }
    }

    func testNonFiniteWeightIsRefusedNamingTheKey() throws {
        var entries = try Npz.read(URL(fileURLWithPath: fixture("torch/bss-teacher.npz")))
        let i = entries.firstIndex { $0.array.dtype == .float32 && $0.array.count > 3 }!
        var w = try entries[i].array.floats()
        w[3] = -.infinity
        entries[i].array = NumpyArray(float32s: w, shape: entries[i].array.shape)
        let bad = dir.appendingPathComponent("inf.npz")
        try Npz.write(entries, to: bad)
        XCTAssertThrowsError(try ModelLoader.load(bad.path, arch: fixture("torch/bss-teacher.json"))) { e in
            XCTAssertEqual("\(e)", "\(bad.path): \(entries[i].key): 1 of \(w.count) values are not finite (the first, at index 3, is infinite); weights must be finite; pass --allow-nonfinite to read it anyway")
        }
        NonFinite.allowed = true
        XCTAssertNoThrow(try ModelLoader.load(bad.path, arch: fixture("torch/bss-teacher.json")))
    }

    func testNonFiniteInputIsRefusedNamingTheSample() throws {
        var x = [Float](repeating: 0.5, count: 4 * 6)
        x[2 * 6 + 1] = .nan
        x[3 * 6] = .infinity
        let file = dir.appendingPathComponent("d.npz")
        try Npz.write([("x", NumpyArray(float32s: x, shape: [4, 6])), ("y", NumpyArray(int64s: [0, 1, 0, 1], shape: [4]))], to: file)
        XCTAssertThrowsError(try DataLoader.read(file.path)) { e in
            XCTAssertEqual("\(e)", "\(file.path): x: 2 of 24 values are not finite (the first, at sample 2, is NaN); inputs must be finite; pass --allow-nonfinite to read it anyway")
        }
        // float64 values beyond float32's range become infinite when read.
        let big = dir.appendingPathComponent("big.npz")
        try Npz.write([("x", NumpyArray(float64s: [1, 1e300], shape: [2, 1]))], to: big)
        XCTAssertThrowsError(try DataLoader.read(big.path)) { e in XCTAssertTrue("\(e)".contains("sample 1, is infinite"), "\(e)") }
        NonFinite.allowed = true
        XCTAssertEqual(try DataLoader.read(file.path).x.shape, [4, 6])
    }

    /// Writing the same arrays twice, a second apart, gives the same bytes: no HDF5 object
    /// timestamps (groups, datasets, the root group).
    func testHDF5OutputsAreByteReproducible() throws {
        let raw = DataLoader.RawData(x: Tensor(shape: [3, 2, 2, 1], data: (0..<12).map(Float.init)), xIsInteger: false,
                                     y: [0, 1, 2], layout: .nchw, description: "test", classNames: ["a", "b", "c"])
        let a = dir.appendingPathComponent("a.h5"), b = dir.appendingPathComponent("b.h5")
        _ = try DataWriter.write(raw, to: a)
        Thread.sleep(forTimeInterval: 1.1)
        _ = try DataWriter.write(raw, to: b)
        XCTAssertEqual(try Data(contentsOf: a), try Data(contentsOf: b))

        // A state dict with nested keys (intermediate groups).
        let sd = StateDict(entries: [("block/conv/weight", NumpyArray(float32s: [1, 2, 3, 4], shape: [2, 2])),
                                     ("fc.bias", NumpyArray(float32s: [0.5], shape: [1]))])
        let c = dir.appendingPathComponent("c.h5"), d = dir.appendingPathComponent("d.h5")
        try StateDictHDF5.write(sd, to: c)
        Thread.sleep(forTimeInterval: 1.1)
        try StateDictHDF5.write(sd, to: d)
        XCTAssertEqual(try Data(contentsOf: c), try Data(contentsOf: d))
    }
}
