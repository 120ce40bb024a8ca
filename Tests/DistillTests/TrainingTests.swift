import Boundary
import Distill
import Foundation
import ModelIO
import NN
import Tensor
import TestSupport
import XCTest

/// The training loop on the bundled digits: every method trains, the same seed gives the same
/// student bit for bit, and a run stopped after epoch 1 and resumed from its checkpoint ends
/// with exactly the student of the uninterrupted run.
final class TrainingTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("distill-train") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func sub(_ name: String) -> URL {
        let u = dir.appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// The bundled Keras teacher and the untrained Keras student, as a user would run them.
    func kerasConfig(_ d: URL, method: DistillMethod) -> RunConfig {
        var c = DistillFixtures.digitsConfig(d, method: method, epochs: 2, fraction: 0.5)
        c.teacher = fixture("digits/teacher-cnn.h5"); c.teacherArch = nil
        c.student = fixture("digits/student-mlp.h5"); c.studentArch = nil
        c.out = d.appendingPathComponent("student.h5").path
        c.batchSize = 32
        c.lr = 0.05
        return c
    }

    func testEveryMethodTrainsTheKerasStudentOnDigits() throws {
        var finalAccuracy: [DistillMethod: Double] = [:]
        for method in [DistillMethod.original, .hinton, .bss] {   // feature methods: FeatureMethodTests
            let run = try DistillRun.prepare(kerasConfig(sub(method.rawValue), method: method))
            let before = try run.distiller.evaluate()!.accuracy
            try run.distiller.run()
            let h = run.distiller.history
            XCTAssertEqual(h.map(\.epoch), [1, 2])
            for m in h {
                XCTAssertTrue([m.loss, m.ce, m.kd, m.kdBSS, m.trainAccuracy].allSatisfy(\.isFinite), "\(method) \(m)")
                let n = run.distiller.train.count
                XCTAssertEqual(n, 674, accuracy: 5, "half of the 1347 rows, stratified")
                XCTAssertEqual(m.samples, n % 32 == 1 ? n - 1 : n, "\(method): every row once (a final batch of 1 dropped)")
                switch method {
                case .original:
                    XCTAssertEqual(m.kd, 0); XCTAssertEqual(m.bssAttempted, 0); XCTAssertEqual(m.loss, m.ce, accuracy: 1e-6)
                case .hinton:
                    XCTAssertGreaterThan(m.kd, 0); XCTAssertEqual(m.bssAttempted, 0)
                    XCTAssertEqual(m.loss, m.ce + m.alpha * m.kd, accuracy: 1e-4)
                case .bss where m.beta == 0:
                    XCTAssertEqual(m.epoch, 2, "beta is 0 from 75% of the epochs on")
                    XCTAssertEqual(m.bssAttempted, 0, "no BSS are generated when beta is 0")
                case .bss:
                    XCTAssertGreaterThan(m.kd, 0)
                    XCTAssertGreaterThan(m.bssAttempted, 0)
                    XCTAssertGreaterThan(m.bssAccepted, 0)
                    XCTAssertEqual(m.bssUsed, m.bssAccepted, "paper mode: accepted BSS only")
                    XCTAssertGreaterThan(m.kdBSS, 0)
                default:
                    XCTFail("\(method) is tested in FeatureMethodTests")
                }
            }
            XCTAssertLessThan(h[1].ce, h[0].ce, "\(method): cross-entropy falls")
            finalAccuracy[method] = h[1].valAccuracy!
            XCTAssertGreaterThan(h[1].valAccuracy!, before + 0.3, "\(method): the untrained student (\(before)) learns")
        }
        print("digits, 2 epochs on 50% of the training split, val accuracy:", finalAccuracy)
    }

    /// A student with BatchNorm and dropout, fresh from a spec, with augmentation: everything a
    /// checkpoint has to carry (weights, running statistics, momentum, three random streams).
    func stochasticConfig(_ d: URL) throws -> RunConfig {
        let spec = d.appendingPathComponent("student.json")
        try Data("""
            {"format": "bss-architecture", "version": 1, "name": "mlp-bn-dropout", "input_shape": [64], "classes": 10,
             "layers": [{"name": "fc1", "type": "linear", "in_features": 64, "out_features": 32},
                        {"name": "bn1", "type": "batchnorm", "channels": 32},
                        {"name": "relu1", "type": "relu"},
                        {"name": "drop", "type": "dropout", "p": 0.2},
                        {"name": "fc2", "type": "linear", "in_features": 32, "out_features": 10}]}
            """.utf8).write(to: spec)
        var c = DistillFixtures.digitsConfig(d, method: .bss, epochs: 3, fraction: 0.2)
        c.student = spec.path
        c.studentArch = nil
        c.augmentCrop = 1
        c.augmentFlip = true
        c.bssMode = .official
        return c
    }

    func testSameSeedSameStudentAndResumeIsExact() throws {
        let full = try DistillRun.prepare(try stochasticConfig(sub("full")))
        try full.distiller.run()

        let again = try DistillRun.prepare(try stochasticConfig(sub("again")))
        try again.distiller.run()
        XCTAssertTrue(DistillFixtures.weights(full.distiller.student).elementsEqual(DistillFixtures.weights(again.distiller.student), by: ==),
                      "same seed, same threads: the same student bit for bit")

        // Interrupted after epoch 1 (the loop stops), then resumed from the directory.
        let d = sub("interrupted")
        let first = try DistillRun.prepare(try stochasticConfig(d))
        try first.writeConfig()
        try first.distiller.run(stopAfter: 1, onEpoch: { _ in try first.endEpoch(createdBy: "test") })
        XCTAssertEqual(first.distiller.completedEpochs, 1)
        let (resumed, checkpoint) = try DistillRun.resume(from: d.path)
        XCTAssertEqual(checkpoint.state.completedEpochs, 1)
        XCTAssertEqual(resumed.distiller.completedEpochs, 1)
        try resumed.distiller.run(onEpoch: { _ in try resumed.endEpoch(createdBy: "test") })
        XCTAssertEqual(resumed.distiller.completedEpochs, 3)
        let a = DistillFixtures.weights(full.distiller.student), b = DistillFixtures.weights(resumed.distiller.student)
        XCTAssertEqual(a.map(\.0), b.map(\.0))
        for (x, y) in zip(a, b) { XCTAssertEqual(x.1, y.1, "\(x.0): resumed run differs from the uninterrupted one") }
        func strip(_ h: [EpochMetrics]) -> [EpochMetrics] { h.map { var m = $0; m.seconds = 0; return m } }
        XCTAssertEqual(strip(resumed.distiller.history), strip(full.distiller.history))
        let bn = full.distiller.student.batchNormLayers()[0].layer, bn2 = resumed.distiller.student.batchNormLayers()[0].layer
        XCTAssertEqual(bn.numBatchesTracked, bn2.numBatchesTracked)
        XCTAssertGreaterThan(bn.numBatchesTracked, 3 * 4, "clean and BSS forwards both count")

        // What the run left next to its output.
        let art = resumed.artifacts
        for f in [art.config, art.metrics, art.curves, art.checkpoint] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: f.path), f.path)
        }
        XCTAssertEqual(try MetricsLog.read(art.metrics).map(\.epoch), [1, 2, 3])
        let meta = try Npz.readDictionary(art.checkpoint)["meta"]!.stringValue!
        XCTAssertTrue(meta.contains("\"role\":\"student\""), meta)
        XCTAssertTrue(meta.contains("\"format\":\"bss-distill-checkpoint\""), meta)
        let svg = try String(contentsOf: art.curves, encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.contains("KD on BSS") && svg.contains("val accuracy"))

        // A different seed gives a different student.
        var other = try stochasticConfig(sub("other"))
        other.seed = 8
        let o = try DistillRun.prepare(other)
        try o.distiller.run()
        XCTAssertFalse(DistillFixtures.weights(o.distiller.student).elementsEqual(a, by: ==))
    }

    /// A convolutional student (per-worker weight-gradient partials, BatchNorm) trained twice in
    /// one process gives the same student and metrics bit for bit, under the kernel in force.
    func testConvolutionalStudentEpochIsRepeatableInProcess() throws {
        func config(_ d: URL) throws -> RunConfig {
            let spec = d.appendingPathComponent("student.json")
            try Data("""
                {"format": "bss-architecture", "version": 1, "name": "small-conv", "input_shape": [1, 8, 8], "classes": 10,
                 "layers": [{"name": "conv1", "type": "conv2d", "in_channels": 1, "out_channels": 6, "kernel": [3, 3], "padding": [1, 1, 1, 1], "bias": false},
                            {"name": "bn1", "type": "batchnorm", "channels": 6},
                            {"name": "relu1", "type": "relu"},
                            {"name": "conv2", "type": "conv2d", "in_channels": 6, "out_channels": 8, "kernel": [3, 3], "stride": [2, 2]},
                            {"name": "relu2", "type": "relu"},
                            {"name": "pool", "type": "global_avgpool"},
                            {"name": "fc", "type": "linear", "in_features": 8, "out_features": 10}]}
                """.utf8).write(to: spec)
            var c = DistillFixtures.digitsConfig(d, method: .bss, epochs: 2, fraction: 0.1)
            c.student = spec.path
            c.studentArch = nil
            return c
        }
        let a = try DistillRun.prepare(try config(sub("conv-a")))
        try a.distiller.run()
        let b = try DistillRun.prepare(try config(sub("conv-b")))
        try b.distiller.run()
        let wa = DistillFixtures.weights(a.distiller.student), wb = DistillFixtures.weights(b.distiller.student)
        XCTAssertEqual(wa.map(\.0), wb.map(\.0))
        for (x, y) in zip(wa, wb) { XCTAssertEqual(x.1, y.1, "\(x.0) differs between two runs in one process") }
        func strip(_ h: [EpochMetrics]) -> [EpochMetrics] { h.map { var m = $0; m.seconds = 0; return m } }
        XCTAssertEqual(strip(a.distiller.history), strip(b.distiller.history))
        XCTAssertGreaterThan(a.distiller.history[0].bssAccepted, 0)
    }

    func testResumeRefusesChangedInputs() throws {
        let d = sub("changed")
        let data = d.appendingPathComponent("train.npz")
        try FileManager.default.copyItem(atPath: DistillFixtures.train, toPath: data.path)
        var c = DistillFixtures.digitsConfig(d, method: .hinton, epochs: 2, fraction: 0.1)
        c.data = data.path
        let run = try DistillRun.prepare(c)
        try run.distiller.run(stopAfter: 1, onEpoch: { _ in try run.endEpoch(createdBy: "test") })
        var entries = try Npz.read(data)
        entries[0].array = NumpyArray(try entries[0].array.tensor().reshaped(entries[0].array.shape).negatedForTest())
        try Npz.write(entries, to: data)
        XCTAssertThrowsError(try DistillRun.resume(from: d.path)) { e in
            XCTAssertTrue("\(e)".hasPrefix(data.path + ": the data file changed since"), "\(e)")
        }
    }

    func testCheckpointOfAnotherKindIsRefused() throws {
        let bogus = dir.appendingPathComponent("x.checkpoint.npz")
        try Npz.write([("meta", NumpyArray(string: "{}"))], to: bogus)
        XCTAssertThrowsError(try DistillRun.resume(from: dir.path)) { e in
            XCTAssertTrue("\(e)".contains("not a bss distillation checkpoint"), "\(e)")
        }
        XCTAssertThrowsError(try DistillRun.resume(from: sub("empty").path)) { e in
            XCTAssertTrue("\(e)".contains("nothing to resume"), "\(e)")
        }
    }
}

extension Tensor {
    /// Every element negated (a different data set of the same shape).
    func negatedForTest() -> Tensor { Tensor(shape: shape, data: data.map { -$0 }) }
}
