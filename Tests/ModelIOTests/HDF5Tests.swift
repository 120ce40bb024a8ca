import Foundation
import XCTest
@testable import HDF5
@testable import ModelCore
@testable import ModelIO

/// The HDF5 layer against fixtures written by h5py (Fixtures/scripts/make_hdf5_fixtures.py)
/// and against itself (write -> read round trips on disk and in memory). Expected values
/// are exactly representable, so comparisons are exact and order-sensitive.
final class HDF5Tests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hdf5")

    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("hdf5-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    func fixture(_ name: String) throws -> HDF5File {
        try HDF5File(reading: Self.fixtures.appendingPathComponent(name))
    }

    /// The ModelIOError thrown by `body`, failing the test if it throws nothing or something else.
    func modelIOError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> ModelIOError? {
        do {
            _ = try body()
            XCTFail("expected a ModelIOError", file: file, line: line)
        } catch let error as ModelIOError {
            return error
        } catch {
            XCTFail("expected a ModelIOError, got \(error)", file: file, line: line)
        }
        return nil
    }

    // MARK: - Reading h5py fixtures: datasets

    func testReadsFloatDatasetsOfEveryWidthAndByteOrder() throws {
        let f = try fixture("datasets.h5")
        let f16 = try f.readFloats("f16")
        XCTAssertEqual(f16.shape, [2, 3])
        XCTAssertEqual(f16.values, [0, 0.5, -1.5, 2.25, 1024, -0.125])
        let f32 = try f.readFloats("/f32")
        XCTAssertEqual(f32.shape, [2, 2, 3])
        XCTAssertEqual(f32.values, (0..<12).map { Float($0) * 0.25 - 1 })
        XCTAssertEqual(try f.readFloats("f64").values, [Float(1.0 / 3.0), -2.5, Float(1e10)])
        XCTAssertEqual(try f.readFloats("f32_be").values, [1, -2, 3.5, 1e-3])
        XCTAssertEqual(try f.datasetInfo("f16").dtype, .float16)
        XCTAssertEqual(try f.datasetInfo("f32_be").dtype, .float32)
        XCTAssertEqual(try f.datasetInfo("f64").dtype, .float64)
    }

    func testReadsIntegerDatasets() throws {
        let f = try fixture("datasets.h5")
        XCTAssertEqual(try f.readInts("i8").values, [-128, 0, 127])
        XCTAssertEqual(try f.readInts("i16").values, [-32768, 1, 32767])
        XCTAssertEqual(try f.readInts("i32").values, [Int64(Int32.min), 0, Int64(Int32.max)])
        XCTAssertEqual(try f.readInts("i32_be").values, [-7, 65536])
        XCTAssertEqual(try f.readInts("i64").values, [-(1 << 40), 7, 1 << 62])
        XCTAssertEqual(try f.readInts("u8").values, [0, 200, 255])
        XCTAssertEqual(try f.readInts("u16").values, [65535])
        XCTAssertEqual(try f.readFloats("u8").values, [0, 200, 255])
        XCTAssertEqual(try f.datasetInfo("u8").dtype, .uint8)
        XCTAssertEqual(try f.datasetInfo("i32_be").dtype, .int32)
        XCTAssertEqual(modelIOError { try f.readInts("u64_big") }?.kind, .unsupported)
        XCTAssertEqual(modelIOError { try f.readInts("f32") }?.kind, .mismatch)
        XCTAssertEqual(modelIOError { try f.readFloats("strings") }?.kind, .mismatch)
    }

    func testReadsBoolAndKerasBFloat16() throws {
        let f = try fixture("datasets.h5")
        XCTAssertEqual(try f.datasetInfo("bool").dtype, .bool)
        XCTAssertEqual(try f.readInts("bool").values, [1, 0, 1, 1])
        XCTAssertEqual(try f.readFloats("bool").values, [1, 0, 1, 1])
        XCTAssertEqual(try f.datasetInfo("bf16").dtype, .bfloat16)
        XCTAssertEqual(try f.readFloats("bf16").values, [1, -2, 0.5, 3.140625])
    }

    func testReadsScalarEmptyAndChunkedDatasets() throws {
        let f = try fixture("datasets.h5")
        let scalar = try f.readFloats("scalar_f32")
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.values, [3.5])
        XCTAssertEqual(try f.readInts("scalar_i64").values, [123])
        XCTAssertEqual(try f.readInts("scalar_i32").values, [42])
        let empty = try f.readFloats("empty")
        XCTAssertEqual(empty.shape, [0, 3])
        XCTAssertEqual(empty.values, [])
        let info = try f.datasetInfo("gzip")
        XCTAssertEqual(info.chunks, [16, 5])
        XCTAssertEqual(info.filters, ["shuffle", "gzip"])
        let gzip = try f.readFloats("gzip")
        XCTAssertEqual(gzip.shape, [64, 5])
        XCTAssertEqual(gzip.values, (0..<320).map { Float($0) / 8 })
        XCTAssertNil(try f.datasetInfo("f32").chunks)
    }

    func testListsGroupsAndChecksPathsComponentByComponent() throws {
        let f = try fixture("datasets.h5")
        let root = try f.children()
        XCTAssertEqual(root.map(\.name), ["a", "bf16", "bool", "empty", "f16", "f32", "f32_be", "f64", "gzip",
                                          "i16", "i32", "i32_be", "i64", "i8", "scalar_f32", "scalar_i32",
                                          "scalar_i64", "strings", "u16", "u64_big", "u8"])
        XCTAssertEqual(root.first, HDF5Child(name: "a", kind: .group))
        XCTAssertEqual(try f.children(of: "a"), [HDF5Child(name: "b", kind: .group),
                                                 HDF5Child(name: "empty_group", kind: .group)])
        XCTAssertEqual(try f.descendants(of: "a").map(\.name), ["b", "b/c", "b/c/deep", "empty_group"])
        XCTAssertEqual(try f.children(of: "a/empty_group"), [])
        XCTAssertEqual(f.kind(of: "/"), .group)
        XCTAssertEqual(f.kind(of: "a/b/c/deep"), .dataset)
        XCTAssertTrue(f.exists("/a/b/c"))
        XCTAssertFalse(f.exists("a/nope"))
        XCTAssertFalse(f.exists("nope/deeper/still"))   // H5Lexists alone would fail here
        XCTAssertFalse(f.exists("f32/inside_a_dataset"))
        XCTAssertEqual(modelIOError { try f.children(of: "f32") }?.kind, .mismatch)
        XCTAssertEqual(modelIOError { try f.readFloats("a/b") }?.kind, .mismatch)
    }

    func testReadsFileWithUserBlock() throws {
        XCTAssertEqual(try fixture("userblock.h5").readFloats("x").values, [1.5, 2.5])
    }

    // MARK: - Reading h5py fixtures: attributes

    func testReadsStringAttributesInEveryForm() throws {
        let f = try fixture("attributes.h5")
        XCTAssertEqual(try f.stringAttribute("keras_version"), "3.15.1")                // vlen UTF-8
        XCTAssertEqual(try f.stringAttribute("model_config", at: "/"), #"{"class_name": "Sequential"}"#)  // vlen ASCII
        XCTAssertEqual(try f.stringAttribute("utf8_text"), "Grüße ✓")
        XCTAssertEqual(try f.stringAttribute("fixed_scalar"), "abc")                   // fixed NULLPAD
        XCTAssertEqual(try f.stringArrayAttribute("layer_names"), ["dense", "dense_1", "batch_normalization"])
        XCTAssertEqual(try f.stringArrayAttribute("weight_names"), ["dense/kernel:0", "dense/bias:0"])
        XCTAssertEqual(try f.stringArrayAttribute("utf8_list"), ["α", "beta", ""])
        XCTAssertEqual(try f.stringArrayAttribute("nullterm"), ["abc", "defghij"])
        XCTAssertEqual(try f.stringArrayAttribute("keras_version"), ["3.15.1"])
    }

    func testReadsEmptyAndChunkedStringLists() throws {
        let f = try fixture("attributes.h5")
        XCTAssertEqual(try f.stringArrayAttribute("empty_list"), [])
        XCTAssertEqual(try f.stringArrayAttribute("weight_names", at: "model_weights/flatten"), [])
        XCTAssertEqual(try f.stringArrayAttribute("names"), ["n0", "n1", "n2", "n3", "name4"])
        XCTAssertEqual(modelIOError { try f.stringAttribute("layer_names") }?.kind, .mismatch)
        XCTAssertEqual(modelIOError { try f.stringArrayAttribute("epsilon") }?.kind, .mismatch)
    }

    func testReadsNumericAttributes() throws {
        let f = try fixture("attributes.h5")
        XCTAssertEqual(try f.doubleAttribute("epsilon"), 1e-3)
        XCTAssertEqual(try f.doubleAttribute("momentum"), Double(Float(0.99)))
        XCTAssertEqual(try f.intAttribute("count"), 7)
        XCTAssertEqual(try f.doubleAttribute("count"), 7)
        XCTAssertEqual(try f.intArrayAttribute("dims"), [3, 4])
        XCTAssertEqual(try f.doubleArrayAttribute("ratios"), [0.5, 0.25])
        XCTAssertEqual(try f.intAttribute("flag"), 1)
        XCTAssertEqual(try f.doubleArrayAttribute("empty_list"), [])
        XCTAssertEqual(modelIOError { try f.intAttribute("epsilon") }?.kind, .mismatch)
        XCTAssertEqual(modelIOError { try f.doubleAttribute("keras_version") }?.kind, .mismatch)
        XCTAssertEqual(modelIOError { try f.doubleAttribute("dims") }?.kind, .mismatch)
    }

    func testReadsAttributesOfGroupsAndDatasetsInAKerasTree() throws {
        let f = try fixture("attributes.h5")
        XCTAssertEqual(try f.stringArrayAttribute("layer_names", at: "model_weights"), ["flatten", "dense"])
        XCTAssertEqual(try f.stringAttribute("backend", at: "model_weights"), "tensorflow")
        let weightNames = try f.stringArrayAttribute("weight_names", at: "model_weights/dense")
        XCTAssertEqual(weightNames, ["dense/kernel:0", "dense/bias:0"])
        let kernel = try f.readFloats("model_weights/dense/" + weightNames[0])
        XCTAssertEqual(kernel.shape, [2, 3])
        XCTAssertEqual(kernel.values, [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(try f.stringAttribute("note", at: "model_weights/dense/dense/kernel:0"), "on a dataset")
        XCTAssertEqual(try f.stringAttribute("name", at: "layers/batch_normalization/vars"), "bn")
        XCTAssertEqual(try f.attributeNames(at: "model_weights"), ["backend", "layer_names"])
        XCTAssertTrue(f.hasAttribute("layer_names"))
        XCTAssertFalse(f.hasAttribute("layer_names", at: "nope"))
    }

    // MARK: - Errors

    func testBadFilesGiveOneLineErrors() throws {
        let notHDF5 = modelIOError { try fixture("not_hdf5.h5") }
        XCTAssertEqual(notHDF5?.kind, .malformed)
        XCTAssertTrue(notHDF5?.description.hasSuffix("not_hdf5.h5: not an HDF5 file (no HDF5 signature)") ?? false,
                      notHDF5?.description ?? "")
        let truncated = modelIOError { try fixture("truncated.h5") }
        XCTAssertEqual(truncated?.kind, .malformed)
        XCTAssertTrue(truncated?.description.contains("truncated.h5: truncated or corrupt HDF5 file") ?? false,
                      truncated?.description ?? "")
        XCTAssertFalse(truncated?.description.contains("\n") ?? true)
        XCTAssertEqual(modelIOError { try fixture("no_such_file.h5") }?.kind, .notFound)
        XCTAssertEqual(modelIOError { try HDF5File(reading: Self.fixtures) }?.kind, .io)

        let empty = scratch.appendingPathComponent("empty.h5")
        try Data().write(to: empty)
        XCTAssertTrue(modelIOError { try HDF5File(reading: empty) }?.message.hasPrefix("not an HDF5 file") ?? false)

        let bytes = try Data(contentsOf: Self.fixtures.appendingPathComponent("datasets.h5"))
        XCTAssertTrue(modelIOError { try HDF5File(image: Data("junk".utf8), name: "m.keras:model.weights.h5") }?
            .description.hasPrefix("m.keras:model.weights.h5: not an HDF5 file") ?? false)
        let cut = modelIOError { try HDF5File(image: bytes.prefix(bytes.count / 3), name: "cut.h5") }
        XCTAssertTrue(cut?.message.hasPrefix("truncated or corrupt HDF5 file") ?? false, cut?.description ?? "")
    }

    /// Cutting a file anywhere gives the one-line error, never a crash (HDF5 checks the stored
    /// end-of-file against the real size before reading any metadata).
    func testEveryTruncationIsAnError() throws {
        for name in ["datasets.h5", "attributes.h5"] {
            let bytes = try Data(contentsOf: Self.fixtures.appendingPathComponent(name))
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
                let error = modelIOError { try HDF5File(image: bytes.prefix(cut), name: name) }
                XCTAssertEqual(error?.kind, .malformed, "\(name) cut at \(cut)")
                XCTAssertTrue(error.map { $0.message.hasPrefix("not an HDF5 file") || $0.message.hasPrefix("truncated or corrupt") } ?? false,
                              error?.description ?? "")
            }
        }
    }

    func testMissingPathsNameFileAndPath() throws {
        let f = try fixture("attributes.h5")
        let dataset = modelIOError { try f.readFloats("model_weights/dense/dense/missing:0") }
        XCTAssertEqual(dataset?.kind, .notFound)
        XCTAssertEqual(dataset?.location, "model_weights/dense/dense/missing:0")
        XCTAssertTrue(dataset?.description.contains("attributes.h5: model_weights/dense/dense/missing:0: no such dataset") ?? false,
                      dataset?.description ?? "")
        let attribute = modelIOError { try f.stringArrayAttribute("layer_names", at: "model_weights/dense") }
        XCTAssertEqual(attribute?.kind, .notFound)
        XCTAssertTrue(attribute?.description.hasSuffix("model_weights/dense: no attribute 'layer_names'") ?? false,
                      attribute?.description ?? "")
        XCTAssertEqual(modelIOError { try f.stringAttribute("x", at: "no/such/group") }?.kind, .notFound)
        XCTAssertEqual(modelIOError { try f.children(of: "no/such/group") }?.kind, .notFound)
    }

    /// HDF5 must not dump its error stack on stderr, on the first thread to use it or any other.
    func testFailuresPrintNothingOnStderr() throws {
        let output = try capturingStderr {
            _ = try? fixture("truncated.h5")
            let f = try? fixture("datasets.h5")
            _ = try? f?.readFloats("strings")
            _ = try? f?.readFloats("nope/x")
            let done = DispatchSemaphore(value: 0)
            Thread {
                _ = try? self.fixture("truncated.h5")
                _ = try? HDF5File(image: Data([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0]), name: "x")
                done.signal()
            }.start()
            done.wait()
        }
        XCTAssertEqual(output, "")
    }

    func capturingStderr(_ body: () throws -> Void) throws -> String {
        let log = scratch.appendingPathComponent("stderr.txt")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        fflush(stderr)
        let saved = dup(2)
        dup2(handle.fileDescriptor, 2)
        defer { fflush(stderr); dup2(saved, 2); close(saved); try? handle.close() }
        try body()
        fflush(stderr)
        return try String(contentsOf: log, encoding: .utf8)
    }

    // MARK: - Round trips

    func testDatasetRoundTripsForEveryWritableType() throws {
        for inMemory in [false, true] {
            let url = scratch.appendingPathComponent("rt-\(inMemory).h5")
            let w = inMemory ? try HDF5File(creatingInMemory: "rt.h5") : try HDF5File(creating: url)
            let floats: [Float] = [0, 0.5, -1.5, 2.25, 1024, -0.125]
            for dtype in [HDF5DType.float16, .float32, .float64] {
                try w.write(floats: floats, shape: [2, 3], to: "floats/\(dtype)", as: dtype)
            }
            let ints: [HDF5DType: [Int64]] = [
                .int8: [-128, 0, 127], .int16: [-32768, 5, 32767], .int32: [Int64(Int32.min), 0, Int64(Int32.max)],
                .int64: [Int64.min, 0, Int64.max], .uint8: [0, 128, 255], .uint16: [0, 1, 65535],
                .uint32: [0, 1, Int64(UInt32.max)], .uint64: [0, 1, Int64.max], .bool: [1, 0, 1],
            ]
            for (dtype, values) in ints { try w.write(ints: values, shape: [3], to: "ints/\(dtype)", as: dtype) }
            try w.write(floats: [7.25], shape: [], to: "scalar_f")
            try w.write(ints: [9], shape: [], to: "scalar_i", layout: .chunked())   // scalars stay contiguous
            try w.write(floats: [], shape: [0, 4], to: "empty")
            let big = (0..<1000).map { Float($0) * 0.5 }
            try w.write(floats: big, shape: [100, 10], to: "gz/default", layout: .chunked())
            try w.write(floats: big, shape: [100, 10], to: "gz/explicit",
                        layout: .chunked(chunks: [30, 10], shuffle: false, gzipLevel: 9))
            try w.write(floats: big, shape: [100, 10], to: "chunk_only", layout: .chunked(chunks: [100, 1], shuffle: false, gzipLevel: nil))

            let r: HDF5File
            if inMemory {
                r = try HDF5File(image: try w.imageData(), name: "rt.h5")
            } else {
                try w.close()
                r = try HDF5File(reading: url)
            }
            for dtype in [HDF5DType.float16, .float32, .float64] {
                XCTAssertEqual(try r.readFloats("floats/\(dtype)").values, floats)
                XCTAssertEqual(try r.datasetInfo("floats/\(dtype)"), HDF5DatasetInfo(shape: [2, 3], dtype: dtype, chunks: nil, filters: []))
            }
            for (dtype, values) in ints {
                XCTAssertEqual(try r.readInts("ints/\(dtype)").values, values, "\(dtype)")
                XCTAssertEqual(try r.datasetInfo("ints/\(dtype)").dtype, dtype)
            }
            XCTAssertEqual(try r.readFloats("scalar_f").shape, [])
            XCTAssertEqual(try r.readFloats("scalar_f").values, [7.25])
            XCTAssertEqual(try r.readInts("scalar_i").values, [9])
            XCTAssertEqual(try r.readFloats("empty").shape, [0, 4])
            XCTAssertEqual(try r.readFloats("gz/default").values, big)
            XCTAssertEqual(try r.datasetInfo("gz/default").chunks, [100, 10])
            XCTAssertEqual(try r.datasetInfo("gz/default").filters, ["shuffle", "gzip"])
            XCTAssertEqual(try r.readFloats("gz/explicit").values, big)
            XCTAssertEqual(try r.datasetInfo("gz/explicit").chunks, [30, 10])
            XCTAssertEqual(try r.datasetInfo("gz/explicit").filters, ["gzip"])
            XCTAssertEqual(try r.datasetInfo("chunk_only").filters, [])
            XCTAssertEqual(try r.children(of: "gz").map(\.name), ["default", "explicit"])
        }
    }

    func testAttributeRoundTripsInEveryForm() throws {
        let w = try HDF5File(creatingInMemory: "attrs.h5")
        try w.createGroup("model_weights/dense")
        try w.write(floats: [1], shape: [1], to: "model_weights/dense/dense/bias:0")
        let forms: [HDF5StringForm] = [.variableUTF8, .variableASCII, .fixedASCII]
        for (i, form) in forms.enumerated() {
            try w.setAttribute("s\(i)", string: "Grüße ✓ \(i)", form: form)
            try w.setAttribute("a\(i)", strings: ["dense", "dense_1", "", "batch_normalization"], at: "model_weights", form: form)
        }
        try w.setAttribute("empty", strings: [], at: "model_weights/dense")
        try w.setAttribute("note", string: "on a dataset", at: "model_weights/dense/dense/bias:0")
        try w.setAttribute("eps", double: 1e-3, at: "model_weights/dense")
        try w.setAttribute("ratios", doubles: [0.5, -2], at: "model_weights/dense")
        try w.setAttribute("step", int: -42)
        try w.setAttribute("dims", ints: [3, 4, 5])
        try w.setAttribute("step", int: 43)   // replaces, even with the same name

        let r = try HDF5File(image: try w.imageData(), name: "attrs.h5")
        for i in forms.indices {
            XCTAssertEqual(try r.stringAttribute("s\(i)"), "Grüße ✓ \(i)")
            XCTAssertEqual(try r.stringArrayAttribute("a\(i)", at: "model_weights"), ["dense", "dense_1", "", "batch_normalization"])
        }
        XCTAssertEqual(try r.stringArrayAttribute("empty", at: "model_weights/dense"), [])
        XCTAssertEqual(try r.doubleArrayAttribute("empty", at: "model_weights/dense"), [])
        XCTAssertEqual(try r.stringAttribute("note", at: "model_weights/dense/dense/bias:0"), "on a dataset")
        XCTAssertEqual(try r.doubleAttribute("eps", at: "model_weights/dense"), 1e-3)
        XCTAssertEqual(try r.doubleArrayAttribute("ratios", at: "model_weights/dense"), [0.5, -2])
        XCTAssertEqual(try r.intAttribute("step"), 43)
        XCTAssertEqual(try r.intArrayAttribute("dims"), [3, 4, 5])
        XCTAssertEqual(try r.attributeNames(), ["dims", "s0", "s1", "s2", "step"])
    }

    func testLongStringListsAreChunkedLikeKeras() throws {
        let w = try HDF5File(creatingInMemory: "long.h5")
        let names = (0..<5000).map { String(format: "layer_with_long_name_%05d", $0) }   // 26 bytes each
        try w.setAttribute("layer_names", strings: names)
        XCTAssertFalse(w.hasAttribute("layer_names"))
        XCTAssertTrue(w.hasAttribute("layer_names0"))
        XCTAssertTrue(w.hasAttribute("layer_names2"))
        XCTAssertFalse(w.hasAttribute("layer_names3"))   // 130000 bytes -> 3 chunks of <= 64512
        XCTAssertEqual(try w.stringArrayAttribute("layer_names"), names)
        // Rewriting a short list removes the stale chunks.
        try w.setAttribute("layer_names", strings: ["a"])
        XCTAssertEqual(try w.attributeNames(), ["layer_names"])
        XCTAssertEqual(HDF5File.splitForHeaderLimit(["a", "b", "c", "d", "e"], itemBytes: 64512 / 2).map(\.count), [2, 2, 1])
    }

    func testTwoImagesWithTheSameLabelStayApart() throws {
        func image(_ value: Float) throws -> Data {
            let w = try HDF5File(creatingInMemory: "model.weights.h5")
            try w.write(floats: [value], shape: [1], to: "v")
            return try w.imageData()
        }
        let a = try HDF5File(image: try image(1), name: "model.weights.h5")
        let b = try HDF5File(image: try image(2), name: "model.weights.h5")
        XCTAssertEqual(try a.readFloats("v").values, [1])
        XCTAssertEqual(try b.readFloats("v").values, [2])
    }

    func testImageBytesAreAnOrdinaryFile() throws {
        let w = try HDF5File(creatingInMemory: "mem.h5")
        try w.write(floats: [1, 2], shape: [2], to: "layers/dense/vars/0")
        let url = scratch.appendingPathComponent("from-memory.h5")
        try w.imageData().write(to: url)
        try w.close()
        XCTAssertEqual(try HDF5File(reading: url).readFloats("layers/dense/vars/0").values, [1, 2])
    }

    // MARK: - Writer errors and lifetime

    func testWriterRefusesBadRequests() throws {
        let w = try HDF5File(creatingInMemory: "bad.h5")
        try w.write(floats: [1], shape: [1], to: "x")
        XCTAssertEqual(modelIOError { try w.write(floats: [1], shape: [1], to: "x") }?.kind, .mismatch)
        XCTAssertEqual(modelIOError { try w.write(floats: [1, 2], shape: [3], to: "y") }?.kind, .mismatch)
        XCTAssertEqual(modelIOError { try w.write(floats: [1], shape: [1], to: "y", as: .int8) }?.kind, .unsupported)
        XCTAssertEqual(modelIOError { try w.write(ints: [300], shape: [1], to: "y", as: .int8) }?.kind, .mismatch)
        XCTAssertEqual(modelIOError { try w.write(ints: [2], shape: [1], to: "y", as: .bool) }?.kind, .mismatch)
        XCTAssertEqual(modelIOError { try w.write(floats: [1, 2], shape: [2], to: "y", layout: .chunked(chunks: [3])) }?.kind, .mismatch)
        XCTAssertEqual(modelIOError { try w.write(floats: [1, 2], shape: [2], to: "y", layout: .chunked(gzipLevel: 10)) }?.kind, .mismatch)
        XCTAssertEqual(modelIOError { try w.write(floats: [1], shape: [1], to: "x/under_a_dataset") }?.kind, .mismatch)
        XCTAssertEqual(modelIOError { try w.createGroup("x/y/z") }?.message, "'x' is a dataset, not a group")
        XCTAssertEqual(modelIOError { try w.createGroup("x") }?.kind, .mismatch)
        XCTAssertEqual(modelIOError { try w.setAttribute("a", string: "v", at: "missing") }?.kind, .notFound)
        XCTAssertFalse(w.exists("y"))
        let r = try fixture("datasets.h5")
        XCTAssertEqual(modelIOError { try r.write(floats: [1], shape: [1], to: "new") }?.kind, .io)
        XCTAssertEqual(modelIOError { try r.setAttribute("a", int: 1) }?.kind, .io)
        XCTAssertEqual(modelIOError { try HDF5File(creating: scratch.appendingPathComponent("no/such/dir.h5")) }?.kind, .io)
    }

    func testFilesCloseExplicitlyAndOnDeinit() throws {
        let url = scratch.appendingPathComponent("lifetime.h5")
        do {
            let w = try HDF5File(creating: url)
            try w.write(floats: [1], shape: [1], to: "x")
        }   // deinit closes: recreating would fail if the file were still open
        let w = try HDF5File(creating: url)
        try w.write(floats: [2], shape: [1], to: "x")
        try w.close()
        try w.close()   // idempotent
        XCTAssertTrue(w.isClosed)
        XCTAssertEqual(modelIOError { try w.readFloats("x") }?.kind, .io)
        XCTAssertFalse(w.exists("x"))
        XCTAssertEqual(try HDF5File(reading: url).readFloats("x").values, [2])
    }

    func testConcurrentReadersAreSerialisedSafely() throws {
        let f = try fixture("datasets.h5")
        let failures = NSLock()
        var wrong = 0
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let values = (try? (i.isMultiple(of: 2) ? f : self.fixture("datasets.h5")).readFloats("gzip").values) ?? []
            if values != (0..<320).map({ Float($0) / 8 }) { failures.lock(); wrong += 1; failures.unlock() }
        }
        XCTAssertEqual(wrong, 0)
    }

    // MARK: - Interoperability

    /// h5py reads what we write (skipped when python3 + h5py are not installed).
    func testH5pyReadsOurFiles() throws {
        let url = scratch.appendingPathComponent("for-h5py.h5")
        let w = try HDF5File(creating: url)
        try w.write(floats: [1, 2, 3, 4, 5, 6], shape: [2, 3], to: "model_weights/dense/dense/kernel:0",
                    layout: .chunked(chunks: [1, 3]))
        try w.write(floats: [0.5, -1], shape: [2], to: "half", as: .float16)
        try w.write(ints: [1, 0], shape: [2], to: "flags", as: .bool)
        try w.write(ints: [5], shape: [], to: "step", as: .int32)
        try w.setAttribute("layer_names", strings: ["dense", "dense_1"], at: "model_weights")
        try w.setAttribute("weight_names", strings: [], at: "model_weights/dense")
        try w.setAttribute("keras_version", string: "3.15.1")
        try w.setAttribute("ascii", string: "abc", form: .variableASCII)
        try w.close()
        let script = """
        import json, sys, h5py
        f = h5py.File(sys.argv[1], "r")
        k = f["model_weights/dense/dense/kernel:0"]
        print(json.dumps({
          "kernel": k[()].tolist(), "chunks": list(k.chunks), "compression": k.compression, "shuffle": k.shuffle,
          "half": [str(f["half"].dtype)] + f["half"][()].tolist(), "flags": [str(f["flags"].dtype)] + f["flags"][()].tolist(),
          "step": [str(f["step"].dtype), int(f["step"][()]), f["step"].shape == ()],
          "layer_names": [n.decode() for n in f["model_weights"].attrs["layer_names"]],
          "weight_names": [str(f["model_weights/dense"].attrs["weight_names"].dtype), len(f["model_weights/dense"].attrs["weight_names"])],
          "keras_version": f.attrs["keras_version"],
          "ascii": [f.attrs["ascii"], f.attrs.get_id("ascii").get_type().get_cset() == h5py.h5t.CSET_ASCII]}))
        """
        let result: [String: Any]
        do {
            guard let output = try runPython(script, arguments: [url.path]),
                  let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else {
                throw XCTSkip("python3 with h5py is not available")
            }
            result = json
        }
        XCTAssertEqual(result["kernel"] as? [[Double]], [[1, 2, 3], [4, 5, 6]])
        XCTAssertEqual(result["chunks"] as? [Int], [1, 3])
        XCTAssertEqual(result["compression"] as? String, "gzip")
        XCTAssertEqual(result["shuffle"] as? Bool, true)
        XCTAssertEqual((result["half"] as? [Any])?.first as? String, "float16")
        XCTAssertEqual((result["half"] as? [Any])?.dropFirst().compactMap { $0 as? Double }, [0.5, -1])
        XCTAssertEqual((result["flags"] as? [Any])?.first as? String, "bool")
        XCTAssertEqual((result["step"] as? [Any])?.first as? String, "int32")
        XCTAssertEqual((result["step"] as? [Any])?.last as? Bool, true)
        XCTAssertEqual(result["layer_names"] as? [String], ["dense", "dense_1"])
        XCTAssertEqual((result["weight_names"] as? [Any])?.first as? String, "float64")
        XCTAssertEqual(result["keras_version"] as? String, "3.15.1")
        XCTAssertEqual((result["ascii"] as? [Any])?.first as? String, "abc")
        XCTAssertEqual((result["ascii"] as? [Any])?.last as? Bool, true)
    }

    /// Runs `script` with python3 when it can import h5py; nil when python3 or h5py is missing.
    func runPython(_ script: String, arguments: [String]) throws -> String? {
        // `env` finds python3 on PATH (pyenv shims included); a missing python3 exits 127.
        func run(_ args: [String]) throws -> (status: Int32, output: String, errors: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3"] + args
            let log = scratch.appendingPathComponent("python-stderr.txt")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let errors = try FileHandle(forWritingTo: log)
            defer { try? errors.close() }
            let out = Pipe()
            process.standardOutput = out
            process.standardError = errors
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self),
                    (try? String(contentsOf: log, encoding: .utf8)) ?? "")
        }
        guard try run(["-c", "import h5py"]).status == 0 else { return nil }
        let (status, output, errors) = try run(["-c", script] + arguments)
        XCTAssertEqual(status, 0, "h5py could not read our file: \(errors)")
        return output
    }
}
