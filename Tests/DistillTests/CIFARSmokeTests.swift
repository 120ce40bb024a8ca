import Distill
import Foundation
import ModelIO
import NN
import Tensor
import TestSupport
import XCTest

/// The CIFAR-10 recipe's path (docs/cifar10-recipe.md) on a few synthetic CIFAR-shaped samples:
/// a `heo2019-resnet26` teacher (the random-weight fixture), a fresh `heo2019-resnet8` student, the
/// CIFAR-10 binary batch format, `--normalize cifar10`, crop + flip augmentation, BSS, one
/// epoch, export to a state dict with the PyTorch module's keys.
final class CIFARSmokeTests: XCTestCase {
    func testResNet26ToResNet8OneEpoch() throws {
        let dir = temporaryDirectory("distill-cifar")
        defer { try? FileManager.default.removeItem(at: dir) }
        // data_batch_1.bin: records of 1 label byte + 3072 pixel bytes (CHW).
        var g = SeededGenerator(seed: 4)
        var bytes = [UInt8]()
        let n = 12
        for i in 0..<n {
            bytes.append(UInt8(i % 10))
            for _ in 0..<3072 { bytes.append(UInt8(g.nextInt(below: 256))) }
        }
        let batch = dir.appendingPathComponent("data_batch_1.bin")
        try Data(bytes).write(to: batch)
        // Label every sample with the teacher's own class, so base samples exist (wherever the
        // fresh student agrees) and the BSS path runs through the ResNet26.
        let teacher = try ModelLoader.load(fixture("torch/cifar-resnet26.npz"), arch: "heo2019-resnet26")
        let images = try DataLoader.load(batch.path, stored: .nchw, preprocessing: try .normalization("cifar10"))
        for (i, k) in argmax(rows: teacher.graph.predict(images.x)).enumerated() { bytes[i * 3073] = UInt8(k) }
        try Data(bytes).write(to: batch)

        var c = RunConfig()
        c.teacher = fixture("torch/cifar-resnet26.npz")
        c.teacherArch = "heo2019-resnet26"
        c.student = "heo2019-resnet8"
        c.data = batch.path
        c.val = batch.path
        c.normalize = "cifar10"
        c.out = dir.appendingPathComponent("resnet8.npz").path
        c.epochs = 1
        c.batchSize = 6
        c.bssPerBatch = 4
        c.augmentCrop = 4
        c.augmentFlip = true
        c.beta = .constant(2)
        c.seed = 3
        // Two worker threads: the convolutions split each batch between them.
        let threads = Parallel.threads
        Parallel.threads = 2
        defer { Parallel.threads = threads }
        let run = try DistillRun.prepare(c)
        XCTAssertEqual([run.distiller.train.count] + run.distiller.train.sampleShape, [n, 3, 32, 32])
        try run.writeConfig()
        try run.distiller.run(onEpoch: { _ in try run.endEpoch(createdBy: "test") })
        try run.export()
        // The same seed and thread count: the same student, bit for bit.
        var again = c
        again.out = dir.appendingPathComponent("again.npz").path
        let second = try DistillRun.prepare(again)
        try second.distiller.run()
        try second.export()
        XCTAssertEqual(try Npz.read(URL(fileURLWithPath: again.out!)).map(\.array),
                       try Npz.read(URL(fileURLWithPath: c.out!)).map(\.array))
        let m = run.distiller.history[0]
        XCTAssertEqual(m.samples, n)
        XCTAssertTrue([m.loss, m.ce, m.kd, m.kdBSS].allSatisfy(\.isFinite), "\(m)")
        XCTAssertNotNil(m.valAccuracy)
        let keys = try Npz.read(URL(fileURLWithPath: c.out!)).map(\.key)
        let torch = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture("distill/state-dict-keys.json")))) as! [String: [[Any]]]
        XCTAssertEqual(keys, torch["heo2019-resnet8"]!.map { $0[0] as! String })
        for f in [run.artifacts.config, run.artifacts.metrics, run.artifacts.curves, run.artifacts.checkpoint] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: f.path), f.lastPathComponent)
        }
    }
}
