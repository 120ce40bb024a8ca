// Imports the bundled Keras digits teacher, generates 10 boundary supporting samples from the
// digits test set and prints a summary: the library calls `bss generate` makes, without the CLI.
//
//     swift run --package-path Examples DigitsBSS [FIXTURES_DIR]
//
// FIXTURES_DIR defaults to the repository's Fixtures folder (this package's parent's).
import Boundary
import Diagnostics
import Foundation
import ModelIO
import NN
import Tensor

let fixtures = CommandLine.arguments.dropFirst().first
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()   // Sources/DigitsBSS
        .appendingPathComponent("../../../Fixtures").standardized.path

do {
    // A Keras model file: the importer converts it to the engine's NCHW layout and says how.
    let teacher = try ModelLoader.load("\(fixtures)/digits/teacher-cnn.h5")
    print("teacher: \(teacher.architectureName), input \(teacher.graph.inputShape), \(teacher.classes) classes")
    for note in teacher.conversions { print("  converted: \(note)") }

    // The data in the layout the model was trained on, conformed to its input shape.
    let data = try DataLoader.load("\(fixtures)/digits/digits-test.npz", stored: teacher.inputLayout)
        .conformed(to: teacher.graph.inputShape, layout: teacher.inputLayout)
    try data.validate(inputShape: teacher.graph.inputShape, classes: teacher.classes)

    // Ten base samples the teacher classifies correctly, each with its runner-up class as target.
    let bases = PairSelection.baseSamples(teacher: teacher.graph, x: data.x, labels: data.y, filter: .correct,
                                          limit: 10, batchSize: 64)
    var generator = SeededGenerator(seed: 0)
    let pairs = PairSelection.pairs(rows: bases.rows, baseClass: bases.baseClass, logits: bases.logits,
                                    rule: .runnerUp, generator: &generator)

    // The search of Heo et al. (paper mode), batched over the pairs.
    let engine = BSSGenerator(teacher: teacher.graph, parameters: .paper)
    let result = engine.run(source: data.x, rows: pairs.baseIndex, base: pairs.baseClass, target: pairs.targetClass)

    print("generated \(pairs.count) BSS from \(bases.rows.count) base samples")
    for s in BSSStatus.allCases {
        let n = result.status.filter { $0 == s }.count
        if n > 0 { print("  \(s.meaning(in: .paper)): \(n)") }
    }
    for i in 0..<pairs.count {
        print(String(format: "  sample %3d: class %d -> %d, %2d steps, margin %.3f", pairs.baseIndex[i], pairs.baseClass[i],
                     pairs.targetClass[i], result.steps[i], result.margins[i]))
    }
} catch let e as UserFacingError {
    FileHandle.standardError.write(Data("DigitsBSS: error: \(e.oneLine)\n".utf8))
    exit(1)
}
