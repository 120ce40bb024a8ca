import Distill
import Foundation
import ModelIO
import NN
import Tensor
import TestSupport
import XCTest

/// The feature methods end to end on the bundled digits (the Keras teacher CNN and a small CNN
/// student from a spec): each trains, a run stopped after epoch 1 and resumed from its
/// checkpoint ends with exactly the uninterrupted run's student (and FitNets regressors), and
/// the student is exported. Also: pair resolution, the presets' default taps, config keys and
/// the one-line errors for pairs that do not fit.
final class FeatureMethodTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("distill-features") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func sub(_ name: String) -> URL {
        let u = dir.appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// Teacher nodes (Keras names): relu1 [16,8,8], relu2 [16,8,8], relu3 [32,4,4].
    /// Student nodes: relu1 [16,8,8], relu2 [32,4,4].
    static let studentSpec = """
        {"format": "bss-architecture", "version": 1, "name": "digits-student-cnn", "input_shape": [1, 8, 8], "classes": 10,
         "layers": [{"name": "conv1", "type": "conv2d", "in_channels": 1, "out_channels": 16, "kernel": [3, 3], "padding": [1, 1, 1, 1], "bias": false},
                    {"name": "bn1", "type": "batchnorm", "channels": 16},
                    {"name": "relu1", "type": "relu"},
                    {"name": "conv2", "type": "conv2d", "in_channels": 16, "out_channels": 32, "kernel": [3, 3], "stride": [2, 2], "padding": [1, 1, 1, 1], "bias": false},
                    {"name": "bn2", "type": "batchnorm", "channels": 32},
                    {"name": "relu2", "type": "relu"},
                    {"name": "pool", "type": "global_avgpool"},
                    {"name": "fc", "type": "linear", "in_features": 32, "out_features": 10}]}
        """

    static let pairs: [DistillMethod: String] = [
        .fitnet: "relu3:relu1", .at: "relu2:relu1,relu3:relu2", .fsp: "relu1:relu1,relu3:relu2", .bssFSP: "relu1:relu1,relu3:relu2",
    ]

    func config(_ d: URL, method: DistillMethod, epochs: Int = 2) throws -> RunConfig {
        let spec = d.appendingPathComponent("student.json")
        try Data(Self.studentSpec.utf8).write(to: spec)
        var c = DistillFixtures.digitsConfig(d, method: method, epochs: epochs, fraction: 0.15)
        c.teacher = fixture("digits/teacher-cnn.h5"); c.teacherArch = nil
        c.student = spec.path; c.studentArch = nil
        c.batchSize = 32
        c.lr = 0.05
        if let p = Self.pairs[method] { try c.set("feature_pairs", .string(p), source: "test") }
        return c
    }

    func testEachMethodTrainsResumesExactlyAndExports() throws {
        for method in [DistillMethod.fitnet, .at, .fsp, .bssFSP] {
            let name = method.rawValue.replacingOccurrences(of: "+", with: "-")
            let full = try DistillRun.prepare(try config(sub(name + "-full"), method: method))
            try full.distiller.run()
            let h = full.distiller.history
            let kind = method.featureTerm!
            for m in h {
                if !method.usesKD { XCTAssertEqual(m.alpha, 0, "\(method): no KD term") }
                let v = try XCTUnwrap(m.features[kind.rawValue], "\(method): \(kind) logged")
                XCTAssertTrue(v.isFinite && v > 0, "\(method): \(v)")
                let w = Double(full.config.features.weight(of: kind))
                if !method.usesBSS {
                    XCTAssertEqual(m.loss, m.ce + m.alpha * m.kd + w * v, accuracy: 1e-3 * max(1, m.loss), "\(method): loss = CE + w·term")
                }
            }
            // Two short epochs on 15% of the digits: the loss falls (accuracy needs longer runs).
            XCTAssertLessThan(h[1].loss, h[0].loss, "\(method): the loss falls")
            if method == .bssFSP { XCTAssertGreaterThan(h[0].bssAccepted, 0, "bss+fsp generates BSS") }

            // Interrupted after epoch 1 and resumed: the same student (and regressors) bit for bit.
            let d = sub(name + "-resumed")
            let first = try DistillRun.prepare(try config(d, method: method))
            try first.writeConfig()
            try first.distiller.run(stopAfter: 1, onEpoch: { _ in try first.endEpoch(createdBy: "test") })
            let (resumed, _) = try DistillRun.resume(from: d.path)
            try resumed.distiller.run(onEpoch: { _ in try resumed.endEpoch(createdBy: "test") })
            let a = DistillFixtures.weights(full.distiller.student), b = DistillFixtures.weights(resumed.distiller.student)
            XCTAssertEqual(a.map(\.0), b.map(\.0))
            for (x, y) in zip(a, b) { XCTAssertEqual(x.1, y.1, "\(method) \(x.0): resumed run differs") }
            let fa = full.distiller.step.features!.state, fb = resumed.distiller.step.features!.state
            XCTAssertEqual(fa.keys.sorted(), fb.keys.sorted())
            for k in fa.keys { XCTAssertEqual(fa[k]!.data, fb[k]!.data, "\(method) regressor \(k)") }
            if method == .fitnet {
                XCTAssertEqual(fa.keys.sorted(), ["fitnet.0.bn.bias", "fitnet.0.bn.num_batches_tracked", "fitnet.0.bn.running_mean",
                                                  "fitnet.0.bn.running_var", "fitnet.0.bn.weight", "fitnet.0.conv.bias", "fitnet.0.conv.weight"])
                XCTAssertEqual(fa["fitnet.0.conv.weight"]!.shape, [32, 16, 3, 3], "student 8x8 -> teacher 4x4: 3x3 stride 2")
            }
            func strip(_ h: [EpochMetrics]) -> [EpochMetrics] { h.map { var m = $0; m.seconds = 0; return m } }
            XCTAssertEqual(strip(resumed.distiller.history), strip(h), "\(method): same metrics")

            // Export: the student only (no regressor keys).
            let report = try resumed.export()
            XCTAssertFalse(report.files.isEmpty)
            let saved = try Npz.readDictionary(resumed.artifacts.output)
            XCTAssertTrue(saved.keys.contains("conv1.weight") && !saved.keys.contains { $0.contains("fitnet") }, "\(saved.keys.sorted())")
            // The resolved config names the pairs and reads back equal.
            let yaml = try String(contentsOf: resumed.artifacts.config, encoding: .utf8)
            let back = try RunConfig.parse(yaml: yaml, source: "config")
            XCTAssertEqual(back.features, full.config.features)
            XCTAssertEqual(back.method, method)
        }
    }

    func testCombinedTermsFromTheConfig() throws {
        var c = try config(sub("combo"), method: .hinton, epochs: 1)
        try c.set("feature_losses", .list([.string("at=500@relu2:relu1;relu3:relu2"), .string("fsp")]), source: "test")
        try c.set("feature_pairs", .string("relu1:relu1,relu3:relu2"), source: "test")
        let terms = try c.featureTerms()
        XCTAssertEqual(terms.map(\.description), ["at=500@relu2:relu1;relu3:relu2", "fsp=50"])
        let run = try DistillRun.prepare(c)
        try run.distiller.run()
        let m = run.distiller.history[0]
        XCTAssertEqual(Set(m.features.keys), ["at", "fsp"])
        XCTAssertEqual(m.loss, m.ce + m.alpha * m.kd + 500 * m.features["at"]! + 50 * m.features["fsp"]!, accuracy: 1e-3 * m.loss)
        XCTAssertEqual(try RunConfig.parse(yaml: c.yaml, source: "config").features, c.features)

        // A kind twice is an error.
        c.method = .fsp
        XCTAssertThrowsError(try c.featureTerms()) { XCTAssertTrue("\($0)".contains("'fsp' is given twice"), "\($0)") }
    }

    func testPairsThatDoNotFitAreOneLineErrors() throws {
        func error(_ method: DistillMethod, _ pairs: String) throws -> String {
            var c = try config(sub("err-\(method.rawValue)"), method: method, epochs: 1)
            try c.set("feature_pairs", .string(pairs), source: "test")
            do { _ = try DistillRun.prepare(c); return "no error" } catch { return "\(error)" }
        }
        var all: [String] = []
        var e = try error(.at, "relu9:relu1")
        XCTAssertTrue(e.contains("teacher-cnn.h5") && e.contains("no node 'relu9'") && e.contains("bss inspect"), e)
        all.append(e)
        e = try error(.fsp, "relu1:relu1,relu3:relu1")
        XCTAssertTrue(e.contains("fsp pair relu3:relu1") && e.contains("[32, 4, 4]") && e.contains("[16, 8, 8]") && e.contains("equal channel counts"), e)
        all.append(e)
        e = try error(.fitnet, "relu1:relu2")
        XCTAssertTrue(e.contains("teacher node 'relu1' gives [16, 8, 8], student node 'relu2' gives [32, 4, 4]") && e.contains("smaller"), e)
        all.append(e)
        e = try error(.at, "fc:fc")
        XCTAssertTrue(e.contains("[C, H, W]"), e)
        all.append(e)
        e = try error(.fsp, "relu1:relu1")
        XCTAssertTrue(e.contains("two or more pairs"), e)
        all.append(e)
        for e in all { XCTAssertFalse(e.contains("\n"), e) }
        // Pairs without a feature term would be ignored: an error instead.
        var plain = try config(sub("plain"), method: .hinton, epochs: 1)
        try plain.set("feature_pairs", .string("relu1:relu1"), source: "test")
        XCTAssertThrowsError(try DistillRun.prepare(plain)) { e in
            XCTAssertTrue("\(e)".contains("method 'hinton' has no feature term"), "\(e)")
        }
        // No pairs and no presets.
        var c = try config(sub("nopairs"), method: .at, epochs: 1)
        try c.set("feature_pairs", .null, source: "test")
        XCTAssertThrowsError(try DistillRun.prepare(c)) { e in
            XCTAssertTrue("\(e)".contains("not a preset with default taps") && "\(e)".contains("--feature-pairs"), "\(e)")
        }
        // Bad syntax names the key.
        XCTAssertThrowsError(try c.set("feature_pairs", .string("relu1"), source: "--feature-pairs")) { e in
            XCTAssertTrue("\(e)".contains("--feature-pairs") && "\(e)".contains("TEACHER_NODE:STUDENT_NODE"), "\(e)")
        }
        XCTAssertThrowsError(try c.set("feature_losses", .string("nst=3"), source: "cfg")) { e in
            XCTAssertTrue("\(e)".contains("fitnet, at or fsp"), "\(e)")
        }
    }

    func testPresetDefaultTapsFollowRepDistiller() throws {
        XCTAssertEqual(Presets.featureTaps(of: "repdistiller-resnet8"), ["relu", "layer1.0.relu2", "layer2.0.relu2", "layer3.0.relu2", "flatten"])
        XCTAssertEqual(Presets.featureTaps(of: "repdistiller-resnet32x4"), ["relu", "layer1.4.relu2", "layer2.4.relu2", "layer3.4.relu2", "flatten"])
        XCTAssertEqual(Presets.featureTaps(of: "heo2019-resnet26"), ["relu", "layer1.3.relu2", "layer2.3.relu2", "layer3.3.relu2", "pool"])
        XCTAssertEqual(Presets.featureTaps(of: "akamaster-resnet20"), ["relu", "layer1.2.relu2", "layer2.2.relu2", "layer3.2.relu2", "pool"])
        XCTAssertEqual(Presets.featureTaps(of: "repdistiller-wrn_40_2"), ["conv1", "block1.layer.5.add", "block2.layer.5.add", "block3.layer.5.add", "flatten"])
        XCTAssertEqual(Presets.featureTaps(of: "repdistiller-vgg8"), ["relu0", "relu1", "relu2", "relu3", "relu4", "pool4"])
        XCTAssertNil(Presets.featureTaps(of: "mlp:64-10"))

        // The paper's setups need no flags: resnet26 teacher, resnet8 student.
        let t = try Self.preset("heo2019-resnet26"), s = try Self.preset("heo2019-resnet8")
        var settings = FeatureSettings()
        let fitnet = try FeatureTaps.pairs(for: FeatureTermSpec(kind: .fitnet), settings: settings, teacher: t, student: s)
        XCTAssertEqual(fitnet.map(\.description), ["layer2.3.relu2:layer2.0.relu2"])
        let at = try FeatureTaps.pairs(for: FeatureTermSpec(kind: .at), settings: settings, teacher: t, student: s)
        XCTAssertEqual(at.map(\.description), ["layer1.3.relu2:layer1.0.relu2", "layer2.3.relu2:layer2.0.relu2", "layer3.3.relu2:layer3.0.relu2"])
        let fsp = try FeatureTaps.pairs(for: FeatureTermSpec(kind: .fsp), settings: settings, teacher: t, student: s)
        XCTAssertEqual(fsp.count, 4)
        XCTAssertEqual(fsp[0].description, "relu:relu")
        let objective = try FeatureObjective(specs: [FeatureTermSpec(kind: .fsp, weight: 50), FeatureTermSpec(kind: .at, weight: 1000),
                                                     FeatureTermSpec(kind: .fitnet, weight: 100)],
                                             settings: settings, teacher: t, student: s, seed: 1)
        XCTAssertEqual(objective.studentTaps.count, 4, "taps shared between terms")
        XCTAssertEqual(objective.trainableParameters.map(\.value.shape), [[32, 32, 1, 1], [32], [32], [32]])
        // Explicit pairs win over the defaults.
        settings.pairs = [FeaturePair(teacher: "relu", student: "relu")]
        XCTAssertEqual(try FeatureTaps.pairs(for: FeatureTermSpec(kind: .at), settings: settings, teacher: t, student: s).count, 1)
    }

    static func preset(_ name: String) throws -> Model {
        let spec = try Presets.spec(named: name)!
        return Model(graph: try GraphBuilder.build(spec, origin: name), format: .architectureOnly, architectureName: name, spec: spec)
    }
}
