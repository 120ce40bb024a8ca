import XCTest
import TestSupport
import NN
import Tensor

final class BatchNormTests: XCTestCase {
    /// A BatchNorm with non-trivial γ, β and running statistics.
    func makeBN(_ c: Int) -> BatchNorm {
        let bn = BatchNorm(channels: c)
        let bn_ = LayerCall(bn)
        bn.weight.value = GradientCheck.randomTensor([c], seed: 21)
        bn.bias.value = GradientCheck.randomTensor([c], seed: 22)
        bn.runningMean.value = GradientCheck.randomTensor([c], seed: 23)
        bn.runningVar.value = Tensor(shape: [c], data: GradientCheck.randomTensor([c], seed: 24).data.map { 1.2 + $0 })
        return bn
    }

    func testGradientsRank2() {
        let x = GradientCheck.randomTensor([6, 4], seed: 1)
        for mode in [Mode.training, .inference] {
            let report = GradientCheck.check(makeBN(4), inputs: [x], mode: mode)
            XCTAssertTrue(report.passed, "\(mode): \(report.description)")
        }
    }

    func testGradientsRank4() {
        let x = GradientCheck.randomTensor([3, 3, 4, 4], seed: 2)
        for mode in [Mode.training, .inference] {
            let report = GradientCheck.check(makeBN(3), inputs: [x], mode: mode)
            XCTAssertTrue(report.passed, "\(mode): \(report.description)")
        }
    }

    /// Hand-computed: channel 0 = [1, 2, 3, 4] (mean 2.5, biased var 1.25, unbiased 5/3),
    /// channel 1 = [2, 4, 6, 8] (mean 5, biased var 5, unbiased 20/3), momentum 0.1, eps 1e-5.
    func testRunningStatisticsUseUnbiasedVariance() {
        let bn = BatchNorm(channels: 2)
        let bn_ = LayerCall(bn)
        let x = Tensor(shape: [4, 2], data: [1, 2, 2, 4, 3, 6, 4, 8])
        let y = bn_.forward([x], mode: .training)
        // Normalisation uses the biased variance.
        let s0 = (1.25 + 1e-5 as Float).squareRoot(), s1 = (5 + 1e-5 as Float).squareRoot()
        assertAllClose(y.data, [-1.5 / s0, -3 / s1, -0.5 / s0, -1 / s1, 0.5 / s0, 1 / s1, 1.5 / s0, 3 / s1],
                       "training output")
        // running_mean = 0.9·0 + 0.1·mean, running_var = 0.9·1 + 0.1·unbiased.
        assertAllClose(bn.runningMean.value.data, [0.25, 0.5], "running_mean")
        assertAllClose(bn.runningVar.value.data, [0.9 + 0.1 * 5 / 3, 0.9 + 0.1 * 20 / 3], "running_var")
        XCTAssertEqual(bn.numBatchesTracked, 1)
        // Inference neither uses nor changes the batch statistics.
        let yi = bn_.forward([x], mode: .inference)
        assertAllClose(yi.data.prefix(2).map { $0 }, [(1 - 0.25) / (0.9 + 0.5 / 3 + 1e-5 as Float).squareRoot(),
                                                     (2 - 0.5) / (0.9 + 2 / 3 + 1e-5 as Float).squareRoot()], "inference output")
        XCTAssertEqual(bn.numBatchesTracked, 1)
        assertAllClose(bn.runningMean.value.data, [0.25, 0.5], "running_mean unchanged by inference")
    }

    /// torch 2.15 reference (/tmp script):
    ///     x = torch.arange(24.).reshape(2, 3, 2, 2); x = torch.sin(x * 1.7) * 2 + x * 0.1
    ///     bn = torch.nn.BatchNorm2d(3, momentum=0.2)
    ///     bn.weight = [1.5, -0.5, 2.0]; bn.bias = [0.1, 0.2, -0.3]
    ///     y = bn(x); bn.running_mean, bn.running_var; bn.eval(); bn(x)
    func testMatchesPyTorchRank4() {
        let x = Tensor(shape: [2, 3, 2, 2], data: [
            0.0, 2.083329677581787, -0.3110824227333069, -1.5516290664672852, 1.3882269859313965, 2.0969743728637695,
            -0.7997504472732544, -0.5362733006477356, 2.518324136734009, 1.6934808492660522, -0.9227949380874634,
            0.8020035028457642, 3.1995859146118164, 1.0827261209487915, -0.5435963869094849, 2.2181167602539062,
            3.3585453033447266, 0.528722882270813, 0.3432791233062744, 3.446654796600342, 3.0581655502319336,
            0.2806661128997803, 1.6106598377227783, 4.271201133728027])
        let bn = BatchNorm(channels: 3, momentum: 0.2)
        let bn_ = LayerCall(bn)
        bn.weight.value.data = [1.5, -0.5, 2.0]
        bn.bias.value.data = [0.1, 0.2, -0.3]
        let y = bn_.forward([x], mode: .training)
        assertAllClose(y.data, [
            -0.6575961709022522, 1.386383056640625, -0.9628027677536011, -2.179917812347412, 0.14775145053863525,
            -0.08379444479942322, 0.8625578880310059, 0.7764806151390076, 0.8139654994010925, -0.26151329278945923,
            -3.6727662086486816, -1.4238734245300293, 2.481555223464966, 0.40467917919158936, -1.1909250020980835,
            1.5186243057250977, -0.49594631791114807, 0.4285491704940796, 0.48913314938545227, -0.524731457233429,
            1.517842173576355, -2.103623390197754, -0.36950013041496277, 3.09946870803833], atol: 1e-5, "train output")
        assertAllClose(bn.runningMean.value.data, [0.15443627536296844, 0.2456595003604889, 0.3327926695346832], "running_mean")
        assertAllClose(bn.runningVar.value.data, [1.3342760801315308, 1.3353883028030396, 1.3377982378005981], "running_var")
        let yi = bn_.forward([x], mode: .inference)
        assertAllClose(yi.data, [
            -0.10054696351289749, 2.604811191558838, -0.5045105814933777, -2.115452527999878, -0.2943635582923889,
            -0.6010227799415588, 0.6523256301879883, 0.5383249521255493, 3.4791152477264404, 2.0528361797332764,
            -2.4711012840270996, 0.511336624622345, 4.054352760314941, 1.3054533004760742, -0.8064472079277039,
            2.7798421382904053, -1.1468764543533325, 0.07752475887537003, 0.15776215493679047, -1.1849995851516724,
            4.412582874298096, -0.3901347517967224, 1.9096260070800781, 6.510105133056641], atol: 1e-5, "eval output")
    }

    /// Inference-mode backward treats the statistics as constants: dx = dy · γ / √(running_var + eps),
    /// so one sample's gradient does not depend on the others (what BSS generation relies on).
    func testInferenceBackwardIsPerSample() {
        let bn = makeBN(2)
        let bn_ = LayerCall(bn)
        let x = GradientCheck.randomTensor([3, 2, 2, 2], seed: 5), dy = GradientCheck.randomTensor([3, 2, 2, 2], seed: 6)
        _ = bn_.forward([x], mode: .inference)
        let dx = bn_.backward(dy, parameterGradients: false)[0]
        var expected = [Float]()
        for i in 0..<dy.count {
            let c = (i / 4) % 2
            expected.append(dy.data[i] * bn.weight.value.data[c] / (bn.runningVar.value.data[c] + 1e-5).squareRoot())
        }
        assertAllClose(dx.data, expected, "inference dx")
        XCTAssertEqual(bn.weight.grad.data, [0, 0])   // parameterGradients: false
    }

    func testParametersAndShapes() throws {
        let bn = BatchNorm(channels: 3)
        let bn_ = LayerCall(bn)
        XCTAssertEqual(bn.parameters.map(\.name), ["weight", "bias", "running_mean", "running_var"])
        XCTAssertEqual(bn.parameters.map(\.isTrainable), [true, true, false, false])
        XCTAssertEqual(bn.parameterCount, 6)
        XCTAssertEqual(try bn.outputShape(for: [[3, 5, 5]]), [3, 5, 5])
        XCTAssertEqual(try bn.outputShape(for: [[3]]), [3])
        XCTAssertThrowsError(try bn.outputShape(for: [[4, 5, 5]]))
        XCTAssertThrowsError(try bn.outputShape(for: [[3], [3]]))
    }
}
