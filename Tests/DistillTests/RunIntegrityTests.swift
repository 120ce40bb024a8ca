import Distill
import Foundation
import ModelIO
import Tensor
import TestSupport
import XCTest

/// Runs that cannot be silently wrong: checkpoints carry SHA-256 digests of their arrays and
/// config (a re-packed checkpoint is refused), a copied run folder resumes into the copy, a new
/// run does not replace an earlier run's files, side files are named from the whole output
/// name, and a non-finite loss stops training with the epoch and step.
final class RunIntegrityTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("run-integrity") }
    override func tearDown() {
        NonFinite.allowed = false
        try? FileManager.default.removeItem(at: dir)
    }

    func sub(_ name: String) -> URL {
        let u = dir.appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// One epoch of a two-epoch run in `d`, checkpointed.
    @discardableResult
    func interruptedRun(_ d: URL, configure: (inout RunConfig) -> Void = { _ in }) throws -> DistillRun {
        var c = DistillFixtures.digitsConfig(d, method: .hinton, epochs: 2, fraction: 0.1)
        configure(&c)
        let run = try DistillRun.prepare(c)
        try run.writeConfig()
        try run.distiller.run(stopAfter: 1, onEpoch: { _ in try run.endEpoch(createdBy: "test") })
        return run
    }

    func testCheckpointRepackedWithOtherWeightsIsRefused() throws {
        let d = sub("repacked")
        let run = try interruptedRun(d)
        let url = run.artifacts.checkpoint
        let original = try Npz.read(url)
        var entries = original
        let i = entries.firstIndex { $0.key.hasPrefix("student.") && $0.key.hasSuffix(".weight") }!
        let key = entries[i].key
        var w = try entries[i].array.floats()
        w[0] += 1
        entries[i].array = NumpyArray(float32s: w, shape: entries[i].array.shape)
        try Npz.write(entries, to: url)
        XCTAssertThrowsError(try DistillRun.resume(from: d.path)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains(key) && s.contains("SHA-256") && s.contains("re-packed"), s)
            XCTAssertFalse(s.contains("\n"), s)
        }
        // A member added after writing is refused too.
        entries = original
        entries.append(("student.extra", NumpyArray(float32s: [1], shape: [1])))
        try Npz.write(entries, to: url)
        XCTAssertThrowsError(try DistillRun.resume(from: d.path)) { e in
            XCTAssertTrue("\(e)".contains("student.extra"), "\(e)")
        }
    }

    func testCheckpointWithEditedConfigIsRefused() throws {
        let d = sub("edited")
        let run = try interruptedRun(d)
        let url = run.artifacts.checkpoint
        var entries = try Npz.read(url)
        let meta = entries[0].array.stringValue!
        XCTAssertTrue(meta.contains("lr: 0.1"), meta)
        entries[0].array = NumpyArray(string: meta.replacingOccurrences(of: "lr: 0.1", with: "lr: 0.2"))
        try Npz.write(entries, to: url)
        XCTAssertThrowsError(try DistillRun.resume(from: d.path)) { e in
            XCTAssertTrue("\(e)".contains("config_yaml") && "\(e)".contains("SHA-256"), "\(e)")
        }
    }

    func testCopiedRunFolderResumesIntoTheCopy() throws {
        let original = sub("original")
        let data = original.appendingPathComponent("train.npz")
        try FileManager.default.copyItem(atPath: DistillFixtures.train, toPath: data.path)
        try interruptedRun(original) { $0.data = data.path }
        let copy = dir.appendingPathComponent("copy")
        try FileManager.default.copyItem(at: original, to: copy)
        let originalCheckpoint = try Data(contentsOf: original.appendingPathComponent("student.npz.checkpoint.npz"))
        // The original's data is gone: the copy must read its own.
        try FileManager.default.removeItem(at: data)

        let (resumed, _) = try DistillRun.resume(from: copy.path)
        XCTAssertEqual(resumed.config.out, copy.appendingPathComponent("student.npz").path)
        XCTAssertEqual(resumed.config.data, copy.appendingPathComponent("train.npz").path)
        XCTAssertEqual(resumed.config.teacher, DistillFixtures.teacherWeights, "paths outside the run folder stay")
        try resumed.distiller.run(onEpoch: { _ in try resumed.endEpoch(createdBy: "test") })
        try resumed.export()
        XCTAssertTrue(FileManager.default.fileExists(atPath: copy.appendingPathComponent("student.npz").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: original.appendingPathComponent("student.npz").path))
        XCTAssertEqual(try Data(contentsOf: original.appendingPathComponent("student.npz.checkpoint.npz")), originalCheckpoint,
                       "the original run folder is untouched")
    }

    func testNewRunRefusesToReplaceAnEarlierRun() throws {
        let d = sub("existing")
        let run = try interruptedRun(d)
        XCTAssertThrowsError(try DistillRun.checkNoExistingRun(run.config)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("--resume") && s.contains("--overwrite") && s.contains("student.npz"), s)
        }
        var other = run.config
        other.out = d.appendingPathComponent("student.h5").path
        XCTAssertNoThrow(try DistillRun.checkNoExistingRun(other), "another output name is another run")
    }

    func testSideFilesAreNamedFromTheWholeOutputName() {
        let a = RunArtifacts(output: "/runs/s.npz"), b = RunArtifacts(output: "/runs/s.h5")
        XCTAssertEqual(a.config.path, "/runs/s.npz.config.yaml")
        XCTAssertEqual(a.checkpoint.path, "/runs/s.npz.checkpoint.npz")
        XCTAssertEqual(b.metrics.path, "/runs/s.h5.metrics.jsonl")
        XCTAssertEqual(b.curves.path, "/runs/s.h5.curves.svg")
        XCTAssertTrue(Set(a.all.map(\.path)).isDisjoint(with: b.all.map(\.path)))
    }

    /// Inputs that are NaN (let through on purpose) make the loss NaN at the first step: the run
    /// stops with one line naming the epoch and step, and writes no checkpoint.
    func testNonFiniteLossStopsTheRunWithEpochAndStep() throws {
        let d = sub("nan")
        var entries = try Npz.read(URL(fileURLWithPath: DistillFixtures.train))
        let i = entries.firstIndex { $0.key == "x" }!
        let x = try entries[i].array.floats()
        entries[i].array = NumpyArray(float32s: x.map { _ in Float.nan }, shape: entries[i].array.shape)
        let data = d.appendingPathComponent("nan.npz")
        try Npz.write(entries, to: data)
        var c = DistillFixtures.digitsConfig(d, method: .original, epochs: 1, fraction: 0.1)
        c.data = data.path
        c.val = nil
        XCTAssertThrowsError(try DistillRun.prepare(c)) { e in
            XCTAssertTrue("\(e)".contains("nan.npz: x:") && "\(e)".contains("--allow-nonfinite"), "\(e)")
        }
        NonFinite.allowed = true
        let run = try DistillRun.prepare(c)
        XCTAssertThrowsError(try run.distiller.run(onEpoch: { _ in try run.endEpoch(createdBy: "test") })) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("epoch 1, step 1 of") && s.contains("loss is nan"), s)
            XCTAssertFalse(s.contains("\n"), s)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.artifacts.checkpoint.path))
    }
}
