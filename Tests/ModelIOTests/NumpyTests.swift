import Foundation
import XCTest
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
import Tensor

/// `.npy` / `.npz` reading and writing against files numpy 2.4.6 wrote
/// (`Fixtures/scripts/make_numpy_fixtures.py`). Values follow the script's formulas:
/// floats `(i - 5) * 0.25`, signed `i - 5`, unsigned `i * 3`, bool `i % 3 == 0`, in C order.
/// All are exact in every dtype, so comparisons are exact and order-sensitive.
final class NumpyTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/numpy")

    func fixture(_ name: String) -> URL { Self.fixtures.appendingPathComponent(name) }

    func floatsFormula(_ n: Int) -> [Float] { (0..<n).map { Float($0 - 5) * 0.25 } }
    func signedFormula(_ n: Int) -> [Int64] { (0..<n).map { Int64($0 - 5) } }
    func unsignedFormula(_ n: Int) -> [Int64] { (0..<n).map { Int64($0 * 3) } }

    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("npy-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    // MARK: - Reading what numpy writes

    func testEveryDtypeAsNumpyWritesIt() throws {
        let floatTypes: [(String, NumpyArray.DType)] = [("f2", .float16), ("f4", .float32), ("f8", .float64)]
        for (name, dtype) in floatTypes {
            for suffix in ["", "_be"] {
                let a = try NumpyArray.read(fixture("\(name)\(suffix).npy"))
                XCTAssertEqual(a.dtype, dtype, name + suffix)
                XCTAssertEqual(a.shape, [3, 4], name + suffix)
                XCTAssertEqual(try a.floats(), floatsFormula(12), name + suffix)
            }
        }
        let signedTypes: [(String, NumpyArray.DType)] = [("i1", .int8), ("i2", .int16), ("i4", .int32), ("i8", .int64),
                                                         ("i2_be", .int16), ("i4_be", .int32), ("i8_be", .int64)]
        for (name, dtype) in signedTypes {
            let a = try NumpyArray.read(fixture("\(name).npy"))
            XCTAssertEqual(a.dtype, dtype, name)
            XCTAssertEqual(a.shape, [3, 4], name)
            XCTAssertEqual(try a.int64s(), signedFormula(12), name)
            XCTAssertEqual(try a.floats(), signedFormula(12).map(Float.init), name)
        }
        let unsignedTypes: [(String, NumpyArray.DType)] = [("u1", .uint8), ("u2", .uint16), ("u4", .uint32),
                                                           ("u8", .uint64), ("u4_be", .uint32)]
        for (name, dtype) in unsignedTypes {
            let a = try NumpyArray.read(fixture("\(name).npy"))
            XCTAssertEqual(a.dtype, dtype, name)
            XCTAssertEqual(try a.int64s(), unsignedFormula(12), name)
        }
        let b = try NumpyArray.read(fixture("b1.npy"))
        XCTAssertEqual(b.dtype, .bool)
        XCTAssertEqual(try b.int64s(), (0..<12).map { $0 % 3 == 0 ? 1 : 0 })

        let extremes = try NumpyArray.read(fixture("i8_extremes.npy"))
        XCTAssertEqual(try extremes.int64s(), [Int64.min, -1, 0, 1, Int64.max])
    }

    func testFortranOrderIsTransposedToCOrder() throws {
        let f4 = try NumpyArray.read(fixture("f4_fortran.npy"))
        XCTAssertEqual(f4.shape, [2, 3, 4])
        XCTAssertEqual(try f4.floats(), floatsFormula(24))
        let i8 = try NumpyArray.read(fixture("i8_fortran.npy"))
        XCTAssertEqual(i8.shape, [3, 5])
        XCTAssertEqual(try i8.int64s(), signedFormula(15))
        let f8 = try NumpyArray.read(fixture("f8_fortran_be.npy")) // Fortran order and big-endian at once
        XCTAssertEqual(f8.shape, [4, 3])
        XCTAssertEqual(try f8.floats(), floatsFormula(12))
    }

    func testZeroDimensionalAndEmptyArrays() throws {
        let scalar = try NumpyArray.read(fixture("f4_scalar.npy"))
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(try scalar.floats(), [2.5])
        XCTAssertEqual(try scalar.tensor, Tensor(shape: [], data: [2.5]))
        let tracked = try NumpyArray.read(fixture("i8_scalar.npy"))
        XCTAssertEqual(tracked.shape, [])
        XCTAssertEqual(try tracked.int64s(), [7])
        let empty = try NumpyArray.read(fixture("f4_empty.npy"))
        XCTAssertEqual(empty.shape, [0])
        XCTAssertEqual(try empty.floats(), [])
        let empty2 = try NumpyArray.read(fixture("f4_empty_3x0.npy"))
        XCTAssertEqual(empty2.shape, [3, 0])
        XCTAssertEqual(empty2.count, 0)
    }

    func testUnicodeStrings() throws {
        XCTAssertEqual(try NumpyArray.read(fixture("string.npy")).stringValue, "héllo wörld ✓")
        XCTAssertEqual(try NumpyArray.read(fixture("string_be.npy")).stringValue, "big")
        let list = try NumpyArray.read(fixture("strings.npy"))
        XCTAssertEqual(list.shape, [4])
        XCTAssertEqual(list.strings(), ["cat", "dog", "", "bird"])
        XCTAssertNil(list.stringValue, "four strings are not one value")
        XCTAssertNil(try NumpyArray.read(fixture("f4_scalar.npy")).stringValue)
    }

    func testHeaderVersionsAndOtherWritersHeaders() throws {
        for name in ["v2.npy", "v3.npy"] {
            let a = try NumpyArray.read(fixture(name))
            XCTAssertEqual(a.shape, [3, 4], name)
            XCTAssertEqual(try a.floats(), floatsFormula(12), name)
        }
        // Double quotes, reordered keys, 2L longs, 16-byte alignment; '=f4' with trailing commas.
        for name in ["header_variants.npy", "header_native.npy"] {
            let a = try NumpyArray.read(fixture(name))
            XCTAssertEqual(a.shape, [2, 3], name)
            XCTAssertEqual(try a.floats(), floatsFormula(6), name)
        }
    }

    // MARK: - Writing exactly what numpy writes

    func testWriterReproducesNumpyBytes() throws {
        let names = ["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1", "i8_extremes",
                     "f4_scalar", "i8_scalar", "f4_empty", "f4_empty_3x0", "string", "strings"]
        for name in names {
            let url = fixture("\(name).npy")
            let original = try Data(contentsOf: url)
            XCTAssertEqual(NpyFormat.encode(try NumpyArray.read(url)), original, name)
        }
        // A big-endian or Fortran-order file is rewritten as numpy writes the same values natively.
        XCTAssertEqual(NpyFormat.encode(try NumpyArray.read(fixture("f4_be.npy"))),
                       try Data(contentsOf: fixture("f4.npy")))
        XCTAssertEqual(NpyFormat.encode(try NumpyArray.read(fixture("v3.npy"))),
                       try Data(contentsOf: fixture("f4.npy")))
    }

    // MARK: - npz

    func testNpzStoredCompressedAndStreamed() throws {
        for name in ["savez.npz", "savez_compressed.npz", "streamed.npz"] {
            let entries = try Npz.read(fixture(name))
            XCTAssertEqual(entries.map(\.key), ["layer1.0.conv1.weight", "layer1.0.bn1.num_batches_tracked",
                                                "a/b", "fc.weight", "meta"], name)
            let d = try Npz.readDictionary(fixture(name))
            XCTAssertEqual(d["layer1.0.conv1.weight"]?.shape, [2, 1, 3, 3])
            XCTAssertEqual(try d["layer1.0.conv1.weight"]?.floats(), floatsFormula(18), name)
            XCTAssertEqual(d["layer1.0.bn1.num_batches_tracked"]?.dtype, .int64)
            XCTAssertEqual(d["layer1.0.bn1.num_batches_tracked"]?.shape, [])
            XCTAssertEqual(try d["layer1.0.bn1.num_batches_tracked"]?.int64s(), [5])
            XCTAssertEqual(d["a/b"]?.dtype, .int32)
            XCTAssertEqual(try d["a/b"]?.int64s(), signedFormula(4))
            XCTAssertEqual(d["fc.weight"]?.shape, [3, 2])
            XCTAssertEqual(try d["fc.weight"]?.floats(), floatsFormula(6), "Fortran-order member")
            XCTAssertEqual(d["meta"]?.stringValue, "cifar10 teacher")
        }
        XCTAssertEqual(try Npz.read(fixture("positional.npz")).map(\.key), ["arr_0", "arr_1"])
        XCTAssertTrue(try Npz.read(fixture("empty.npz")).isEmpty)
    }

    // MARK: - Malformed input: one-line errors naming file, key and problem

    func assertError(_ url: URL, _ kind: ModelIOError.Kind, location: String? = nil, _ text: String,
                     npz: Bool = false, line: UInt = #line) {
        do {
            if npz { _ = try Npz.read(url) } else { _ = try NumpyArray.read(url) }
            XCTFail("\(url.lastPathComponent) was accepted", line: line)
        } catch let error as ModelIOError {
            XCTAssertEqual(error.kind, kind, "\(error)", line: line)
            XCTAssertEqual(error.file, url.path, line: line)
            XCTAssertEqual(error.location, location, "\(error)", line: line)
            XCTAssertTrue(error.message.contains(text), "'\(error.message)' lacks '\(text)'", line: line)
            XCTAssertFalse(error.description.contains("\n"), "not one line: \(error)", line: line)
        } catch {
            XCTFail("not a ModelIOError: \(error)", line: line)
        }
    }

    func testMalformedNpyFiles() {
        assertError(fixture("truncated.npy"), .malformed, "expected 4800 bytes of data for shape (40, 30) <f4, found 1200")
        assertError(fixture("shape_mismatch.npy"), .mismatch, "expected 16 bytes of data for shape (2, 2) <f4, found 24")
        assertError(fixture("truncated_header.npy"), .malformed, "truncated: expected a 118-byte header")
        assertError(fixture("unknown_dtype.npy"), .unsupported, "unknown dtype '<q4'")
        assertError(fixture("structured.npy"), .unsupported, "structured dtype [('x', '<f4'), ('y', '<i4')]")
        assertError(fixture("object.npy"), .unsupported, "'|O' holds pickled Python objects")
        assertError(fixture("complex.npy"), .unsupported, "complex dtype '<c8'")
        assertError(fixture("missing_key.npy"), .malformed, "expected header keys descr, fortran_order, shape, found descr, fortran_order")
        assertError(fixture("extra_key.npy"), .malformed, "found descr, fortran_order, shape, x")
        assertError(fixture("bad_literal.npy"), .malformed, "unexpected name 'Flase'")
        assertError(fixture("not_npy.npy"), .malformed, "not a .npy file")
        assertError(fixture("does_not_exist.npy"), .notFound, "no such file")
        assertError(Self.fixtures, .io, "found a directory")
    }

    func testMalformedNpzFiles() {
        assertError(fixture("bad_crc.npz"), .malformed, location: "layer1.0.conv1.weight", "bad CRC-32", npz: true)
        assertError(fixture("not_a_zip.npz"), .malformed, "found not a zip archive", npz: true)
        assertError(fixture("npy_named_npz.npz"), .malformed, "found a single .npy array", npz: true)
        assertError(fixture("non_npy_member.npz"), .malformed, location: "README.txt",
                    "member 'README.txt' is not a .npy array", npz: true)
        assertError(fixture("truncated_member.npz"), .malformed, location: "cut",
                    "expected 4800 bytes of data for shape (40, 30) <f4, found 16", npz: true)
        assertError(fixture("missing.npz"), .notFound, "no such file", npz: true)
    }

    /// A zip64 extra holding a small value (offset 0): valid, numpy reads it, and so do we
    /// (ZIPFoundation 0.9.20 listed no members).
    func testZip64ExtraWithASmallValue() throws {
        XCTAssertEqual(try Npz.readDictionary(fixture("zip64_offset_zero.npz"))["x"]?.floats(), [-1.25, -1.0])
    }

    /// Every truncation and many single-byte corruptions must throw a `ModelIOError`, never trap.
    func testDamagedFilesNeverTrap() throws {
        var generator = DamageGenerator(seed: 42)
        for (name, npz) in [("f8_fortran_be.npy", false), ("string.npy", false),
                            ("savez.npz", true), ("savez_compressed.npz", true), ("streamed.npz", true)] {
            let original = [UInt8](try Data(contentsOf: fixture(name)))
            // Every cut inside the first and last 100 bytes (headers, central directory), every
            // 13th elsewhere, and 60 flipped bytes: enough to reach every parser branch quickly.
            let cuts = (0..<original.count).filter { $0 < 100 || $0 > original.count - 100 || $0 % 13 == 0 }
            var variants: [[UInt8]] = cuts.map { Array(original.prefix($0)) }
            var refused = 0
            for _ in 0..<60 {
                var damaged = original
                damaged[Int(generator.next() % UInt64(damaged.count))] ^= UInt8(1 + generator.next() % 255)
                variants.append(damaged)
            }
            // Rewriting a file costs 1-2 ms on the project's disks; tmpfs makes ~1500 variants cheap.
            let shm = URL(fileURLWithPath: "/dev/shm")
            let directory = FileManager.default.isWritableFile(atPath: shm.path) ? shm : scratch!
            let url = directory.appendingPathComponent("bss-damaged-\(UUID().uuidString).npz")
            defer { try? FileManager.default.removeItem(at: url) }
            for bytes in variants {
                do {
                    if npz {
                        try Data(bytes).write(to: url)
                        _ = try Npz.read(url)
                    } else {
                        _ = try NpyFormat.decode(Data(bytes), file: name)
                    }
                } catch is ModelIOError {
                    refused += 1
                } catch {
                    XCTFail("\(name): not a ModelIOError: \(error)")
                }
            }
            // Every cut is refused; a flip may land in a field no reader checks (a timestamp).
            XCTAssertGreaterThanOrEqual(refused, cuts.count, name)
        }
    }

    func testConversionsRefuseWhatDoesNotFit() throws {
        XCTAssertThrowsError(try NumpyArray.read(fixture("f4.npy")).int64s(file: "w.npz", key: "x")) { error in
            XCTAssertEqual((error as? ModelIOError)?.description,
                           "w.npz: x: expected whole numbers, found -1.25 at element 0 of a <f4 array")
        }
        XCTAssertEqual(try NumpyArray(float64s: [3, -2, 1e15], shape: [3]).int64s(), [3, -2, 1_000_000_000_000_000])
        XCTAssertThrowsError(try NumpyArray(string: "text").floats()) { error in
            XCTAssertEqual((error as? ModelIOError)?.kind, .unsupported)
        }
        let huge = NumpyArray(dtype: .uint64, shape: [1], bytes: [UInt8](repeating: 0xFF, count: 8))
        XCTAssertThrowsError(try huge.int64s()) { error in
            XCTAssertEqual((error as? ModelIOError)?.message, "expected integers that fit Int64, found 18446744073709551615 at element 0")
        }
    }

    // MARK: - Round trips through our writer

    func sampleArrays() -> [(key: String, array: NumpyArray)] {
        [
            ("conv.weight", NumpyArray(Tensor(shape: [2, 1, 2, 2], data: (0..<8).map { Float($0) * 0.5 - 1 }))),
            ("bn.num_batches_tracked", NumpyArray(int64s: [12], shape: [])),
            ("labels", NumpyArray(int32s: [0, 9, -3], shape: [3])),
            ("q", NumpyArray(int8s: [-128, 0, 127], shape: [3])),
            ("pixels", NumpyArray(uint8s: [0, 128, 255, 7], shape: [2, 2])),
            ("mask", NumpyArray(bools: [true, false], shape: [2])),
            ("precise", NumpyArray(float64s: [.pi, -1e-300], shape: [2])),
            ("empty", NumpyArray(float32s: [], shape: [0, 4])),
            ("meta/name", NumpyArray(string: "résumé ✓ 𝄞")),
            ("blank", NumpyArray(string: "")),
        ]
    }

    func testNpyRoundTrip() throws {
        for (key, array) in sampleArrays() {
            let url = scratch.appendingPathComponent(key.replacingOccurrences(of: "/", with: "_") + ".npy")
            try array.write(to: url)
            XCTAssertEqual(try NumpyArray.read(url), array, key)
        }
        XCTAssertEqual(NumpyArray(string: "résumé ✓ 𝄞").stringValue, "résumé ✓ 𝄞")
        XCTAssertEqual(NumpyArray(string: "").dtype, .unicode(length: 1), "numpy's '' is <U1")
        XCTAssertEqual(NumpyArray(string: "").stringValue, "")
    }

    func testNpzRoundTripStoredAndCompressed() throws {
        for compressed in [false, true] {
            let url = scratch.appendingPathComponent("round-\(compressed).npz")
            try Npz.write(sampleArrays(), to: url, compressed: compressed)
            let back = try Npz.read(url)
            XCTAssertEqual(back.map(\.key), sampleArrays().map(\.key))
            XCTAssertEqual(back.map(\.array), sampleArrays().map(\.array))
            // A fixed timestamp makes the bytes depend on the arrays only.
            let first = try Data(contentsOf: url)
            try Npz.write(sampleArrays(), to: url, compressed: compressed)
            XCTAssertEqual(try Data(contentsOf: url), first)
        }
        let dict = scratch.appendingPathComponent("dict.npz")
        try Npz.write(["b": NumpyArray(int64s: [1], shape: [1]), "a": NumpyArray(int64s: [2], shape: [1])], to: dict)
        XCTAssertEqual(try Npz.read(dict).map(\.key), ["a", "b"])
    }

    func testNpzWriteRefusesDuplicateKeys() {
        let url = scratch.appendingPathComponent("dup.npz")
        XCTAssertThrowsError(try Npz.write([("k", NumpyArray(int64s: [1], shape: [])),
                                            ("k", NumpyArray(int64s: [2], shape: []))], to: url)) { error in
            XCTAssertEqual((error as? ModelIOError)?.location, "k")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    // MARK: - AtomicFile

    func testAtomicFileLeavesTargetIntactOnFailure() throws {
        let url = scratch.appendingPathComponent("model.npz")
        try Data("old".utf8).write(to: url)
        struct Boom: Error {}
        XCTAssertThrowsError(try AtomicFile.write(to: url) { temporary in
            try Data("half".utf8).write(to: temporary)
            throw Boom()
        }) { error in
            XCTAssertEqual((error as? ModelIOError)?.kind, .io)
        }
        XCTAssertEqual(try Data(contentsOf: url), Data("old".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path), ["model.npz"],
                       "the temporary file must be removed")

        try AtomicFile.write(to: url) { temporary in
            XCTAssertTrue(temporary.lastPathComponent.hasPrefix(".model.npz.tmp-"))
            XCTAssertEqual(temporary.deletingLastPathComponent().path, scratch.standardizedFileURL.path)
            try Data("new".utf8).write(to: temporary)
        }
        XCTAssertEqual(try Data(contentsOf: url), Data("new".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path), ["model.npz"])

        // Missing folders are created; a file where a folder should be is an error.
        try NumpyArray(int64s: [1], shape: []).write(to: scratch.appendingPathComponent("new/dir/x.npy"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("new/dir/x.npy").path))
        let nowhere = url.appendingPathComponent("x.npy")
        XCTAssertThrowsError(try NumpyArray(int64s: [1], shape: []).write(to: nowhere)) { error in
            XCTAssertEqual((error as? ModelIOError)?.kind, .io)
            XCTAssertTrue("\(error)".contains("is a file, not a directory"), "\(error)")
        }
    }

    // MARK: - numpy reads what we write (only where python3 + numpy exist)

    func testNumpyLoadsOurFiles() throws {
        let check = """
        import sys, numpy as np
        for path in sys.argv[1:]:
            if path.endswith('.npy'):
                items = [('-', np.load(path))]
            else:
                z = np.load(path)  # allow_pickle stays False: strings must not need pickle
                items = [(k, z[k]) for k in z.files]
            for k, a in items:
                print(k, a.dtype.str, a.shape, a.ravel().tolist())
        """
        let npzStored = scratch.appendingPathComponent("ours.npz")
        let npzDeflated = scratch.appendingPathComponent("ours-compressed.npz")
        let npy = scratch.appendingPathComponent("ours.npy")
        try Npz.write(sampleArrays(), to: npzStored)
        try Npz.write(sampleArrays(), to: npzDeflated, compressed: true)
        try NumpyArray(Tensor(shape: [2, 2], data: [1, 2, 3, 4])).write(to: npy)

        guard let output = try runPythonWithNumpy(check, arguments: [npzStored.path, npzDeflated.path, npy.path]) else {
            throw XCTSkip("python3 with numpy is not available")
        }
        let expected = """
        conv.weight <f4 (2, 1, 2, 2) [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
        bn.num_batches_tracked <i8 () [12]
        labels <i4 (3,) [0, 9, -3]
        q |i1 (3,) [-128, 0, 127]
        pixels |u1 (2, 2) [0, 128, 255, 7]
        mask |b1 (2,) [True, False]
        precise <f8 (2,) [3.141592653589793, -1e-300]
        empty <f4 (0, 4) []
        meta/name <U10 () ['résumé ✓ 𝄞']
        blank <U1 () ['']
        """
        XCTAssertEqual(output, expected + "\n" + expected + "\n- <f4 (2, 2) [1.0, 2.0, 3.0, 4.0]\n")
    }

    /// Runs `script` with python3; nil when python3 or numpy is missing.
    func runPythonWithNumpy(_ script: String, arguments: [String]) throws -> String? {
        func run(_ args: [String]) -> (status: Int32, output: String)? {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3"] + args
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            do { try process.run() } catch { return nil }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        guard let probe = run(["-c", "import numpy"]), probe.status == 0 else { return nil }
        guard let result = run(["-c", script] + arguments) else { return nil }
        XCTAssertEqual(result.status, 0, "python failed on our files")
        return result.output
    }
}

/// A small seeded generator so the damage test is reproducible.
private struct DamageGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
