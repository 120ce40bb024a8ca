import Distill
import Foundation
import Tensor
import TestSupport
import XCTest

/// Augmentation, the stratified training subset and epoch batches.
final class DataHandlingTests: XCTestCase {
    /// One 1x3x3 image with values 1…9.
    let image = Tensor(shape: [1, 1, 3, 3], data: (1...9).map(Float.init))

    func testIdentityAugmentationLeavesImagesAndGeneratorAlone() {
        var a = Augmentation()
        var x = image
        var g = SeededGenerator(seed: 3)
        let before = g.state
        a.apply(&x, generator: &g)
        XCTAssertEqual(x, image)
        XCTAssertEqual(g.state, before)
    }

    func testCropShiftsWithZeroPaddingAndFlipMirrors() {
        // Find seeds that give particular offsets, and check the result against the definition.
        for seed in 0..<40 {
            var a = Augmentation(cropPadding: 1, flip: true)
            var x = image
            var g = SeededGenerator(seed: UInt64(seed))
            var probe = g
            let dy = probe.nextInt(below: 3) - 1, dx = probe.nextInt(below: 3) - 1, flip = probe.nextInt(below: 2) == 1
            a.apply(&x, generator: &g)
            XCTAssertEqual(g.state, probe.state, "three draws per image")
            var expected = [Float](repeating: 0, count: 9)
            for y in 0..<3 {
                for c in 0..<3 {
                    let sy = y + dy, sx = (flip ? 2 - c : c) + dx
                    if sy >= 0 && sy < 3 && sx >= 0 && sx < 3 { expected[y * 3 + c] = image.data[sy * 3 + sx] }
                }
            }
            XCTAssertEqual(x.data, expected, "seed \(seed): dy \(dy) dx \(dx) flip \(flip)")
        }
    }

    func testStratifiedFractionIsPerClassAndSeeded() {
        let labels = (0..<100).map { $0 < 60 ? 0 : ($0 < 90 ? 1 : 2) }   // 60 / 30 / 10
        var g1 = SeededGenerator(seed: 5), g2 = SeededGenerator(seed: 5), g3 = SeededGenerator(seed: 6)
        let a = DataSelection.stratified(labels: labels, fraction: 0.1, generator: &g1)
        let b = DataSelection.stratified(labels: labels, fraction: 0.1, generator: &g2)
        let c = DataSelection.stratified(labels: labels, fraction: 0.1, generator: &g3)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(a, a.sorted())
        XCTAssertEqual([0, 1, 2].map { k in a.filter { labels[$0] == k }.count }, [6, 3, 1])
        var g = SeededGenerator(seed: 1)
        XCTAssertEqual(DataSelection.stratified(labels: labels, fraction: 1, generator: &g), Array(0..<100))
    }

    func testBatchesCoverThePermutationAndDropAFinalSingleton() {
        var g = SeededGenerator(seed: 2)
        let batches = DataSelection.batches(count: 9, batchSize: 4, generator: &g)
        XCTAssertEqual(batches.map(\.count), [4, 4], "the last batch of one sample is dropped")
        var h = SeededGenerator(seed: 2)
        XCTAssertEqual(batches.flatMap { $0 }, Array(h.permutation(9).prefix(8)))
        var k = SeededGenerator(seed: 2)
        XCTAssertEqual(DataSelection.batches(count: 10, batchSize: 4, generator: &k).map(\.count), [4, 4, 2])
    }
}
