import Distill
import Foundation
import ModelIO
import NN
import Tensor
import TestSupport
import XCTest

/// Training on data decoded on demand (`SampleSource`, a bounded cache) gives the student of
/// training on the same data held whole, bit for bit: image folders (one image per cache
/// block) and downsampled ImageNet batches (one file per block), with a cache too small to
/// keep anything and through `DistillRun` with a `train_fraction` subset.
final class StreamedTrainingTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("distill-streamed") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// BSS distillation of a fresh MLP from the 1000-class 3x32x32 tiny teacher.
    func config(_ data: String, name: String, fraction: Double = 1) -> RunConfig {
        var c = RunConfig()
        c.teacher = fixture("datasets/tiny-c1000.npz")
        c.teacherArch = fixture("datasets/tiny-c1000.json")
        c.student = "mlp:3072-8-1000"
        c.data = data
        c.val = data
        c.out = dir.appendingPathComponent(name).appendingPathComponent("student.npz").path
        c.method = .bss
        c.epochs = 2
        c.batchSize = 4
        c.bssPerBatch = 2
        c.trainFraction = fraction
        c.evalBatchSize = 3
        c.seed = 11
        return c
    }

    func train(_ d: Distiller) throws -> [(String, [Float])] {
        try d.run()
        return d.student.stateDictParameters().map { ($0.key, $0.parameter.value.data) }
    }

    func assertSame(_ a: [(String, [Float])], _ b: [(String, [Float])], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x.1, y.1, "\(what) \(x.0): differs", file: file, line: line) }
    }

    func testOnDemandDecodingTrainsTheSameStudentAsTheWholeSet() throws {
        for (i, data) in [fixture("images/folder"), fixture("datasets/imagenet32")].enumerated() {
            let c = config(data, name: "run\(i)")
            let a = try DistillRun.prepare(c), b = try DistillRun.prepare(c)
            let teacher = a.distiller.teacher!
            // The whole-set path: DataLoader.load, as before on-demand decoding existed.
            let whole = try DataLoader.load(data, stored: .nchw, options: .init(channels: 3))
            let wholeRun = try Distiller(config: c, teacher: teacher, student: a.distiller.student, train: whole,
                                         val: whole.conformed(to: [3072], layout: .nchw))
            // On demand, with a cache smaller than one block: every batch decodes again.
            func tiny() throws -> SampleSource {
                try SampleSource.open(data, stored: .nchw, channels: 3, inputShape: [3, 32, 32], layout: .nchw, cacheBytes: 1000)
            }
            let lazyRun = try Distiller(config: c, teacher: teacher, student: b.distiller.student, train: try tiny(),
                                        val: try SampleSource.open(data, stored: .nchw, channels: 3, inputShape: [3072],
                                                                   layout: .nchw, cacheBytes: 1000))
            XCTAssertTrue(lazyRun.train.isLazy)
            assertSame(try train(wholeRun), try train(lazyRun), data)
            XCTAssertEqual(wholeRun.history.map(\.valAccuracy), lazyRun.history.map(\.valAccuracy))
            XCTAssertEqual(wholeRun.history.map(\.loss), lazyRun.history.map(\.loss))
            XCTAssertGreaterThan(lazyRun.train.cacheStatistics!.decoded, 0)
        }
    }

    func testDistillRunOnImagesEqualsTheRunOnTheirArrays() throws {
        // The image folder as .npz arrays (what `bss data convert` writes), read whole.
        let npz = dir.appendingPathComponent("folder.npz")
        try DataWriter.write(try DataLoader.read(fixture("images/folder"), options: .init(channels: 3)), to: npz)
        let images = try DistillRun.prepare(config(fixture("images/folder"), name: "images", fraction: 0.7))
        let arrays = try DistillRun.prepare(config(npz.path, name: "arrays", fraction: 0.7))
        XCTAssertTrue(images.distiller.train.isLazy)
        XCTAssertFalse(arrays.distiller.train.isLazy)
        XCTAssertEqual(images.distiller.train.count, arrays.distiller.train.count)
        XCTAssertEqual(images.distiller.train.y, arrays.distiller.train.y)
        assertSame(try train(images.distiller), try train(arrays.distiller), "images vs arrays")
    }

    func testColourImagesAreConvertedForAOneChannelTeacher() throws {
        // The 1-channel 8x8 digits teacher and its flat student: colour images become gray as
        // Pillow's convert("L") (before resizing), for the training and the validation set.
        var c = config(fixture("images/folder"), name: "gray")
        c.method = .hinton
        c.teacher = fixture("digits/teacher-cnn.h5"); c.teacherArch = nil
        c.student = fixture("distill/digits-student-mlp.npz"); c.studentArch = "mlp:64-48-10"
        c.imageSize = "8,8"
        let run = try DistillRun.prepare(c)
        XCTAssertEqual(run.distiller.train.sampleShape, [1, 8, 8])
        XCTAssertEqual(run.distiller.train.grayConverted, 5)
        XCTAssertEqual(run.distiller.val?.sampleShape, [64])
        let expected = try DataLoader.load(fixture("images/folder"), stored: .nchw,
                                           options: .init(imageSize: .init(height: 8, width: 8), channels: 1))
        XCTAssertEqual(try run.distiller.train.gather(Array(0..<7)).data, expected.x.data)
        try run.distiller.run()
    }
}
