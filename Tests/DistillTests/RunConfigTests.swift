import Boundary
@testable import Distill
import Foundation
import ModelIO
import TestSupport
import XCTest

/// Run configs: the recipe defaults, YAML and JSON files, flag overrides, one-line errors for
/// unknown keys and bad values, and the resolved config reading back to itself.
final class RunConfigTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("distill-config") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func write(_ name: String, _ text: String) -> String {
        let url = dir.appendingPathComponent(name)
        try! Data(text.utf8).write(to: url)
        return url.path
    }

    func testDefaultsAreTheAuthorsCIFAR10Recipe() {
        let c = RunConfig()
        XCTAssertEqual(c.method, .bss)
        XCTAssertEqual(c.epochs, 80)
        XCTAssertEqual(c.batchSize, 256)
        XCTAssertEqual(c.lr, 0.1)
        XCTAssertEqual(c.lrMilestones, [0.5, 0.75])
        XCTAssertEqual(c.momentum, 0.9)
        XCTAssertEqual(c.weightDecay, 1e-4)
        XCTAssertEqual(c.temperature, 3)
        XCTAssertEqual(c.alpha, .schedule)
        XCTAssertEqual(c.beta, .schedule)
        XCTAssertEqual(c.bssPerBatch, 64)
        XCTAssertEqual(c.bssParameters, .paper)
        XCTAssertFalse(c.augments)
    }

    func testYAMLThenFlagsOverride() throws {
        let file = write("run.yaml", """
            # a comment
            method: hinton
            epochs: 12
            lr: 0.05
            weight_decay: 5e-4
            alpha: 0.7
            lr_milestones: [0.3, 0.6, 0.9]
            augment_flip: true
            bss_mode: official
            seed: 42
            """)
        let c = try RunConfig.resolve(file: file, overrides: [("--epochs", "epochs", .string("3")),
                                                              ("--beta", "beta", .string("schedule"))])
        XCTAssertEqual(c.method, .hinton)
        XCTAssertEqual(c.epochs, 3, "the flag wins over the file")
        XCTAssertEqual(c.lr, 0.05)
        XCTAssertEqual(c.weightDecay, 5e-4)
        XCTAssertEqual(c.alpha, .constant(0.7))
        XCTAssertEqual(c.beta, .schedule)
        XCTAssertEqual(c.lrMilestones, [0.3, 0.6, 0.9])
        XCTAssertTrue(c.augmentFlip)
        XCTAssertEqual(c.bssParameters, .official)
        XCTAssertEqual(c.seed, 42)
    }

    func testJSONConfig() throws {
        let file = write("run.json", #"{"epochs": 1, "nesterov": true, "bss_clip": [-1, 1], "bss_eta": 0.5, "student": "mlp:64-48-10"}"#)
        let c = try RunConfig.resolve(file: file, overrides: [])
        XCTAssertEqual(c.epochs, 1)
        XCTAssertTrue(c.nesterov)
        XCTAssertEqual(c.bssParameters.clip, -1...1)
        XCTAssertEqual(c.bssParameters.eta, 0.5)
        XCTAssertEqual(c.student, "mlp:64-48-10")
    }

    func testUnknownKeyNamesFileKeyAndSuggestion() {
        let file = write("run.yaml", "learning_rate: 0.1\n")
        XCTAssertThrowsError(try RunConfig.resolve(file: file, overrides: [])) { e in
            let s = "\(e)"
            XCTAssertTrue(s.hasPrefix(file + ": key 'learning_rate': unknown key"), s)
            XCTAssertFalse(s.contains("\n"))
        }
        let typo = write("typo.yaml", "bss_per_bach: 3\n")
        XCTAssertThrowsError(try RunConfig.resolve(file: typo, overrides: [])) { e in
            XCTAssertTrue("\(e)".contains("did you mean 'bss_per_batch'?"), "\(e)")
        }
        let json = write("run.json", #"{"epoch": 3}"#)
        XCTAssertThrowsError(try RunConfig.resolve(file: json, overrides: [])) { e in
            XCTAssertTrue("\(e)".contains("key 'epoch': unknown key (did you mean 'epochs'?)"), "\(e)")
        }
    }

    func testBadValuesSayWhatWasExpected() {
        let cases: [(String, String, String)] = [
            ("epochs", "0", "expected an integer >= 1, found '0'"),
            ("lr", "fast", "expected a number >= 0, found 'fast'"),
            ("method", "nst", "expected original, hinton, bss, fitnet, at, fsp or bss+fsp"),
            ("feature_pairs", "relu1", "expected a list of TEACHER_NODE:STUDENT_NODE pairs"),
            ("at_weight", "-1", "expected a number >= 0"),
            ("feature_losses", "at=x", "expected a list of terms KIND[=WEIGHT][@T:S;...] with KIND fitnet, at or fsp"),
            ("momentum", "1", "expected a number in [0, 1)"),
            ("train_fraction", "1.5", "expected a number in (0, 1]"),
            ("bss_clip", "3,1", "expected [lo, hi] with lo < hi"),
            ("alpha", "-1", "expected 'schedule' or a number >= 0"),
            ("data_layout", "chw", "expected nchw or nhwc"),
            ("label", "medium", "expected fine or coarse"),
        ]
        for (key, value, expected) in cases {
            let flag = "--" + key.replacingOccurrences(of: "_", with: "-")
            XCTAssertThrowsError(try RunConfig.resolve(file: nil, overrides: [(flag, key, .string(value))])) { e in
                XCTAssertEqual("\(e)".components(separatedBy: ": ").first, flag)
                XCTAssertTrue("\(e)".contains(expected), "\(e)")
            }
        }
        let file = write("bad.yaml", "epochs: [1, 2]\n")
        XCTAssertThrowsError(try RunConfig.resolve(file: file, overrides: [])) { e in
            XCTAssertEqual("\(e)", "\(file): key 'epochs': expected an integer >= 1, found [1, 2]")
        }
        let broken = write("broken.yaml", "epochs: [1, 2\n")
        XCTAssertThrowsError(try RunConfig.resolve(file: broken, overrides: [])) { e in
            XCTAssertTrue("\(e)".hasPrefix(broken + ": not valid YAML"), "\(e)")
        }
    }

    func testResolvedYAMLReadsBackEqual() throws {
        var c = RunConfig()
        c.teacher = "models/teacher \"quoted\".h5"
        c.student = "heo2019-resnet8"
        c.method = .bss
        c.bssMode = .official
        c.alpha = .constant(0.25)
        c.scale = 1.0 / 255
        c.normalize = "cifar10"
        c.seed = UInt64.max
        c.augmentCrop = 4
        c.augmentFlip = true
        c.trainFraction = 0.1
        c.weightDecay = 1e-4
        c.classes = 100
        let back = try RunConfig.parse(yaml: c.yaml, source: "resolved")
        XCTAssertEqual(back.yaml, c.yaml)
        XCTAssertEqual(back.teacher, c.teacher)
        XCTAssertEqual(back.seed, UInt64.max)
        XCTAssertEqual(back.bssParameters, c.bssParameters)
        XCTAssertEqual(back.alpha, .constant(0.25))
        XCTAssertEqual(back.scale, c.scale)
        // The written file is itself a valid --config.
        let file = write("resolved.yaml", c.yaml)
        XCTAssertEqual(try RunConfig.resolve(file: file, overrides: []).yaml, c.yaml)
    }

    /// A fresh preset student takes `classes`, else the teacher's count, else 10.
    func testFreshPresetStudentClassCount() throws {
        var c = RunConfig()
        c.student = "repdistiller-resnet8"
        XCTAssertEqual(try DistillRun.loadStudent(c, classes: nil).classes, 10)
        XCTAssertEqual(try DistillRun.loadStudent(c, classes: 7).classes, 7)
        c = try RunConfig.resolve(file: nil, overrides: [("--classes", "classes", .string("100")), ("--student", "student", .string("repdistiller-resnet8"))])
        XCTAssertEqual(c.classes, 100)
        XCTAssertThrowsError(try RunConfig.resolve(file: nil, overrides: [("--classes", "classes", .string("0"))])) { e in
            XCTAssertTrue("\(e)".contains("--classes"), "\(e)")
        }
    }

    func testSchedules() {
        var c = RunConfig()
        c.epochs = 80
        let w1 = c.weights(epoch: 1), w40 = c.weights(epoch: 40), w41 = c.weights(epoch: 41)
        let w60 = c.weights(epoch: 60), w61 = c.weights(epoch: 61), w80 = c.weights(epoch: 80)
        XCTAssertEqual(w1.alpha, Float(3 * (1 - 1.0 / 80) + 1), accuracy: 1e-6)
        XCTAssertEqual(w80.alpha, 1)
        XCTAssertEqual(w1.beta, Float(2 * (1 - 4.0 / 240)), accuracy: 1e-6)
        XCTAssertEqual(w60.beta, 0, "beta reaches 0 at 75% of the epochs")
        XCTAssertGreaterThan(c.weights(epoch: 59).beta, 0)
        XCTAssertEqual([w1.lr, w40.lr], [0.1, 0.1])
        XCTAssertEqual(w41.lr, 0.01, accuracy: 1e-9)
        XCTAssertEqual(w60.lr, 0.01, accuracy: 1e-9)
        XCTAssertEqual(w61.lr, 0.001, accuracy: 1e-9)
        c.method = .hinton
        XCTAssertEqual(c.weights(epoch: 1).beta, 0, "hinton has no BSS term")
        c.method = .original
        XCTAssertEqual(c.weights(epoch: 1).alpha, 0, "original has no KD term")
        c.method = .bss
        c.alpha = .constant(0.5)
        c.beta = .constant(3)
        XCTAssertEqual(c.weights(epoch: 80).alpha, 0.5)
        XCTAssertEqual(c.weights(epoch: 80).beta, 3)
    }
}
