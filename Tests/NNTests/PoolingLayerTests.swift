import XCTest
import NN
import Tensor

final class PoolingLayerTests: XCTestCase {
    /// Random values made pairwise at least 0.05 apart (a shuffled ladder), so a finite-difference
    /// step of 1e-2 never changes which element of a max-pool window wins.
    func distinct(_ shape: [Int], seed: UInt64) -> Tensor {
        let r = GradientCheck.randomTensor(shape, seed: seed)
        let order = r.data.indices.sorted { r.data[$0] < r.data[$1] }
        var d = [Float](repeating: 0, count: r.count)
        for (rank, i) in order.enumerated() { d[i] = Float(rank) * 0.05 - Float(r.count) * 0.025 }
        return Tensor(shape: shape, data: d)
    }

    func shapeError(_ layer: Layer, _ shapes: [[Int]]) -> String {
        do { _ = try layer.outputShape(for: shapes); return "no error" } catch let NNError.shape(_, msg) {
            return msg
        } catch { return "\(error)" }
    }

    // MARK: MaxPool2D

    func testMaxPoolByHand() throws {
        let pool = MaxPool2D(kernel: (2, 2))
        let pool_ = LayerCall(pool)
        // One 4x4 plane; windows are the four 2x2 quadrants.
        let x = Tensor(shape: [1, 1, 4, 4], data: [1, 5, 2, 0,
                                                   3, 4, 9, 9,
                                                   -1, -2, 7, 6,
                                                   -3, -4, 6, 8])
        let y = pool_.forward([x], mode: .inference)
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y.data, [5, 9, -1, 8])
        // The tie (9, 9) sends the gradient to the first maximum in row-major window order.
        let dx = pool_.backward(Tensor(shape: [1, 1, 2, 2], data: [10, 20, 30, 40]), parameterGradients: true)[0]
        XCTAssertEqual(dx.data, [0, 10, 0, 0,
                                 0, 0, 20, 0,
                                 30, 0, 0, 0,
                                 0, 0, 0, 40])
        XCTAssertEqual(pool.kind, "MaxPool2D")
        XCTAssertEqual(pool.summary, "2x2")
        XCTAssertEqual(try pool.outputShape(for: [[3, 5, 5]]), [3, 2, 2])
    }

    func testMaxPoolPaddingIsMinusInfinity() {
        // All-negative input: zero padding would win every border window; −∞ padding never does.
        let pool = MaxPool2D(kernel: (3, 3), stride: (2, 2), padding: Padding2D(symmetric: 1, 1))
        let pool_ = LayerCall(pool)
        let x = Tensor(shape: [1, 1, 3, 3], data: [-1, -2, -3, -4, -5, -6, -7, -8, -9])
        let y = pool_.forward([x], mode: .inference)
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y.data, [-1, -2, -4, -5])
        // Keras 'same' for a 2x2 stride-2 pool on an odd input pads bottom/right only.
        let same = MaxPool2D(kernel: (2, 2), padding: Padding2D(top: 0, bottom: 1, left: 0, right: 1))
        XCTAssertEqual(same.forward([x], mode: .inference).data, [-1, -3, -7, -9])
    }

    func testMaxPoolGradients() {
        for (k, s, p) in [((2, 2), nil, Padding2D.zero), ((3, 3), (2, 2), Padding2D(symmetric: 1, 1)),
                          ((3, 2), (2, 1), Padding2D(top: 0, bottom: 1, left: 1, right: 0)),
                          ((2, 2), (2, 2), Padding2D(top: 0, bottom: 1, left: 0, right: 1))] as [((Int, Int), (Int, Int)?, Padding2D)] {
            let pool = MaxPool2D(kernel: k, stride: s, padding: p)
            let pool_ = LayerCall(pool)
            let report = GradientCheck.check(pool, inputs: [distinct([2, 3, 7, 5], seed: 3)])
            XCTAssertTrue(report.passed, "kernel \(k) stride \(String(describing: s)) padding \(p): \(report.description)")
        }
    }

    func testMaxPoolShapeErrors() {
        let pool = MaxPool2D(kernel: (3, 3))
        let pool_ = LayerCall(pool)
        XCTAssertTrue(shapeError(pool, [[3, 2, 5]]).contains("larger than the padded input 2x5"), shapeError(pool, [[3, 2, 5]]))
        XCTAssertTrue(shapeError(pool, [[10]]).contains("[C, H, W]"))
        let wide = MaxPool2D(kernel: (2, 2), padding: Padding2D(symmetric: 2, 0))
        XCTAssertTrue(shapeError(wide, [[1, 8, 8]]).contains("smaller than the kernel"))
    }

    // MARK: AvgPool2D

    func testAvgPoolCountIncludePad() {
        // 3x3 input, 2x2 stride-2 windows with Keras 'same' padding (bottom, right).
        let x = Tensor(shape: [1, 1, 3, 3], data: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let pad = Padding2D(top: 0, bottom: 1, left: 0, right: 1)
        let torch = AvgPool2D(kernel: (2, 2), padding: pad)
        let torch_ = LayerCall(torch)
        let keras = AvgPool2D(kernel: (2, 2), padding: pad, countIncludePad: false)
        let keras_ = LayerCall(keras)
        // Windows: {1,2,4,5}, {3,6,pad,pad}, {7,8,pad,pad}, {9,pad,pad,pad}.
        XCTAssertEqual(torch_.forward([x], mode: .inference).data, [3, 9.0 / 4, 15.0 / 4, 9.0 / 4])
        XCTAssertEqual(keras_.forward([x], mode: .inference).data, [3, 4.5, 7.5, 9])
        let dy = Tensor(shape: [1, 1, 2, 2], data: [4, 8, 12, 16])
        XCTAssertEqual(torch_.backward(dy, parameterGradients: true)[0].data, [1, 1, 2, 1, 1, 2, 3, 3, 4])
        XCTAssertEqual(keras_.backward(dy, parameterGradients: true)[0].data, [1, 1, 4, 1, 1, 4, 6, 6, 16])
        XCTAssertEqual(keras.kind, "AvgPool2D")
        XCTAssertEqual(keras.summary, "2x2, padding t0 b1 l0 r1, padding not counted")
    }

    func testAvgPoolGradients() {
        for include in [true, false] {
            for (k, s, p) in [((2, 2), nil, Padding2D.zero), ((3, 3), (2, 2), Padding2D(symmetric: 1, 1)),
                              ((3, 3), (2, 2), Padding2D(top: 0, bottom: 1, left: 0, right: 1))] as [((Int, Int), (Int, Int)?, Padding2D)] {
                let pool = AvgPool2D(kernel: k, stride: s, padding: p, countIncludePad: include)
                let pool_ = LayerCall(pool)
                let report = GradientCheck.check(pool, inputs: [GradientCheck.randomTensor([2, 3, 7, 6], seed: 4)])
                XCTAssertTrue(report.passed, "include \(include) kernel \(k) padding \(p): \(report.description)")
            }
        }
    }

    // MARK: GlobalAvgPool

    func testGlobalAvgPool() throws {
        let gap = GlobalAvgPool()
        let gap_ = LayerCall(gap)
        let x = Tensor(shape: [2, 2, 1, 3], data: [1, 2, 3, 4, 5, 6, -3, 0, 0, 9, 9, 9])
        let y = gap_.forward([x], mode: .inference)
        XCTAssertEqual(y.shape, [2, 2])
        XCTAssertEqual(y.data, [2, 5, -1, 9])
        XCTAssertEqual(gap_.backward(Tensor(shape: [2, 2], data: [3, 6, 9, 12]), parameterGradients: true)[0].data,
                       [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4])
        XCTAssertEqual(try gap.outputShape(for: [[16, 8, 8]]), [16])
        XCTAssertTrue(shapeError(gap, [[16]]).contains("[C, H, W]"))
        let report = GradientCheck.check(gap, inputs: [GradientCheck.randomTensor([2, 3, 5, 4], seed: 5)])
        XCTAssertTrue(report.passed, report.description)
    }

    // MARK: Flatten

    func testFlattenKeepsMemoryOrder() throws {
        let x = Tensor(shape: [1, 2, 2, 3], data: (0..<12).map(Float.init))
        let flatten = Flatten()
        XCTAssertEqual(flatten.forward([x], mode: .inference), Tensor(shape: [1, 12], data: x.data))
        XCTAssertEqual(try flatten.outputShape(for: [[2, 2, 3]]), [12])
        XCTAssertEqual(try flatten.outputShape(for: [[5]]), [5])
        let report = GradientCheck.check(flatten, inputs: [GradientCheck.randomTensor([2, 3, 2, 5], seed: 6)])
        XCTAssertTrue(report.passed, report.description)
    }

    // MARK: Permute

    /// Permute [1, 2, 0] then Flatten is a channels-last flatten: y[(3h + w)·2 + c] = x[c, h, w].
    func testPermuteToChannelsLastThenFlatten() throws {
        // x[c, h, w] = 6c + 3h + w for C = 2, H = 2, W = 3.
        let x = Tensor(shape: [1, 2, 2, 3], data: (0..<12).map(Float.init))
        let permute = Permute(dims: [1, 2, 0])
        XCTAssertEqual(try permute.outputShape(for: [[2, 2, 3]]), [2, 3, 2])
        let call = LayerCall(permute)
        let y = call.forward([x], mode: .inference)
        XCTAssertEqual(y.shape, [1, 2, 3, 2])
        XCTAssertEqual(Flatten().forward([y], mode: .inference).data, [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11])
        // Backward is the inverse permutation.
        XCTAssertEqual(call.backward(y, parameterGradients: true)[0], x)
        XCTAssertTrue(shapeError(permute, [[12]]).contains("3 axes"), shapeError(permute, [[12]]))
        XCTAssertEqual(permute.kind, "Permute")
        XCTAssertFalse(Permute.isPermutation([0, 0, 1]))
        XCTAssertFalse(Permute.isPermutation([1, 2]))
        XCTAssertTrue(Permute.isPermutation([0]))
    }

    /// Every element lands where the index formula says, for several ranks and orders, and
    /// permuting back with the inverse restores the input.
    func testPermuteMatchesIndexFormula() throws {
        let cases: [([Int], [Int])] = [([2, 3, 4], [2, 0, 1]), ([2, 3, 4], [0, 2, 1]), ([3, 5], [1, 0]), ([2, 3, 2, 2], [3, 1, 0, 2]), ([7], [0])]
        for (shape, dims) in cases {
            let count = shape.reduce(1, *)
            let x = Tensor(shape: [2] + shape, data: (0..<(2 * count)).map(Float.init))
            let y = Permute(dims: dims).forward([x], mode: .inference)
            let out = dims.map { shape[$0] }
            XCTAssertEqual(y.shape, [2] + out)
            func strides(_ s: [Int]) -> [Int] { (0..<s.count).map { a in s[(a + 1)...].reduce(1, *) } }
            let inStride = strides(shape), outStride = strides(out)
            for n in 0..<2 {
                for j in 0..<count {
                    // Output multi-index from j, then the input index with i[dims[k]] = j_k.
                    var i = [Int](repeating: 0, count: shape.count)
                    for k in 0..<out.count { i[dims[k]] = (j / outStride[k]) % out[k] }
                    let source = zip(i, inStride).map { $0 * $1 }.reduce(0, +)
                    XCTAssertEqual(y.data[n * count + j], x.data[n * count + source], "\(shape) \(dims) at \(j)")
                }
            }
            var inverse = [Int](repeating: 0, count: dims.count)
            for (k, d) in dims.enumerated() { inverse[d] = k }
            XCTAssertEqual(Permute(dims: inverse).forward([y], mode: .inference), x, "\(dims) then its inverse")
        }
    }

    func testPermuteGradient() throws {
        for (shape, dims) in [([3, 2, 5], [1, 2, 0]), ([3, 2, 5], [2, 0, 1]), ([4, 3], [1, 0])] {
            let report = GradientCheck.check(Permute(dims: dims), inputs: [GradientCheck.randomTensor([2] + shape, seed: 6)])
            XCTAssertTrue(report.passed, "\(dims): \(report.description)")
        }
    }

    // MARK: ShortcutA

    func testShortcutAByHand() throws {
        let sc = ShortcutA(outChannels: 4, stride: 2)
        let sc_ = LayerCall(sc)
        // Two channels of 3x3: x[c] = 10c + (0...8); keep rows/cols 0 and 2.
        let x = Tensor(shape: [1, 2, 3, 3], data: (0..<9).map(Float.init) + (10..<19).map(Float.init))
        let y = sc_.forward([x], mode: .inference)
        XCTAssertEqual(y.shape, [1, 4, 2, 2])
        XCTAssertEqual(y.data, [0, 2, 6, 8, 10, 12, 16, 18, 0, 0, 0, 0, 0, 0, 0, 0])
        let dy = Tensor(shape: [1, 4, 2, 2], data: (1...16).map(Float.init))
        // The appended channels' gradient (9...16) goes nowhere.
        XCTAssertEqual(sc_.backward(dy, parameterGradients: true)[0].data,
                       [1, 0, 2, 0, 0, 0, 3, 0, 4,
                        5, 0, 6, 0, 0, 0, 7, 0, 8])
        XCTAssertEqual(try ShortcutA(outChannels: 32, stride: 2).outputShape(for: [[16, 32, 32]]), [32, 16, 16])
        XCTAssertEqual(try sc.outputShape(for: [[2, 5, 5]]), [4, 3, 3])
        XCTAssertEqual(try ShortcutA(outChannels: 16, stride: 1).outputShape(for: [[16, 5, 5]]), [16, 5, 5])
        XCTAssertTrue(shapeError(sc, [[8, 4, 4]]).contains("cannot shrink 8 channels to 4"))
        XCTAssertEqual(sc.kind, "ShortcutA")
        let report = GradientCheck.check(sc, inputs: [GradientCheck.randomTensor([2, 3, 5, 4], seed: 7)])
        XCTAssertTrue(report.passed, report.description)
    }

    func testShortcutAZeroChannelsOnBothSides() throws {
        // 2 channels into 6: 2 zero channels before, 2 after (F.pad(..., (0, 0, 0, 0, 2, 2))).
        let sc = ShortcutA(outChannels: 6, stride: 2, padBefore: 2)
        let sc_ = LayerCall(sc)
        let x = Tensor(shape: [1, 2, 3, 3], data: (0..<9).map(Float.init) + (10..<19).map(Float.init))
        let y = sc_.forward([x], mode: .inference)
        XCTAssertEqual(y.shape, [1, 6, 2, 2])
        XCTAssertEqual(y.data, [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 6, 8, 10, 12, 16, 18, 0, 0, 0, 0, 0, 0, 0, 0])
        let dy = Tensor(shape: [1, 6, 2, 2], data: (1...24).map(Float.init))
        // Only channels 2 and 3 of dy (values 9...16) reach the input.
        XCTAssertEqual(sc_.backward(dy, parameterGradients: true)[0].data,
                       [9, 0, 10, 0, 0, 0, 11, 0, 12,
                        13, 0, 14, 0, 0, 0, 15, 0, 16])
        XCTAssertEqual(try sc.outputShape(for: [[2, 5, 5]]), [6, 3, 3])
        XCTAssertTrue(shapeError(sc, [[5, 4, 4]]).contains("cannot put 2 zero channels before 5 channels within 6"))
        XCTAssertEqual(ShortcutA(outChannels: 4, stride: 2).padBefore, 0)
        for (stride, before) in [(2, 1), (1, 3), (3, 2)] {
            let layer = ShortcutA(outChannels: 6, stride: stride, padBefore: before)
            let report = GradientCheck.check(layer, inputs: [GradientCheck.randomTensor([2, 3, 5, 4], seed: 11)])
            XCTAssertTrue(report.passed, "stride \(stride), before \(before): \(report.description)")
        }
    }

    // MARK: ZeroPad2D

    func testZeroPad2D() throws {
        let zp = ZeroPad2D(padding: Padding2D(top: 0, bottom: 1, left: 2, right: 0))
        let zp_ = LayerCall(zp)
        let x = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
        let y = zp_.forward([x], mode: .inference)
        XCTAssertEqual(y.shape, [1, 1, 3, 4])
        XCTAssertEqual(y.data, [0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0])
        XCTAssertEqual(zp_.backward(Tensor(shape: [1, 1, 3, 4], data: (1...12).map(Float.init)), parameterGradients: true)[0].data,
                       [3, 4, 7, 8])
        XCTAssertEqual(try zp.outputShape(for: [[3, 5, 5]]), [3, 6, 7])
        XCTAssertTrue(shapeError(zp, [[3, 5]]).contains("[C, H, W]"))
        XCTAssertEqual(zp.kind, "ZeroPad2D")
        let report = GradientCheck.check(zp, inputs: [GradientCheck.randomTensor([2, 2, 3, 4], seed: 8)])
        XCTAssertTrue(report.passed, report.description)
    }
}
