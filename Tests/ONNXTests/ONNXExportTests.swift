import Foundation
import XCTest
import ModelIO
import NN
@testable import ONNX
import Tensor
import TestSupport

/// ONNX export (ONNXWriter): written models re-import with our reader and give the same logits
/// (always run); with python's onnx and onnxruntime present, the checker accepts them
/// (`full_check=True`) and onnxruntime reproduces our logits within 1e-5 absolute.
final class ONNXExportTests: XCTestCase {
    override class func setUp() {
        ONNXImport.register()
        ONNXWriter.register(producerVersion: "test")
    }

    /// A preset with PyTorch's initialisation and non-trivial BatchNorm statistics (fresh ones
    /// are the identity, which would hide a swapped mean and variance).
    func preset(_ arch: String, seed: UInt64 = 1) throws -> Model {
        let m = try ModelLoader.fresh(arch: arch)
        var g = SeededGenerator(seed: seed)
        initialiseLikePyTorch(m.graph, generator: &g)
        for (k, node) in m.graph.nodes.enumerated() {
            guard let bn = node.layer as? BatchNorm else { continue }
            let c = bn.channels, s = seed &* 1000 &+ UInt64(k) &* 4
            bn.weight.value = Tensor(shape: [c], data: GradientCheck.randomTensor([c], seed: s).data.map { 1 + 0.3 * $0 })
            bn.bias.value = GradientCheck.randomTensor([c], seed: s + 1)
            bn.runningMean.value = Tensor(shape: [c], data: GradientCheck.randomTensor([c], seed: s + 2).data.map { 0.2 * $0 })
            bn.runningVar.value = Tensor(shape: [c], data: GradientCheck.randomTensor([c], seed: s + 3).data.map { 0.5 + abs($0) })
        }
        return m
    }

    /// Exports `m`, re-imports the file and compares logits on a random batch; returns the file
    /// and the logits for the onnxruntime check.
    @discardableResult
    func roundTrip(_ m: Model, tolerance: Float = 1e-6, file: StaticString = #filePath, line: UInt = #line) throws -> (URL, Tensor, Tensor) {
        let dir = temporaryDirectory("onnx-export")
        let url = dir.appendingPathComponent("\(m.architectureName.replacingOccurrences(of: "/", with: "_")).onnx")
        let report = try ModelWriter.write(m, to: url)
        XCTAssertEqual(report.files.first?.path, url.relativePath, file: file, line: line)
        let x = GradientCheck.randomTensor([3] + m.graph.inputShape, seed: 7)
        let want = m.graph.forward(x, mode: .inference, keepForBackward: false)
        try onnxRuntimeAgrees(url, x: x, logits: want, file: file, line: line)
        let back = try ModelLoader.load(url.path)
        XCTAssertEqual(back.graph.inputShape, m.graph.inputShape, file: file, line: line)
        let got = back.graph.forward(x, mode: .inference, keepForBackward: false)
        XCTAssertEqual(got.shape, want.shape, file: file, line: line)
        let scale = max(want.data.map(abs).max() ?? 1, 1)
        XCTAssertLessThanOrEqual(maxAbsDiff(got.data, want.data), tolerance * scale, "\(m.architectureName) re-imported", file: file, line: line)
        print("bss re-import vs bss, \(url.lastPathComponent): max |Δ| = \(maxAbsDiff(got.data, want.data))")
        return (url, x, want)
    }

    func testHeo2019ResNet8RoundTripsBitIdentical() throws {
        let m = try preset("heo2019-resnet8")
        let (url, x, want) = try roundTrip(m, tolerance: 0)
        let back = try ModelLoader.load(url.path)
        XCTAssertEqual(back.graph.forward(x, mode: .inference, keepForBackward: false).data, want.data, "bit-identical")
        // BatchNorm stays a layer (not folded) with the same state-dict keys.
        XCTAssertEqual(back.graph.nodes.filter { $0.layer is BatchNorm }.count, m.graph.nodes.filter { $0.layer is BatchNorm }.count)
        XCTAssertNotNil(back.graph.index(of: "layer1.0.bn1"))
    }

    func testRepDistillerResNet8RoundTrips() throws { try roundTrip(try preset("repdistiller-resnet8")) }

    /// Grouped 1×1 convolutions and the channel shuffle (Reshape → Transpose → Reshape).
    func testShuffleNetV1RoundTrips() throws { try roundTrip(try preset("repdistiller-shufflev1")) }

    /// Depthwise convolutions, squeeze-and-excitation (a per-channel Mul), Hardswish, Hardsigmoid.
    func testMobileNetV3SmallRoundTrips() throws { try roundTrip(try preset("torchvision-mobilenet_v3_small@32")) }

    /// One model of each remaining preset family and block kind: akamaster's split option-A
    /// shortcut, pre-activation WRN, MobileNetV2 x0.5, ShuffleNetV2 (split + shuffle) and
    /// torchvision's EfficientNet-B0 (SiLU, SE) at 32×32. (repdistiller-vgg8 and
    /// torchvision-resnet18@32 pass too; left out for the suite's time.)
    func testOtherPresetFamiliesRoundTrip() throws {
        for arch in ["akamaster-resnet20", "repdistiller-wrn_16_1", "repdistiller-mobilenetv2",
                     "repdistiller-shufflev2", "torchvision-efficientnet_b0@32"] {
            try roundTrip(try preset(arch))
        }
    }

    /// The Keras digits teacher: NHWC flatten order (Transpose before Flatten), Keras BatchNorm.
    func testKerasDigitsTeacherRoundTrips() throws {
        let m = try ModelLoader.load(fixture("digits/teacher-cnn.keras"))
        let (url, _, _) = try roundTrip(m)
        let proto = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: url))
        XCTAssertEqual(proto.metadataProps.first { $0.key == "bss.source_input_layout" }?.value, "nhwc")
    }

    /// Keras' flatten order as the importer converts it: folded into Dense weights (plain
    /// `Flatten`), `Permute` + `Flatten` before a BatchNorm, and a channels-last Reshape to an
    /// image (`Permute`, `Reshape`, `Permute`) all write as standard ONNX and read back.
    func testKerasFlattenOrdersRoundTrip() throws {
        let m = try ModelLoader.load(fixture("keras/flatten-orders.keras"))
        let (url, _, _) = try roundTrip(m)
        let proto = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: url))
        let perms = proto.graph.node.filter { $0.opType == "Transpose" }.map { $0.attribute.first { $0.name == "perm" }?.ints ?? [] }
        XCTAssertEqual(Set(perms), [[0, 2, 3, 1], [0, 3, 1, 2]])
        let back = try ModelLoader.load(url.path)
        XCTAssertEqual(back.graph.nodes.filter { $0.layer is Permute }.count, 3, "bn_flat/nhwc, to_image/nhwc, to_image/nchw")
        XCTAssertEqual(m.graph.nodes.filter { $0.layer is Permute }.count, 3)
    }

    func testFileHasOpset17SymbolicBatchRawDataAndProvenance() throws {
        let m = try ModelLoader.load(fixture("zoo/heo2019-resnet8.npz"), arch: "heo2019-resnet8")
        let data = try ONNXWriter.serialize(m)
        let proto = try Onnx_ModelProto(serializedBytes: data)
        XCTAssertEqual(proto.producerName, "bss")
        XCTAssertEqual(proto.producerVersion, "test")
        XCTAssertEqual(proto.opsetImport.map(\.version), [17])
        XCTAssertEqual(proto.graph.input.first?.type.tensorType.shape.dim.first?.dimParam, "N")
        XCTAssertEqual(proto.graph.output.first?.type.tensorType.shape.dim.first?.dimParam, "N")
        XCTAssertEqual(proto.graph.input.first?.type.tensorType.shape.dim.dropFirst().map(\.dimValue), [3, 32, 32])
        let floats = proto.graph.initializer.filter { $0.dataType == 1 }
        XCTAssertFalse(floats.isEmpty)
        XCTAssertTrue(floats.allSatisfy { $0.floatData.isEmpty && $0.rawData.count == 4 * $0.dims.reduce(1, *) })
        XCTAssertTrue(proto.graph.initializer.contains { $0.name == "layer1.0.bn1.running_var" })
        XCTAssertEqual(proto.graph.node.filter { $0.opType == "BatchNormalization" }.count, 7)
        let meta = Dictionary(uniqueKeysWithValues: proto.metadataProps.map { ($0.key, $0.value) })
        XCTAssertEqual(meta["bss.source_sha256"]?.count, 64)
        XCTAssertEqual(meta["bss.architecture"], "heo2019-resnet8")
        XCTAssertNotNil(meta["bss.source_file"])
        XCTAssertNotNil(meta["bss.conversions"])
    }

    /// A layer ONNX cannot express: one line naming it, and no file (not even a temporary one).
    func testUnmappableLayerIsRefusedAndNothingWritten() throws {
        var spec = ArchitectureSpec(name: "odd", inputShape: [4], classes: 3, layers: [])
        var relu = LayerSpec(name: "thresholded", type: "relu_keras"); relu.threshold = 0.5
        var fc = LayerSpec(name: "fc", type: "linear"); fc.inFeatures = 4; fc.outFeatures = 3
        spec.layers = [relu, fc]
        let m = Model(graph: try GraphBuilder.build(spec, origin: "odd"), format: .architectureOnly, architectureName: "odd", spec: spec)
        let dir = temporaryDirectory("onnx-refuse")
        let url = dir.appendingPathComponent("odd.onnx")
        XCTAssertThrowsError(try ModelWriter.write(m, to: url)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("thresholded") && text.contains("no ONNX mapping"), text)
            XCTAssertFalse(text.contains("\n"), text)
        }
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [], [])
    }

    func testSpecOutAndTargetDoNotApply() throws {
        let m = try preset("heo2019-resnet8")
        let url = temporaryDirectory("onnx-flags").appendingPathComponent("m.onnx")
        XCTAssertThrowsError(try ModelWriter.write(m, to: url, specURL: url.deletingPathExtension().appendingPathExtension("json")))
        XCTAssertThrowsError(try ModelWriter.write(m, to: url, as: .keras))
    }

    /// A spec model with every exportable layer the importer also reads: grouped, dilated and
    /// depthwise convolutions with asymmetric padding, the activations, Keras rescaling and
    /// normalization, channel shuffle and slices, pools with ceil mode and padding, SE-style
    /// per-channel multiply, adaptive pooling that divides the input, dropout.
    func testEveryImportableLayerRoundTrips() throws {
        let layers = """
            [{"name": "c1", "type": "conv2d", "in_channels": 4, "out_channels": 8, "kernel": 3, "padding": 2, "dilation": 2, "groups": 2},
             {"name": "b1", "type": "batchnorm", "channels": 8},
             {"name": "a1", "type": "relu6"},
             {"name": "c2", "type": "conv2d", "in_channels": 8, "out_channels": 8, "kernel": 3, "stride": 2, "padding": [1, 0, 1, 0], "groups": 8, "bias": false},
             {"name": "a2", "type": "leaky_relu", "negative_slope": 0.2},
             {"name": "r1", "type": "rescaling", "scale": [1, 2, 3, 4, 0.5, 0.25, -1, 1.5], "offset": 0.1},
             {"name": "n1", "type": "normalization", "channels": 8},
             {"name": "sh", "type": "channel_shuffle", "groups": 2},
             {"name": "s1", "type": "slice", "start": 0, "end": 4, "inputs": ["sh"]},
             {"name": "s2", "type": "slice", "start": 4, "end": 8, "inputs": ["sh"]},
             {"name": "e1", "type": "elu", "alpha": 0.7, "inputs": ["s1"]},
             {"name": "h1", "type": "hardswish", "inputs": ["s2"]},
             {"name": "cat", "type": "concat", "inputs": ["e1", "h1"]},
             {"name": "g1", "type": "gelu"},
             {"name": "si", "type": "silu"},
             {"name": "mp", "type": "maxpool2d", "kernel": 3, "stride": 2, "padding": 1, "ceil_mode": true},
             {"name": "zp", "type": "zeropad2d", "padding": [1, 0, 0, 1]},
             {"name": "ap", "type": "avgpool2d", "kernel": 2, "stride": 1, "padding": 1, "count_include_pad": false},
             {"name": "gap", "type": "global_avgpool"},
             {"name": "fc1", "type": "linear", "in_features": 8, "out_features": 8},
             {"name": "hs", "type": "hardsigmoid_torch"},
             {"name": "se", "type": "multiply", "inputs": ["ap", "hs"]},
             {"name": "res", "type": "add", "inputs": ["se", "ap"]},
             {"name": "rk", "type": "relu_keras", "max_value": 4},
             {"name": "hk", "type": "hardsigmoid_keras2"},
             {"name": "d2", "type": "dropout2d", "p": 0.3},
             {"name": "aap", "type": "adaptive_avgpool2d", "output_size": 3},
             {"name": "t", "type": "tanh"},
             {"name": "fl", "type": "flatten"},
             {"name": "dr", "type": "dropout", "p": 0.5},
             {"name": "fc2", "type": "linear", "in_features": 72, "out_features": 5},
             {"name": "sg", "type": "sigmoid"}]
            """
        let m = try specModel(layers, input: [4, 12, 12], classes: 5)
        let (url, _, _) = try roundTrip(m)
        let back = try ModelLoader.load(url.path)
        let kinds = Set(back.graph.nodes.map(\.layer.kind))
        for k in ["ChannelShuffle", "ChannelSlice", "Multiply", "GELU", "Conv2D", "BatchNorm"] {
            XCTAssertTrue(kinds.contains(k), "\(k) not in \(kinds.sorted())")
        }
    }

    /// SELU, the tanh GELU, LayerNorm over channels, nearest and bilinear upsampling, Keras-order
    /// flatten, reshape, checked against onnxruntime (ONNXOps3Tests reads these forms back).
    func testExportOnlyLayersMatchOnnxRuntime() throws {
        let layers = """
            [{"name": "c1", "type": "conv2d", "in_channels": 3, "out_channels": 6, "kernel": 3, "padding": 1},
             {"name": "a1", "type": "selu"},
             {"name": "ln", "type": "layernorm", "channels": 6, "eps": 0.001},
             {"name": "up", "type": "upsample2d", "scale_factor": 2, "mode": "nearest"},
             {"name": "g", "type": "gelu", "approximate": "tanh"},
             {"name": "mp", "type": "maxpool2d", "kernel": 4},
             {"name": "ub", "type": "upsample2d", "scale_factor": [2, 1], "mode": "bilinear"},
             {"name": "rs", "type": "reshape", "shape": [6, 4, -1]},
             {"name": "fl", "type": "flatten", "order": "nhwc"},
             {"name": "fc", "type": "linear", "in_features": 48, "out_features": 4}]
            """
        let m = try specModel(layers, input: [3, 4, 4], classes: 4)
        let url = temporaryDirectory("onnx-export-only").appendingPathComponent("m.onnx")
        try ModelWriter.write(m, to: url)
        let x = GradientCheck.randomTensor([3, 3, 4, 4], seed: 3)
        try onnxRuntimeAgrees(url, x: x, logits: m.graph.forward(x, mode: .inference, keepForBackward: false), file: #filePath, line: #line)
    }

    /// Keras' Reshape (channels-last element order) as the importer builds it: Permute,
    /// Reshape, Permute back; then a channels-last flatten (Permute + Flatten).
    func testKerasReshapeMatchesOnnxRuntime() throws {
        let g = Graph(inputShape: [3, 4, 2])
        try g.add("r1/nhwc", Permute(dims: [1, 2, 0]))
        try g.add("r1", Reshape(shape: [2, -1, 6]))
        try g.add("r1/nchw", Permute(dims: [2, 0, 1]))
        try g.add("r2/nhwc", Permute(dims: [1, 2, 0]))
        try g.add("r2", Flatten())
        try g.add("fc", Linear(inFeatures: 24, outFeatures: 3))
        var gen = SeededGenerator(seed: 2)
        initialiseLikePyTorch(g, generator: &gen)
        let m = Model(graph: g, format: .kerasH5, architectureName: "keras-reshape", inputLayout: .nhwc)
        let url = temporaryDirectory("onnx-keras-reshape").appendingPathComponent("m.onnx")
        try ModelWriter.write(m, to: url)
        let x = GradientCheck.randomTensor([2, 3, 4, 2], seed: 4)
        try onnxRuntimeAgrees(url, x: x, logits: g.forward(x, mode: .inference, keepForBackward: false), file: #filePath, line: #line)
    }

    func specModel(_ layers: String, input: [Int], classes: Int) throws -> Model {
        let json = "{\"name\": \"all\", \"input_shape\": \(input), \"classes\": \(classes), \"layers\": \(layers)}"
        let spec = try JSONDecoder().decode(ArchitectureSpec.self, from: Data(json.utf8))
        let m = Model(graph: try GraphBuilder.build(spec, origin: "all"), format: .architectureOnly, architectureName: "all", spec: spec)
        var g = SeededGenerator(seed: 5)
        initialiseLikePyTorch(m.graph, generator: &g)
        for (k, node) in m.graph.nodes.enumerated() {
            for p in node.layer.parameters where p.name.contains("var") || p.name == "weight" && !(node.layer is Conv2D || node.layer is Linear) {
                p.value = Tensor(shape: p.value.shape, data: GradientCheck.randomTensor(p.value.shape, seed: UInt64(k)).data.map { 0.5 + abs($0) })
            }
            for p in node.layer.parameters where p.name.contains("mean") || p.name == "bias" && !(node.layer is Conv2D || node.layer is Linear) {
                p.value = GradientCheck.randomTensor(p.value.shape, seed: UInt64(k) + 100)
            }
        }
        return m
    }

    // MARK: onnx + onnxruntime

    /// `onnx.checker.check_model(full_check=True)` and onnxruntime's logits within 1e-5 absolute.
    func onnxRuntimeAgrees(_ url: URL, x: Tensor, logits: Tensor, file: StaticString, line: UInt) throws {
        let io = url.deletingPathExtension().appendingPathExtension("io.npz")
        try Npz.write(["x": NumpyArray(float32s: x.data, shape: x.shape), "logits": NumpyArray(float32s: logits.data, shape: logits.shape)], to: io)
        let script = """
            import sys
            try:
                import numpy as np, onnx, onnxruntime as ort
            except ImportError as e:
                print("SKIP", e); sys.exit(0)
            m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True)
            io = np.load(sys.argv[2])
            s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
            y = s.run(None, {"input": io["x"]})[0]
            print("DIFF", float(np.abs(y - io["logits"]).max()))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, url.path, io.path]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        do { try p.run() } catch { print("skipped the onnxruntime check: python3 is not available"); return }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if p.terminationStatus == 127 { print("skipped the onnxruntime check: python3 is not available"); return }
        if text.hasPrefix("SKIP") { print("skipped the onnxruntime check: python onnx/onnxruntime missing (\(text))"); return }
        XCTAssertEqual(p.terminationStatus, 0, "onnx checker / onnxruntime: \(errText.suffix(600))", file: file, line: line)
        guard let d = text.split(separator: "\n").first(where: { $0.hasPrefix("DIFF") }).flatMap({ Float($0.dropFirst(5)) }) else {
            XCTFail("no DIFF from python: \(text) \(errText.suffix(600))", file: file, line: line); return
        }
        print("onnxruntime vs bss, \(url.lastPathComponent): max |Δ| = \(d)")
        XCTAssertLessThanOrEqual(d, 1e-5, "onnxruntime logits of \(url.lastPathComponent)", file: file, line: line)
    }
}
